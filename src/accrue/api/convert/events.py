"""Event payloads: domain subjects -> `accrue.events.v1` messages, and stored events -> `Event`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf import any_pb2
from google.protobuf.message import Message

from accrue.api.convert.billing import (
    clock_to_pb,
    credit_note_to_pb,
    invoice_to_pb,
    subscription_to_pb,
)
from accrue.api.convert.catalog import price_to_pb, product_to_pb
from accrue.api.convert.common import timestamp
from accrue.api.convert.customers import customer_to_pb
from accrue.api.convert.ledger import transaction_to_pb
from accrue.api.convert.payments import payment_to_pb, refund_to_pb
from accrue.api.convert.reconciliation import break_to_pb, run_to_pb
from accrue.billing.v1 import event_pb2
from accrue.domain.catalog import Price, Product
from accrue.domain.customers import Customer
from accrue.domain.events import DomainEvent, StoredEvent
from accrue.domain.invoices import CreditNote, Invoice
from accrue.domain.ledger import Transaction
from accrue.domain.payments import Payment, Refund
from accrue.domain.reconciliation_runs import ReconciliationRun, StoredBreak
from accrue.domain.subscriptions import Subscription
from accrue.domain.test_clocks import TestClock
from accrue.entitlements import convert as entitlements
from accrue.entitlements.model import Attachment, Feature, ThresholdCrossing
from accrue.events.v1 import events_pb2
from accrue.policies.convert import policy_event
from accrue.policies.model import SubscriptionPolicy

_PAYLOADS: tuple[tuple[type, Callable[[Any], Message]], ...] = (
    (Customer, lambda s: events_pb2.CustomerChanged(customer=customer_to_pb(s))),
    (Product, lambda s: events_pb2.ProductChanged(product=product_to_pb(s))),
    (Price, lambda s: events_pb2.PriceChanged(price=price_to_pb(s))),
    (Transaction, lambda s: events_pb2.LedgerTransactionPosted(transaction=transaction_to_pb(s))),
    (Subscription, lambda s: events_pb2.SubscriptionChanged(subscription=subscription_to_pb(s))),
    (Invoice, lambda s: events_pb2.InvoiceChanged(invoice=invoice_to_pb(s))),
    (CreditNote, lambda s: events_pb2.CreditNoteCreated(credit_note=credit_note_to_pb(s))),
    (TestClock, lambda s: events_pb2.TestClockChanged(test_clock=clock_to_pb(s))),
    (Payment, lambda s: events_pb2.PaymentChanged(payment=payment_to_pb(s))),
    (Refund, lambda s: events_pb2.RefundChanged(refund=refund_to_pb(s))),
    (ReconciliationRun, lambda s: events_pb2.ReconciliationRunCompleted(run=run_to_pb(s))),
    (
        StoredBreak,
        lambda s: events_pb2.ReconciliationBreakResolved(**{"break": break_to_pb(s)}),
    ),
    (Feature, entitlements.feature_event),
    (Attachment, entitlements.attachment_event),
    (ThresholdCrossing, entitlements.crossing_event),
    (SubscriptionPolicy, policy_event),
)


def payload_message(subject: object) -> Message:
    for kind, build in _PAYLOADS:
        if isinstance(subject, kind):
            return build(subject)
    raise TypeError(f"no event payload for {type(subject).__name__}")


def encode_payload(event: DomainEvent) -> tuple[str, bytes]:
    """What the outbox stores: the payload's full type name and its bytes."""
    message = payload_message(event.subject)
    return message.DESCRIPTOR.full_name, message.SerializeToString(deterministic=True)


def event_to_pb(event: StoredEvent) -> event_pb2.Event:
    return event_pb2.Event(
        id=event.id,
        sequence=event.sequence,
        type=event.type,
        resource_type=event.resource_type,
        resource_id=event.resource_id,
        occur_time=timestamp(event.occur_time),
        trace_id=event.trace_id,
        payload=any_pb2.Any(
            type_url=f"type.googleapis.com/{event.payload_type}", value=event.payload
        ),
    )
