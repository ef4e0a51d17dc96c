"""Invoices: lines with their derivation, totals, and the state machine.

Every line is rounded once when it is made (proration and tax alike) and
every total is a sum of rounded lines, so an invoice ties out to the minor
unit by construction: `total = subtotal + tax`, and the ledger posting of a
finalisation uses exactly those sums.

A finalised invoice's lines never change. What can still change are the
amounts settled against it: credit balance applied at finalisation, credit
notes, payments; and its status: DRAFT -> OPEN -> PAID | VOID | UNCOLLECTIBLE.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from fractions import Fraction

from accrue.catalog.model import TaxBehavior
from accrue.invoicing.proration import ProrationLine
from accrue.invoicing.tax import TaxRate, tax_line
from accrue.kernel.errors import (
    AmountOutOfRange,
    CurrencyMismatch,
    InvalidState,
    PreconditionViolation,
    ValidationFailed,
)
from accrue.kernel.money import check_amount
from accrue.kernel.records import evolve
from accrue.kernel.rounding import round_minor


class InvoiceStatus(enum.Enum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"


class BillingReason(enum.Enum):
    MANUAL = "manual"
    SUBSCRIPTION_CREATE = "subscription_create"
    SUBSCRIPTION_CYCLE = "subscription_cycle"
    SUBSCRIPTION_UPDATE = "subscription_update"
    SUBSCRIPTION_ADJUSTMENT = "subscription_adjustment"


class CollectionMethod(enum.Enum):
    CHARGE_AUTOMATICALLY = "charge_automatically"
    SEND_INVOICE = "send_invoice"


class CreditNoteReason(enum.Enum):
    UNSPECIFIED = "unspecified"
    DUPLICATE = "duplicate"
    SERVICE_CREDIT = "service_credit"
    ORDER_CHANGE = "order_change"
    PRODUCT_UNSATISFACTORY = "product_unsatisfactory"


@dataclass(frozen=True, slots=True)
class UsageMark:
    """What a metered line bills, so the usage area can record it once it is invoiced.

    Never stored on the invoice: a line read back has none, so only the lines a
    step has just made are recorded.
    """

    meter_id: str
    group_key: str
    # The quantity this line adds to (or, negative, takes from) the period's billed quantity.
    quantity_micros: int
    # The meter's grace: how long after its billing period the usage may still change.
    grace: timedelta = timedelta(0)


@dataclass(frozen=True, slots=True)
class LineCharge:
    """A line's amount before tax: what is billed and how the amount came about."""

    description: str
    price_id: str
    subscription_id: str
    quantity: int
    unit_amount_minor: int | None
    amount_minor: int
    tax_behavior: TaxBehavior
    period_start: datetime | None
    period_end: datetime | None
    proration: bool
    fraction: Fraction
    full_period_amount_minor: int
    unrounded: Fraction
    rounding: str
    explanation: str
    usage: UsageMark | None = None

    @classmethod
    def from_proration(
        cls,
        line: ProrationLine,
        *,
        price_id: str,
        subscription_id: str,
        behavior: TaxBehavior,
        label: str = "",
        time_zone: str = "",
    ) -> LineCharge:
        """The line of a prorated item; `label` names the item, dates are in `time_zone`."""
        return cls(
            description=line.text(label=label or price_id, time_zone=time_zone),
            price_id=price_id,
            subscription_id=subscription_id,
            quantity=line.quantity,
            unit_amount_minor=line.unit_amount_minor,
            amount_minor=line.amount.amount_minor,
            tax_behavior=behavior,
            period_start=line.period_start,
            period_end=line.period_end,
            proration=line.fraction != 1,
            fraction=line.fraction,
            full_period_amount_minor=line.full_period_amount_minor,
            unrounded=line.unrounded,
            rounding=line.rounding,
            explanation=line.derivation,
        )


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """A charge with its tax; `net_minor + tax_minor` is what the line adds to the total."""

    charge: LineCharge
    net_minor: int
    tax_minor: int
    tax_rate: TaxRate | None
    unrounded_tax: Fraction
    line_number: int = 0


def taxed(charge: LineCharge, rate: TaxRate | None, currency_code: str) -> InvoiceLine:
    """`charge` with its tax at `rate` (no tax without a rate), rounded once."""
    if rate is None or rate.rate == 0:
        return InvoiceLine(charge, charge.amount_minor, 0, rate, Fraction(0))
    computed = tax_line(
        charge.amount_minor, rate, behavior=charge.tax_behavior, currency_code=currency_code
    )
    return InvoiceLine(charge, computed.net_minor, computed.tax_minor, rate, computed.unrounded_tax)


@dataclass(frozen=True, slots=True)
class Invoice:
    id: str
    tenant_id: str
    customer_id: str
    subscription_id: str
    currency_code: str
    status: InvoiceStatus
    billing_reason: BillingReason
    lines: tuple[InvoiceLine, ...]
    period_start: datetime | None
    period_end: datetime | None
    test_clock_id: str
    create_time: datetime
    number: str = ""
    credit_applied_minor: int = 0
    credited_minor: int = 0
    credited_to_due_minor: int = 0
    amount_paid_minor: int = 0
    finalize_time: datetime | None = None
    close_time: datetime | None = None
    ledger_transaction_id: str = ""
    version: int = 1
    collection_method: CollectionMethod = CollectionMethod.SEND_INVOICE
    attempt_count: int = 0
    next_payment_attempt_time: datetime | None = None

    @property
    def subtotal_minor(self) -> int:
        return sum(line.net_minor for line in self.lines)

    @property
    def tax_minor(self) -> int:
        return sum(line.tax_minor for line in self.lines)

    @property
    def total_minor(self) -> int:
        return self.subtotal_minor + self.tax_minor

    @property
    def amount_due_minor(self) -> int:
        """What is still owed; a net-credit invoice owes nothing."""
        settled = self.credit_applied_minor + self.credited_to_due_minor + self.amount_paid_minor
        return max(self.total_minor, 0) - settled

    @property
    def creditable_minor(self) -> int:
        """What credit notes may still cover: the positive total less earlier notes."""
        return max(self.total_minor, 0) - self.credited_minor


def new_invoice(
    *,
    id: str,
    tenant_id: str,
    customer_id: str,
    subscription_id: str,
    currency_code: str,
    reason: BillingReason,
    lines: Sequence[InvoiceLine],
    period_start: datetime | None,
    period_end: datetime | None,
    test_clock_id: str,
    now: datetime,
) -> Invoice:
    """A DRAFT invoice with its lines numbered from 1 in the order given."""
    if not lines:
        raise ValidationFailed.on("lines", "an invoice needs at least one line")
    numbered = tuple(evolve(line, line_number=n) for n, line in enumerate(lines, start=1))
    invoice = Invoice(
        id=id,
        tenant_id=tenant_id,
        customer_id=customer_id,
        subscription_id=subscription_id,
        currency_code=currency_code,
        status=InvoiceStatus.DRAFT,
        billing_reason=reason,
        lines=numbered,
        period_start=period_start,
        period_end=period_end,
        test_clock_id=test_clock_id,
        create_time=now,
    )
    check_amount(invoice.subtotal_minor, field="subtotal")
    check_amount(invoice.tax_minor, field="tax")
    check_amount(invoice.total_minor, field="total")
    return invoice


def format_number(prefix: str, number: int) -> str:
    return f"{prefix}-{number:06d}"


def finalize(invoice: Invoice, *, credit_balance_minor: int, now: datetime) -> Invoice:
    """DRAFT -> OPEN, using up to `credit_balance_minor` of customer credit; it
    gets its number afterwards (`numbered`), last of all.

    An invoice left with nothing to pay (a zero or net-credit total, or one
    covered by credit) is PAID at once.
    """
    _require(invoice, "finalize", InvoiceStatus.DRAFT, "finalized")
    applied = min(max(credit_balance_minor, 0), max(invoice.total_minor, 0))
    done = evolve(
        invoice,
        credit_applied_minor=applied,
        status=InvoiceStatus.OPEN,
        finalize_time=now,
        version=invoice.version + 1,
    )
    return _paid_if_settled(done, now)


def numbered(invoice: Invoice, number: int) -> Invoice:
    """A finalised invoice given its number from the tenant's gapless series.

    Finalising computes everything else first, so the counter, which every
    finaliser of the tenant waits for, is taken as late as possible."""
    return evolve(invoice, number=format_number("INV", number))


def void(invoice: Invoice, now: datetime) -> Invoice:
    """OPEN -> VOID; refused once anything was credited or paid against it."""
    _require(invoice, "void", InvoiceStatus.OPEN, "voided")
    if invoice.credited_minor or invoice.amount_paid_minor:
        _refuse(invoice, "void", "credit notes or payments exist; issue a credit note instead")
    return replace(invoice, status=InvoiceStatus.VOID, close_time=now, version=invoice.version + 1)


def mark_uncollectible(invoice: Invoice, now: datetime) -> Invoice:
    _require(invoice, "mark uncollectible", InvoiceStatus.OPEN, "marked uncollectible")
    return replace(
        invoice,
        status=InvoiceStatus.UNCOLLECTIBLE,
        close_time=now,
        version=invoice.version + 1,
    )


@dataclass(frozen=True, slots=True)
class CreditNote:
    id: str
    tenant_id: str
    number: str
    invoice_id: str
    customer_id: str
    currency_code: str
    amount_minor: int
    tax_minor: int
    applied_to_invoice_minor: int
    credit_balance_added_minor: int
    reason: CreditNoteReason
    memo: str
    create_time: datetime
    ledger_transaction_id: str = ""

    @property
    def net_minor(self) -> int:
        return self.amount_minor - self.tax_minor


def credit(
    invoice: Invoice,
    *,
    id: str,
    number: int,
    amount_minor: int,
    currency_code: str,
    reason: CreditNoteReason,
    memo: str,
    now: datetime,
) -> tuple[Invoice, CreditNote]:
    """A credit note for `amount_minor` (tax included) and the invoice after it.

    The note's tax is its share of the invoice's tax (`amount x tax / total`,
    taken cumulatively over the invoice's notes and rounded once); the part
    up to the amount still due reduces it, the rest goes to the customer's
    credit balance.
    """
    if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.PAID):
        _refuse(invoice, "credit", "only OPEN or PAID invoices can be credited")
    if currency_code != invoice.currency_code:
        raise CurrencyMismatch(
            f"the invoice is in {invoice.currency_code}, not {currency_code}",
            metadata={"left": invoice.currency_code, "right": currency_code},
        )
    if amount_minor <= 0:
        raise ValidationFailed.on("amount.amount_minor", "must be positive")
    if amount_minor > invoice.creditable_minor:
        raise AmountOutOfRange(
            f"at most {invoice.creditable_minor} minor units can still be credited",
            metadata={"creditable_minor": str(invoice.creditable_minor)},
        )
    tax = _tax_share(invoice, invoice.credited_minor + amount_minor) - _tax_share(
        invoice, invoice.credited_minor
    )
    due = invoice.amount_due_minor if invoice.status is InvoiceStatus.OPEN else 0
    to_invoice = min(amount_minor, max(due, 0))
    note = CreditNote(
        id=id,
        tenant_id=invoice.tenant_id,
        number=format_number("CN", number),
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        currency_code=currency_code,
        amount_minor=amount_minor,
        tax_minor=tax,
        applied_to_invoice_minor=to_invoice,
        credit_balance_added_minor=amount_minor - to_invoice,
        reason=reason,
        memo=memo,
        create_time=now,
    )
    credited = replace(
        invoice,
        credited_minor=invoice.credited_minor + amount_minor,
        credited_to_due_minor=invoice.credited_to_due_minor + to_invoice,
        version=invoice.version + 1,
    )
    return _paid_if_settled(credited, now), note


def schedule_collection(invoice: Invoice) -> Invoice:
    """An automatically collected invoice that owes something is charged at once."""
    if (
        invoice.collection_method is CollectionMethod.CHARGE_AUTOMATICALLY
        and invoice.status is InvoiceStatus.OPEN
        and invoice.amount_due_minor > 0
    ):
        return replace(invoice, next_payment_attempt_time=invoice.finalize_time)
    return invoice


def collection_started(invoice: Invoice) -> Invoice:
    """An attempt is under way: count it; its outcome schedules the next."""
    return replace(
        invoice,
        attempt_count=invoice.attempt_count + 1,
        next_payment_attempt_time=None,
        version=invoice.version + 1,
    )


def collection_failed(invoice: Invoice, *, next_attempt: datetime | None) -> Invoice:
    return replace(invoice, next_payment_attempt_time=next_attempt, version=invoice.version + 1)


def accepts_payment(invoice: Invoice, amount_minor: int) -> bool:
    """Whether a captured amount can settle (part of) this invoice."""
    return invoice.status is InvoiceStatus.OPEN and 0 < amount_minor <= invoice.amount_due_minor


def record_payment(invoice: Invoice, amount_minor: int, now: datetime) -> Invoice:
    """A captured payment towards the amount due; PAID once nothing is left."""
    if not accepts_payment(invoice, amount_minor):
        _refuse(invoice, "pay", f"{amount_minor} does not fit the {invoice.amount_due_minor} due")
    paid = replace(
        invoice,
        amount_paid_minor=invoice.amount_paid_minor + amount_minor,
        next_payment_attempt_time=None,
        version=invoice.version + 1,
    )
    return _paid_if_settled(paid, now)


def _tax_share(invoice: Invoice, credited_minor: int) -> int:
    """The tax part of the first `credited_minor` credited, rounded once.

    Taken cumulatively (the share of everything credited so far minus the
    share before this note), so crediting the whole invoice in any number of
    notes reverses exactly the invoice's tax, never a sum of separate roundings.
    """
    total = invoice.total_minor
    return round_minor(Fraction(credited_minor * invoice.tax_minor, total)) if total else 0


def _paid_if_settled(invoice: Invoice, now: datetime) -> Invoice:
    if invoice.status is InvoiceStatus.OPEN and invoice.amount_due_minor == 0:
        return replace(invoice, status=InvoiceStatus.PAID, close_time=now)
    return invoice


def _require(invoice: Invoice, action: str, status: InvoiceStatus, done: str) -> None:
    if invoice.status is not status:
        _refuse(invoice, action, f"only {status.name} invoices can be {done}")


def _refuse(invoice: Invoice, action: str, why: str) -> None:
    status = invoice.status.name
    raise InvalidState(
        f"cannot {action} invoice {invoice.id!r} ({status}): {why}",
        metadata={"status": status, "action": action},
        precondition_violations=[
            PreconditionViolation("STATE", f"invoices/{invoice.id}", f"status {status}: {why}")
        ],
    )
