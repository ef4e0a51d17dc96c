"""What an invoice or credit-note document says, independent of its format.

The PDF and the hosted page are both drawn from one `DocumentContent`, so
they cannot disagree. Everything in it is already text, formatted once here:
amounts with the currency's own decimals, dates as civil dates in the
customer's time zone. It is a function of the stored invoice (or note) and
who sold and bought, nothing else - no "now" - so the same state always
yields the same content, and the same document bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from accrue.customers.model import Customer, PostalAddress
from accrue.invoicing.line_text import calendar_date, period_text
from accrue.invoicing.model import CreditNote, Invoice, InvoiceStatus
from accrue.kernel.errors import InvalidState, PreconditionViolation
from accrue.kernel.money import Money

_STATUS_TEXT = {
    InvoiceStatus.OPEN: "Open - payment due",
    InvoiceStatus.PAID: "Paid",
    InvoiceStatus.VOID: "Void",
    InvoiceStatus.UNCOLLECTIBLE: "Uncollectible",
}


@dataclass(frozen=True, slots=True)
class DocumentLine:
    description: str
    quantity: str
    unit_price: str
    tax: str
    amount: str


@dataclass(frozen=True, slots=True)
class DocumentContent:
    """One document, every field ready to print."""

    kind: str  # "invoice" or "credit_note"
    title: str
    number: str
    document_id: str
    seller: tuple[str, ...]
    buyer: tuple[str, ...]
    facts: tuple[tuple[str, str], ...]  # (label, value): dates, period, references
    lines: tuple[DocumentLine, ...]
    tax_rows: tuple[tuple[str, str], ...]  # (rate label, tax amount)
    totals: tuple[tuple[str, str], ...]  # (label, amount), subtotal .. amount due
    status: str
    amount_due: str
    notes: tuple[str, ...]
    # The instant the document speaks of (finalisation or note creation); the
    # PDF's creation date, so re-rendering never changes the bytes.
    issued_at: datetime
    version: int


def invoice_content(invoice: Invoice, customer: Customer, seller_name: str) -> DocumentContent:
    """The content of a finalised invoice; a DRAFT has no document yet."""
    if invoice.status is InvoiceStatus.DRAFT or invoice.finalize_time is None:
        raise InvalidState(
            f"invoice {invoice.id!r} is a DRAFT: only finalised invoices have a document",
            metadata={"status": invoice.status.name},
            precondition_violations=[
                PreconditionViolation("STATE", f"invoices/{invoice.id}", "status DRAFT")
            ],
        )
    zone = customer.time_zone or "UTC"
    money = _formatter(invoice.currency_code)
    facts: list[tuple[str, str]] = [
        ("Invoice number", invoice.number),
        ("Date of issue", calendar_date(invoice.finalize_time, zone)),
    ]
    if invoice.period_start is not None and invoice.period_end is not None:
        facts.append(
            ("Billing period", period_text(invoice.period_start, invoice.period_end, zone))
        )
    if invoice.subscription_id:
        facts.append(("Subscription", invoice.subscription_id))
    facts.append(("Currency", invoice.currency_code))
    lines = tuple(
        DocumentLine(
            description=line.charge.description,
            quantity=str(line.charge.quantity),
            unit_price=""
            if line.charge.unit_amount_minor is None
            else money(line.charge.unit_amount_minor),
            tax=_rate_label(line.tax_rate.name, line.tax_rate.rate) if line.tax_rate else "",
            amount=money(line.net_minor),
        )
        for line in invoice.lines
    )
    totals: list[tuple[str, str]] = [("Subtotal", money(invoice.subtotal_minor))]
    totals.extend((f"Tax {label}", amount) for label, amount in _tax_rows(invoice, money))
    totals.append(("Total", money(invoice.total_minor)))
    for label, value in (
        ("Customer credit applied", invoice.credit_applied_minor),
        ("Credit notes", invoice.credited_to_due_minor),
        ("Amount paid", invoice.amount_paid_minor),
    ):
        if value:
            totals.append((label, money(-value)))
    due = max(invoice.amount_due_minor, 0) if invoice.status is InvoiceStatus.OPEN else 0
    totals.append(("Amount due", money(due)))
    notes = []
    if invoice.status is InvoiceStatus.OPEN and invoice.next_payment_attempt_time is not None:
        notes.append(
            "The payment method on file will be charged automatically"
            f" ({calendar_date(invoice.next_payment_attempt_time, zone)})."
        )
    return DocumentContent(
        kind="invoice",
        title="Invoice",
        number=invoice.number,
        document_id=invoice.id,
        seller=(seller_name,),
        buyer=_party(customer),
        facts=tuple(facts),
        lines=lines,
        tax_rows=_tax_rows(invoice, money),
        totals=tuple(totals),
        status=_STATUS_TEXT[invoice.status],
        amount_due=money(due),
        notes=tuple(notes),
        issued_at=invoice.finalize_time,
        version=invoice.version,
    )


def credit_note_content(
    note: CreditNote, invoice: Invoice, customer: Customer, seller_name: str
) -> DocumentContent:
    zone = customer.time_zone or "UTC"
    money = _formatter(note.currency_code)
    facts = (
        ("Credit note number", note.number),
        ("Date of issue", calendar_date(note.create_time, zone)),
        ("Credits invoice", invoice.number),
        ("Reason", note.reason.name.replace("_", " ").capitalize()),
        ("Currency", note.currency_code),
    )
    line = DocumentLine(
        description=note.memo or f"Credit on invoice {invoice.number}",
        quantity="1",
        unit_price=money(note.net_minor),
        tax=money(note.tax_minor) if note.tax_minor else "",
        amount=money(note.net_minor),
    )
    totals = (
        ("Subtotal", money(note.net_minor)),
        ("Tax", money(note.tax_minor)),
        ("Total credited", money(note.amount_minor)),
        ("Applied to the invoice", money(note.applied_to_invoice_minor)),
        ("Added to the customer's credit balance", money(note.credit_balance_added_minor)),
    )
    return DocumentContent(
        kind="credit_note",
        title="Credit note",
        number=note.number,
        document_id=note.id,
        seller=(seller_name,),
        buyer=_party(customer),
        facts=facts,
        lines=(line,),
        tax_rows=(("Tax", money(note.tax_minor)),) if note.tax_minor else (),
        totals=totals,
        status="Issued",
        amount_due=money(0),
        notes=(),
        issued_at=note.create_time,
        version=1,
    )


def _formatter(currency_code: str) -> Callable[[int], str]:
    def money(amount_minor: int) -> str:
        return Money(amount_minor, currency_code).format()

    return money


def _rate_label(name: str, rate: Fraction) -> str:
    percent = rate * 100
    exact = Decimal(percent.numerator) / Decimal(percent.denominator)
    shown = format(exact.quantize(Decimal("0.0001")).normalize(), "f")
    return f"{name} {shown}%".strip()


def _tax_rows(invoice: Invoice, money: Callable[[int], str]) -> tuple[tuple[str, str], ...]:
    """Tax per rate, in the order rates first appear on the lines."""
    sums: dict[str, int] = {}
    for line in invoice.lines:
        if line.tax_rate is None or line.tax_rate.rate == 0:
            continue
        label = _rate_label(line.tax_rate.name, line.tax_rate.rate)
        sums[label] = sums.get(label, 0) + line.tax_minor
    return tuple((label, money(amount)) for label, amount in sums.items())


def _party(customer: Customer) -> tuple[str, ...]:
    rows = [customer.display_name]
    rows.extend(_address(customer.billing_address))
    if customer.email:
        rows.append(customer.email)
    return tuple(row for row in rows if row)


def _address(address: PostalAddress | None) -> Sequence[str]:
    if address is None:
        return ()
    city = " ".join(part for part in (address.postal_code, address.city) if part)
    return tuple(
        part
        for part in (address.line1, address.line2, city, address.region, address.country_code)
        if part
    )
