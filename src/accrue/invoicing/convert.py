"""Invoice and credit-note messages <-> model."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

from google.protobuf.message import Message

from accrue.billing.v1 import invoice_pb2
from accrue.catalog.convert import TAX_BEHAVIOR_TO_PB, money_to_pb
from accrue.events.v1 import events_pb2
from accrue.invoicing.model import (
    BillingReason,
    CollectionMethod,
    CreditNote,
    CreditNoteReason,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
)
from accrue.platform.transport.convert import timestamp

INVOICE_STATUS_TO_PB = {
    InvoiceStatus.DRAFT: invoice_pb2.INVOICE_STATUS_DRAFT,
    InvoiceStatus.OPEN: invoice_pb2.INVOICE_STATUS_OPEN,
    InvoiceStatus.PAID: invoice_pb2.INVOICE_STATUS_PAID,
    InvoiceStatus.VOID: invoice_pb2.INVOICE_STATUS_VOID,
    InvoiceStatus.UNCOLLECTIBLE: invoice_pb2.INVOICE_STATUS_UNCOLLECTIBLE,
}
INVOICE_STATUS_FROM_PB = {v: k for k, v in INVOICE_STATUS_TO_PB.items()}
_REASON_TO_PB = {
    BillingReason.MANUAL: invoice_pb2.BILLING_REASON_MANUAL,
    BillingReason.SUBSCRIPTION_CREATE: invoice_pb2.BILLING_REASON_SUBSCRIPTION_CREATE,
    BillingReason.SUBSCRIPTION_CYCLE: invoice_pb2.BILLING_REASON_SUBSCRIPTION_CYCLE,
    BillingReason.SUBSCRIPTION_UPDATE: invoice_pb2.BILLING_REASON_SUBSCRIPTION_UPDATE,
    BillingReason.SUBSCRIPTION_ADJUSTMENT: invoice_pb2.BILLING_REASON_SUBSCRIPTION_ADJUSTMENT,
}
CREDIT_REASON_TO_PB = {
    CreditNoteReason.UNSPECIFIED: invoice_pb2.CREDIT_NOTE_REASON_UNSPECIFIED,
    CreditNoteReason.DUPLICATE: invoice_pb2.CREDIT_NOTE_REASON_DUPLICATE,
    CreditNoteReason.SERVICE_CREDIT: invoice_pb2.CREDIT_NOTE_REASON_SERVICE_CREDIT,
    CreditNoteReason.ORDER_CHANGE: invoice_pb2.CREDIT_NOTE_REASON_ORDER_CHANGE,
    CreditNoteReason.PRODUCT_UNSATISFACTORY: invoice_pb2.CREDIT_NOTE_REASON_PRODUCT_UNSATISFACTORY,
}
CREDIT_REASON_FROM_PB = {v: k for k, v in CREDIT_REASON_TO_PB.items()}
COLLECTION_TO_PB = {
    CollectionMethod.CHARGE_AUTOMATICALLY: invoice_pb2.COLLECTION_METHOD_CHARGE_AUTOMATICALLY,
    CollectionMethod.SEND_INVOICE: invoice_pb2.COLLECTION_METHOD_SEND_INVOICE,
}
# Unset means SEND_INVOICE: what every subscription did before collection existed.
COLLECTION_FROM_PB = {
    invoice_pb2.COLLECTION_METHOD_UNSPECIFIED: CollectionMethod.SEND_INVOICE,
    **{v: k for k, v in COLLECTION_TO_PB.items()},
}


def _ratio(value: Fraction) -> str:
    """An exact ratio as the contract writes it: `p/q` in lowest terms, or an integer."""
    return str(value)


def line_to_pb(line: InvoiceLine, currency_code: str) -> invoice_pb2.InvoiceLine:
    charge = line.charge
    message = invoice_pb2.InvoiceLine(
        line_number=line.line_number,
        description=charge.description,
        price_id=charge.price_id,
        subscription_id=charge.subscription_id,
        quantity=charge.quantity,
        amount=money_to_pb(charge.amount_minor, currency_code),
        tax_behavior=TAX_BEHAVIOR_TO_PB[charge.tax_behavior],
        net_amount=money_to_pb(line.net_minor, currency_code),
        tax_amount=money_to_pb(line.tax_minor, currency_code),
        proration=charge.proration,
        derivation=invoice_pb2.LineDerivation(
            fraction=_ratio(charge.fraction),
            full_period_amount_minor=charge.full_period_amount_minor,
            unrounded_amount=_ratio(charge.unrounded),
            unrounded_tax=_ratio(line.unrounded_tax),
            rounding=charge.rounding,
            explanation=charge.explanation,
        ),
    )
    if charge.unit_amount_minor is not None:
        message.unit_amount.CopyFrom(money_to_pb(charge.unit_amount_minor, currency_code))
    if line.tax_rate is not None:
        message.tax_rate.CopyFrom(
            invoice_pb2.TaxRate(
                jurisdiction=line.tax_rate.jurisdiction,
                display_name=line.tax_rate.name,
                rate=_ratio(line.tax_rate.rate),
            )
        )
    if charge.period_start is not None:
        message.period_start.CopyFrom(timestamp(charge.period_start))
    if charge.period_end is not None:
        message.period_end.CopyFrom(timestamp(charge.period_end))
    return message


def invoice_to_pb(invoice: Invoice) -> invoice_pb2.Invoice:
    cur = invoice.currency_code
    message = invoice_pb2.Invoice(
        id=invoice.id,
        number=invoice.number,
        customer_id=invoice.customer_id,
        subscription_id=invoice.subscription_id,
        status=INVOICE_STATUS_TO_PB[invoice.status],
        billing_reason=_REASON_TO_PB[invoice.billing_reason],
        currency_code=cur,
        lines=[line_to_pb(line, cur) for line in invoice.lines],
        subtotal=money_to_pb(invoice.subtotal_minor, cur),
        tax=money_to_pb(invoice.tax_minor, cur),
        total=money_to_pb(invoice.total_minor, cur),
        credit_applied=money_to_pb(invoice.credit_applied_minor, cur),
        credited=money_to_pb(invoice.credited_minor, cur),
        amount_due=money_to_pb(invoice.amount_due_minor, cur),
        amount_paid=money_to_pb(invoice.amount_paid_minor, cur),
        test_clock_id=invoice.test_clock_id,
        ledger_transaction_id=invoice.ledger_transaction_id,
        create_time=timestamp(invoice.create_time),
        collection_method=COLLECTION_TO_PB[invoice.collection_method],
        attempt_count=invoice.attempt_count,
    )
    for name in (
        "period_start",
        "period_end",
        "finalize_time",
        "close_time",
        "next_payment_attempt_time",
    ):
        value = getattr(invoice, name)
        if value is not None:
            getattr(message, name).CopyFrom(timestamp(value))
    return message


def credit_note_to_pb(note: CreditNote) -> invoice_pb2.CreditNote:
    cur = note.currency_code
    return invoice_pb2.CreditNote(
        id=note.id,
        number=note.number,
        invoice_id=note.invoice_id,
        customer_id=note.customer_id,
        amount=money_to_pb(note.amount_minor, cur),
        tax=money_to_pb(note.tax_minor, cur),
        applied_to_invoice=money_to_pb(note.applied_to_invoice_minor, cur),
        credit_balance_added=money_to_pb(note.credit_balance_added_minor, cur),
        reason=CREDIT_REASON_TO_PB[note.reason],
        memo=note.memo,
        ledger_transaction_id=note.ledger_transaction_id,
        create_time=timestamp(note.create_time),
    )


# The event payloads of this area's subjects, gathered by `accrue.payloads`.
EVENT_PAYLOADS: tuple[tuple[type, Callable[[Any], Message]], ...] = (
    (Invoice, lambda s: events_pb2.InvoiceChanged(invoice=invoice_to_pb(s))),
    (CreditNote, lambda s: events_pb2.CreditNoteCreated(credit_note=credit_note_to_pb(s))),
)
