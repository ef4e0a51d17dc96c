"""Events: what happened to which resource, as the outbox stores it.

A `DomainEvent` carries the changed domain object as `subject`; the API layer
turns it into a versioned `accrue.events.v1` message when the event is
stored, so the stored payload is exactly what every consumer will read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class DomainEvent:
    id: str
    type: str
    resource_type: str
    resource_id: str
    occur_time: datetime
    trace_id: str
    subject: object


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as read back: numbered, with its encoded payload."""

    id: str
    tenant_id: str
    sequence: int
    type: str
    resource_type: str
    resource_id: str
    occur_time: datetime
    trace_id: str
    payload_type: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Which events to read: after a cursor, optionally up to a bound and filtered."""

    after_sequence: int = 0
    up_to_sequence: int = 0
    types: tuple[str, ...] = ()
    resource_id: str = ""
    limit: int = 500
