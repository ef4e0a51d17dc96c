"""Stored events -> `accrue.billing.v1.Event` (the payload registry is `accrue.payloads`)."""

from __future__ import annotations

from google.protobuf import any_pb2

from accrue.billing.v1 import event_pb2
from accrue.kernel.events import StoredEvent
from accrue.platform.transport.convert import timestamp


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
