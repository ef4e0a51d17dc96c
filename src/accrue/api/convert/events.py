"""Event payloads: domain subjects -> `accrue.events.v1` messages, and stored events -> `Event`."""

from __future__ import annotations

from google.protobuf import any_pb2
from google.protobuf.message import Message

from accrue.api.convert.catalog import price_to_pb, product_to_pb
from accrue.api.convert.common import timestamp
from accrue.api.convert.customers import customer_to_pb
from accrue.api.convert.ledger import transaction_to_pb
from accrue.billing.v1 import event_pb2
from accrue.domain.catalog import Price, Product
from accrue.domain.customers import Customer
from accrue.domain.events import DomainEvent, StoredEvent
from accrue.domain.ledger import Transaction
from accrue.events.v1 import events_pb2


def payload_message(subject: object) -> Message:
    if isinstance(subject, Customer):
        return events_pb2.CustomerChanged(customer=customer_to_pb(subject))
    if isinstance(subject, Product):
        return events_pb2.ProductChanged(product=product_to_pb(subject))
    if isinstance(subject, Price):
        return events_pb2.PriceChanged(price=price_to_pb(subject))
    if isinstance(subject, Transaction):
        return events_pb2.LedgerTransactionPosted(transaction=transaction_to_pb(subject))
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
