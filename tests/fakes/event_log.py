"""EventRepository in memory: events recorded in a transaction, numbered in order."""

from __future__ import annotations

from collections.abc import Sequence

from accrue.kernel.events import DomainEvent, EventQuery, StoredEvent
from tests.fakes.transactions import FakeDatabase, FakeUnitOfWork


class FakeEvents:
    """Numbers each event as it is recorded; a rolled-back transaction loses them."""

    def __init__(self, tx: FakeUnitOfWork) -> None:
        self._tx = tx

    def create_head(self, tenant_id: str) -> None:
        self._tx.table("event_heads")[tenant_id] = 0

    def record(self, tenant_id: str, event: DomainEvent) -> None:
        heads = self._tx.table("event_heads")
        sequence = heads.get(tenant_id, 0) + 1
        heads[tenant_id] = sequence
        self._tx.table("events")[(tenant_id, sequence)] = StoredEvent(
            id=event.id,
            tenant_id=tenant_id,
            sequence=sequence,
            type=event.type,
            resource_type=event.resource_type,
            resource_id=event.resource_id,
            occur_time=event.occur_time,
            trace_id=event.trace_id,
            payload_type="",
            payload=b"",
        )

    def list(self, tenant_id: str, query: EventQuery) -> Sequence[StoredEvent]:
        found = [
            e
            for (tenant, _), e in sorted(self._tx.table("events").items())
            if tenant == tenant_id
            and e.sequence > query.after_sequence
            and (not query.up_to_sequence or e.sequence <= query.up_to_sequence)
            and (not query.types or e.type in query.types)
            and (not query.resource_id or e.resource_id == query.resource_id)
        ]
        return found[: query.limit]


class FakeEventLogUnitOfWork(FakeUnitOfWork):
    """EventLogUnitOfWork: the outbox only."""

    def __init__(self, db: FakeDatabase, write: bool) -> None:
        super().__init__(db, write=write)
        self.events = FakeEvents(self)


def event_types(db: FakeDatabase, tenant_id: str) -> list[str]:
    """The committed events of a tenant, in sequence order, by type."""
    return [e.type for (t, _), e in sorted(db.rows("events").items()) if t == tenant_id]
