"""Golden invoice scenarios on test clocks: tax, credit notes, voids and the ledger.

Each scenario has its own clock, customer and catalog (see
test_billing_lifecycle.py); amounts are exact minor units.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from accrue.billing.v1 import invoice_pb2 as inv
from tests.conftest import Transport
from tests.contract.billing_steps import (
    ALWAYS_INVOICE,
    INCLUSIVE,
    INVOICES,
    OPEN,
    PAID,
    VOID,
    Scenario,
    amounts,
    grpc_transport,
    periods,
    utc,
    when,
)
from tests.support import RunningServer

APRIL, HALF_WAY = utc(2026, 4, 1), utc(2026, 4, 16)


@pytest.fixture
def grpc(server: RunningServer, api_key: str) -> Iterator[Transport]:
    """gRPC only: scenarios whose Connect coverage the `rpc` tests already give."""
    yield from grpc_transport(server, api_key)


# -- 11: tax ----------------------------------------------------------------------------


def test_german_vat_on_exclusive_and_inclusive_prices(rpc: Transport) -> None:
    s = Scenario(rpc, APRIL)
    customer = s.customer(currency="EUR", tax_country="DE")
    exclusive = s.subscribe(customer.id, s.price(1000, currency="EUR").id)
    inclusive = s.subscribe(customer.id, s.price(1190, currency="EUR", tax_behavior=INCLUSIVE).id)

    for sub_id, amount in (
        (exclusive.latest_invoice_id, 1000),
        (inclusive.latest_invoice_id, 1190),
    ):
        bill = s.invoice(sub_id)
        [line] = bill.lines
        assert line.amount.amount_minor == amount
        assert (line.net_amount.amount_minor, line.tax_amount.amount_minor) == (1000, 190)
        assert (line.tax_rate.jurisdiction, line.tax_rate.display_name) == ("DE", "VAT")
        assert line.tax_rate.rate == "19/100"
        assert line.derivation.unrounded_tax == "190"
        assert (bill.subtotal.amount_minor, bill.tax.amount_minor) == (1000, 190)
        assert (bill.total.amount_minor, bill.amount_due.amount_minor) == (1190, 1190)
    assert s.account("tax_payable:EUR").balance.amount_minor == 380
    assert s.account("revenue:EUR").balance.amount_minor == 2000
    assert s.receivable(customer.id, "EUR") == 2380

    note = s.credit_note(s.invoice(exclusive.latest_invoice_id), 595)
    assert (note.amount.amount_minor, note.tax.amount_minor) == (595, 95)
    assert s.account("tax_payable:EUR").balance.amount_minor == 285


def test_proration_lines_carry_their_own_tax(grpc: Transport) -> None:
    s = Scenario(grpc, APRIL)
    customer = s.customer(currency="EUR", tax_country="DE")
    created = s.subscribe(customer.id, s.price(1000, currency="EUR").id)
    s.advance(HALF_WAY)

    bill = s.change(created.id, s.price(2000, currency="EUR").id, behavior=ALWAYS_INVOICE).invoice

    assert amounts(bill.lines) == [-500, 1000]
    assert [line.tax_amount.amount_minor for line in bill.lines] == [-95, 190]
    assert (bill.subtotal.amount_minor, bill.tax.amount_minor) == (500, 95)
    assert bill.total.amount_minor == 595


# -- 12: credit notes and voids --------------------------------------------------------


def test_credit_notes_reduce_what_is_due_until_the_invoice_is_paid(rpc: Transport) -> None:
    s = Scenario(rpc, APRIL)
    customer = s.customer()
    created = s.subscribe(customer.id, s.price(1000).id)
    bill = s.invoice(created.latest_invoice_id)

    first = s.credit_note(bill, 300)
    assert (first.number, first.invoice_id, first.customer_id) == (
        "CN-000001",
        bill.id,
        customer.id,
    )
    assert first.applied_to_invoice.amount_minor == 300
    assert first.credit_balance_added.amount_minor == 0
    bill = s.invoice(bill.id)
    assert bill.status == OPEN
    assert (bill.amount_due.amount_minor, bill.credited.amount_minor) == (700, 300)
    assert s.receivable(customer.id) == 700

    too_much = s.fail(INVOICES, "CreateCreditNote", s.credit_note_request(bill, 701))
    assert (too_much.code, too_much.reason) == ("INVALID_ARGUMENT", "AMOUNT_OUT_OF_RANGE")

    rest = s.credit_note(bill, 700)
    assert rest.number == "CN-000002"
    bill = s.invoice(bill.id)
    assert bill.status == PAID
    assert (bill.amount_due.amount_minor, bill.credited.amount_minor) == (0, 1000)
    assert when(bill.close_time) == APRIL
    assert s.receivable(customer.id) == 0
    assert s.credit_balance(customer.id) == 0
    nothing_left = s.fail(INVOICES, "CreateCreditNote", s.credit_note_request(bill, 1))
    assert (nothing_left.code, nothing_left.reason) == ("INVALID_ARGUMENT", "AMOUNT_OUT_OF_RANGE")
    refused = s.fail(INVOICES, "VoidInvoice", inv.VoidInvoiceRequest(id=bill.id))
    assert (refused.code, refused.reason) == ("FAILED_PRECONDITION", "INVALID_STATE")
    assert s.verify_ledger().intact


def test_void_reverses_the_invoice_and_gives_back_the_credit_it_used(grpc: Transport) -> None:
    s = Scenario(grpc, APRIL)
    customer = s.customer()
    pro, basic = s.price(2000), s.price(1000)
    created = s.subscribe(customer.id, pro.id)
    s.advance(HALF_WAY)
    s.change(created.id, basic.id, behavior=ALWAYS_INVOICE)  # a -500 invoice: 500 of credit
    used = s.manual_invoice(customer.id, 800)
    assert (used.credit_applied.amount_minor, used.amount_due.amount_minor) == (500, 300)
    assert (s.receivable(customer.id), s.credit_balance(customer.id)) == (2300, 0)

    voided = s.void(used.id)

    assert (voided.status, voided.number) == (VOID, "INV-000003")
    assert when(voided.close_time) == HALF_WAY
    assert (s.receivable(customer.id), s.credit_balance(customer.id)) == (2000, 500)

    first = s.void(s.invoices(customer_id=customer.id)[0].id)
    assert (first.status, first.number) == (VOID, "INV-000001")
    assert periods([first]) == [(APRIL, utc(2026, 5, 1))]
    assert (s.receivable(customer.id), s.credit_balance(customer.id)) == (0, 500)
    # Only the -500 change invoice is left on the books.
    assert s.account("revenue:USD").balance.amount_minor == -500
    assert s.verify_ledger().intact
