"""Invoices tie out to the minor unit, and every posting they produce balances.

Lines are rounded once (tax included) and totals are sums of rounded lines, so
`total == subtotal + tax` exactly. Finalisation, credit notes and write-offs
are pure functions; their ledger postings are checked against the invoice's
own figures account by account.
"""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accrue.catalog.model import TaxBehavior
from accrue.invoicing.model import (
    BillingReason,
    CreditNote,
    CreditNoteReason,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineCharge,
    credit,
    finalize,
    mark_uncollectible,
    new_invoice,
    numbered,
    taxed,
    void,
)
from accrue.invoicing.postings import (
    credit_note_posting,
    customer_credit,
    finalization_posting,
    receivable,
    write_off_posting,
)
from accrue.invoicing.tax import TaxRate
from accrue.kernel.errors import AmountOutOfRange, CurrencyMismatch, InvalidState, ValidationFailed
from accrue.kernel.rounding import DEFAULT_RULE, MAX_ROUNDING_ERROR
from accrue.ledger.model import AccountRef, PostingRequest, net_balances

NOW = datetime(2026, 3, 1, tzinfo=UTC)
EXCLUSIVE, INCLUSIVE = TaxBehavior.EXCLUSIVE, TaxBehavior.INCLUSIVE
VAT_19 = TaxRate("DE", Fraction(19, 100), "VAT")
props = settings(max_examples=150, deadline=None)


def charge(amount: int, behavior: TaxBehavior = EXCLUSIVE) -> LineCharge:
    return LineCharge(
        description=f"charge of {amount}",
        price_id="price_1",
        subscription_id="",
        quantity=1,
        unit_amount_minor=amount,
        amount_minor=amount,
        tax_behavior=behavior,
        period_start=None,
        period_end=None,
        proration=False,
        fraction=Fraction(1),
        full_period_amount_minor=amount,
        unrounded=Fraction(amount),
        rounding=DEFAULT_RULE.value,
        explanation="manual",
    )


def draft(lines: list[InvoiceLine], currency: str = "USD") -> Invoice:
    return new_invoice(
        id="in_1",
        tenant_id="t_1",
        customer_id="cus_1",
        subscription_id="",
        currency_code=currency,
        reason=BillingReason.MANUAL,
        lines=lines,
        period_start=None,
        period_end=None,
        test_clock_id="",
        now=NOW,
    )


def issued(amounts: list[int], rate: TaxRate | None = VAT_19, balance: int = 0) -> Invoice:
    lines = [taxed(charge(a), rate, "USD") for a in amounts]
    return finalize(draft(lines), credit_balance_minor=balance, now=NOW)


def credit_note(invoice: Invoice, amount: int, currency: str = "USD") -> tuple[Invoice, CreditNote]:
    return credit(
        invoice,
        id="cn_1",
        number=1,
        amount_minor=amount,
        currency_code=currency,
        reason=CreditNoteReason.SERVICE_CREDIT,
        memo="",
        now=NOW,
    )


def nets(posting: PostingRequest | None) -> dict[AccountRef, int]:
    """Per-account nets (debit positive) of a posting that validates and balances."""
    if posting is None:
        return {}
    posting.validate()
    assert sum(entry.signed_minor for entry in posting.entries) == 0
    return net_balances(posting.entries)


REVENUE, TAX = AccountRef("revenue", "USD"), AccountRef("tax_payable", "USD")
CREDIT = customer_credit("USD", "cus_1")


# Strategies: signed amounts well inside the platform bound, rates 0..30% as Fractions.

currencies = st.sampled_from(["USD", "JPY", "KWD"])
shares = st.fractions(min_value=0, max_value=Fraction(3, 10), max_denominator=10_000)
rates = st.none() | shares.map(lambda share: TaxRate("XX", share, "Tax"))
line_specs = st.lists(
    st.tuples(st.integers(-(10**9), 10**9), st.sampled_from([EXCLUSIVE, INCLUSIVE]), rates),
    min_size=1,
    max_size=8,
)


def build(specs: list[tuple[int, TaxBehavior, TaxRate | None]], currency: str) -> Invoice:
    return draft([taxed(charge(a, b), r, currency) for a, b, r in specs], currency)


@props
@given(specs=line_specs, currency=currencies)
def test_totals_are_sums_of_lines_each_rounded_once(
    specs: list[tuple[int, TaxBehavior, TaxRate | None]], currency: str
) -> None:
    invoice = build(specs, currency)
    assert invoice.total_minor == invoice.subtotal_minor + invoice.tax_minor
    assert invoice.subtotal_minor == sum(line.net_minor for line in invoice.lines)
    assert invoice.tax_minor == sum(line.tax_minor for line in invoice.lines)
    assert [line.line_number for line in invoice.lines] == list(range(1, len(specs) + 1))
    for line, (amount, behavior, rate) in zip(invoice.lines, specs, strict=True):
        share = Fraction(0) if rate is None else rate.rate
        exact = amount * share if behavior is EXCLUSIVE else amount * share / (1 + share)
        assert abs(line.tax_minor - exact) <= MAX_ROUNDING_ERROR
        assert line.unrounded_tax == exact
        gross = amount if behavior is INCLUSIVE else amount + line.tax_minor
        assert line.net_minor + line.tax_minor == gross
        assert line.charge.amount_minor == amount


@props
@given(specs=line_specs, balance=st.integers(-(10**6), 3 * 10**9))
def test_finalisation_uses_credit_up_to_the_total_and_posts_exactly_the_invoice(
    specs: list[tuple[int, TaxBehavior, TaxRate | None]], balance: int
) -> None:
    invoice = numbered(finalize(build(specs, "USD"), credit_balance_minor=balance, now=NOW), 7)
    total, applied = invoice.total_minor, invoice.credit_applied_minor
    assert 0 <= applied <= min(max(balance, 0), max(total, 0))
    assert applied == min(max(balance, 0), max(total, 0))
    assert invoice.amount_due_minor == max(total, 0) - applied >= 0
    paid = invoice.amount_due_minor == 0
    assert invoice.status is (InvoiceStatus.PAID if paid else InvoiceStatus.OPEN)
    assert invoice.number == "INV-000007"
    moved = nets(finalization_posting(invoice))
    assert moved.get(receivable(invoice), 0) == invoice.amount_due_minor
    assert moved.get(REVENUE, 0) == -invoice.subtotal_minor
    assert moved.get(TAX, 0) == -invoice.tax_minor
    assert moved.get(CREDIT, 0) == applied - max(-total, 0)


@props
@given(specs=line_specs, balance=st.integers(0, 10**9), data=st.data())
def test_credit_notes_never_exceed_the_total_and_keep_the_ledger_in_step(
    specs: list[tuple[int, TaxBehavior, TaxRate | None]], balance: int, data: st.DataObject
) -> None:
    invoice = finalize(build(specs, "USD"), credit_balance_minor=balance, now=NOW)
    receivable_net = nets(finalization_posting(invoice)).get(receivable(invoice), 0)
    total, credited, tax_reversed = invoice.total_minor, 0, 0
    for _ in range(data.draw(st.integers(1, 6), "notes")):
        amount = data.draw(st.integers(1, max(invoice.creditable_minor, 0) + 3), "amount")
        before = invoice
        if amount > max(total, 0) - credited:
            with pytest.raises(AmountOutOfRange):
                credit_note(invoice, amount)
            assert invoice == before
            continue
        invoice, note = credit_note(invoice, amount)
        credited += amount
        assert invoice.credited_minor == credited <= max(total, 0)
        assert note.applied_to_invoice_minor + note.credit_balance_added_minor == amount
        assert note.applied_to_invoice_minor == min(amount, before.amount_due_minor)
        assert invoice.amount_due_minor >= 0
        assert (invoice.status is InvoiceStatus.PAID) == (invoice.amount_due_minor == 0)
        # Each note's tax is within 1 of its exact share; the running total of
        # tax reversed is within 1/2 of exact, so a full credit reverses all of it.
        assert abs(note.tax_minor - Fraction(amount * invoice.tax_minor, total)) <= 1
        tax_reversed += note.tax_minor
        exact = Fraction(credited * invoice.tax_minor, total)
        assert abs(tax_reversed - exact) <= Fraction(1, 2)
        if credited == total:
            assert tax_reversed == invoice.tax_minor
        moved = nets(credit_note_posting(before, note))
        assert moved.get(REVENUE, 0) == note.net_minor
        assert moved.get(TAX, 0) == note.tax_minor
        assert moved.get(CREDIT, 0) == -note.credit_balance_added_minor
        receivable_net += moved.get(receivable(invoice), 0)
        assert receivable_net == invoice.amount_due_minor


@props
@given(amounts=st.lists(st.integers(1, 10**7), min_size=1, max_size=4), data=st.data())
def test_void_and_write_off_are_only_for_open_invoices_without_credit_notes(
    amounts: list[int], data: st.DataObject
) -> None:
    invoice = issued(amounts, balance=data.draw(st.sampled_from([0, 1, 10**9]), "balance"))
    if invoice.status is InvoiceStatus.OPEN and data.draw(st.booleans(), "credit first"):
        invoice, _ = credit_note(invoice, data.draw(st.integers(1, invoice.creditable_minor)))
    voidable = invoice.status is InvoiceStatus.OPEN and invoice.credited_minor == 0
    if voidable:
        assert void(invoice, NOW).status is InvoiceStatus.VOID
    else:
        with pytest.raises(InvalidState) as refused:
            void(invoice, NOW)
        if invoice.status is not InvoiceStatus.OPEN:  # the message a caller reads
            assert "only OPEN invoices can be voided" in str(refused.value)
    if invoice.status is InvoiceStatus.OPEN:
        assert mark_uncollectible(invoice, NOW).status is InvoiceStatus.UNCOLLECTIBLE
        moved = nets(write_off_posting(invoice))
        assert moved == {
            AccountRef("bad_debt", "USD"): invoice.amount_due_minor,
            receivable(invoice): -invoice.amount_due_minor,
        }
    else:
        with pytest.raises(InvalidState) as refused:
            mark_uncollectible(invoice, NOW)
        assert "only OPEN invoices can be marked uncollectible" in str(refused.value)


# Examples.


def test_line_tax_is_rounded_to_the_currencys_own_minor_unit() -> None:
    line = taxed(charge(11_900, INCLUSIVE), VAT_19, "EUR")
    assert (line.net_minor, line.tax_minor) == (10_000, 1_900)
    jpy = taxed(charge(999), TaxRate("JP", Fraction(1, 10), "CT"), "JPY")
    assert (jpy.net_minor, jpy.tax_minor) == (999, 100)
    kwd = taxed(charge(1_234), TaxRate("X", Fraction(5, 100), "VAT"), "KWD")
    assert kwd.tax_minor == 62  # 61.7 fils


def test_credit_lines_carry_the_negated_tax_of_the_charge() -> None:
    invoice = draft([taxed(charge(1_005), VAT_19, "USD"), taxed(charge(-1_005), VAT_19, "USD")])
    assert [line.tax_minor for line in invoice.lines] == [191, -191]
    assert invoice.total_minor == 0


def test_partial_credit_balance_leaves_the_rest_due() -> None:
    invoice = issued([1_000], balance=500)
    assert (invoice.total_minor, invoice.credit_applied_minor) == (1_190, 500)
    assert (invoice.amount_due_minor, invoice.status) == (690, InvoiceStatus.OPEN)
    assert nets(finalization_posting(invoice)) == {
        receivable(invoice): 690,
        CREDIT: 500,
        REVENUE: -1_000,
        TAX: -190,
    }


def test_a_net_credit_or_zero_invoice_is_paid_at_once_and_owes_nothing() -> None:
    invoice = issued([-500], rate=None, balance=300)
    assert invoice.status is InvoiceStatus.PAID
    assert (invoice.amount_due_minor, invoice.credit_applied_minor) == (0, 0)
    assert nets(finalization_posting(invoice)) == {REVENUE: 500, CREDIT: -500}
    with pytest.raises(AmountOutOfRange):
        credit_note(invoice, 1)
    zero = issued([0])
    assert zero.status is InvoiceStatus.PAID
    assert finalization_posting(zero) is None


def test_a_credit_note_beyond_what_is_due_goes_to_the_credit_balance() -> None:
    invoice, note = credit_note(issued([1_000], balance=5_000), 300)  # PAID by credit
    assert (note.applied_to_invoice_minor, note.credit_balance_added_minor) == (0, 300)
    assert (note.tax_minor, note.net_minor) == (48, 252)  # 300 x 190/1190 = 47.9
    invoice, note = credit_note(issued([1_000]), 1_190)
    assert (note.applied_to_invoice_minor, invoice.status) == (1_190, InvoiceStatus.PAID)
    with pytest.raises(AmountOutOfRange):
        credit_note(invoice, 1)


def test_credit_notes_refuse_bad_amounts_and_other_currencies() -> None:
    invoice = issued([1_000])
    with pytest.raises(ValidationFailed):
        credit_note(invoice, 0)
    with pytest.raises(CurrencyMismatch):
        credit_note(invoice, 10, currency="EUR")
    with pytest.raises(InvalidState):
        credit_note(void(invoice, NOW), 10)


def test_void_after_a_credit_note_is_refused() -> None:
    invoice, _ = credit_note(issued([1_000]), 100)
    assert invoice.status is InvoiceStatus.OPEN
    with pytest.raises(InvalidState) as caught:
        void(invoice, NOW)
    assert caught.value.metadata == {"status": "OPEN", "action": "void"}


def test_drafts_need_lines_and_finalise_only_once() -> None:
    with pytest.raises(ValidationFailed):
        draft([])
    invoice = issued([1_000])
    with pytest.raises(InvalidState):
        finalize(invoice, credit_balance_minor=0, now=NOW)


def test_crediting_an_invoice_in_many_notes_reverses_exactly_its_tax() -> None:
    rate = TaxRate("JP", Fraction(1, 10), "CT")
    invoice = finalize(
        build([(10, TaxBehavior.EXCLUSIVE, rate)], "JPY"), credit_balance_minor=0, now=NOW
    )
    assert (invoice.total_minor, invoice.tax_minor) == (11, 1)
    taxes = []
    for _ in range(11):
        invoice, note = credit_note(invoice, 1, "JPY")
        taxes.append(note.tax_minor)
    assert sum(taxes) == 1
