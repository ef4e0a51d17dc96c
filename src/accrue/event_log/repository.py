"""The event outbox: events are queued during the unit of work and written
right before it commits.

SQLite (one writer) numbers them there under the event head. PostgreSQL takes
no tenant-wide lock: the events go to `event_queue` stamped with the writer's
transaction id, and the sequencer moves them into `events`, numbered in commit
order, after commit (`ledger_sequencer.py`). Readers only ever see `events`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from accrue.event_log import tables as t
from accrue.kernel.events import DomainEvent, EventQuery, StoredEvent
from accrue.platform.db.json_rows import JsonInsert, execute_together

# Turns an event's subject into (payload type name, payload bytes); supplied
# by the API layer, which owns the `accrue.events.v1` messages.
PayloadEncoder = Callable[[DomainEvent], tuple[str, bytes]]

_h = t.event_heads.c
# Advancing the head and reading where it now stands is one statement; the
# UPDATE takes the row lock that orders this tenant's events by commit.
_ADVANCE_HEAD = (
    update(t.event_heads)
    .where(_h.tenant_id == bindparam("t_id"))
    .values(last_sequence=_h.last_sequence + bindparam("n"))
    .returning(_h.last_sequence)
)
_ev = t.events.c
# The unit of work's events as one JSON text (see `json_rows`): a bill-run batch
# queues four events per renewal, and executemany adapted them one by one.
_QUEUE = JsonInsert(
    t.event_queue,
    (
        "tenant_id",
        "id",
        "position",
        "type",
        "resource_type",
        "resource_id",
        "occur_time",
        "trace_id",
        "payload_type",
        "payload",
    ),
    fixed={"writer_xid": "pg_current_xact_id()::text::bigint"},
)


class SqlEventRepository:
    def __init__(self, conn: Connection, encode: PayloadEncoder) -> None:
        self._conn = conn
        self._encode = encode
        self._pending: list[tuple[str, DomainEvent]] = []
        self._encoded: dict[int, tuple[str, bytes]] = {}

    def create_head(self, tenant_id: str) -> None:
        self._conn.execute(insert(t.event_heads).values(tenant_id=tenant_id, last_sequence=0))

    def record(self, tenant_id: str, event: DomainEvent) -> None:
        self._pending.append((tenant_id, event))

    def flush(self, riders: Sequence[tuple[JsonInsert, Sequence[Sequence[Any]]]] = ()) -> list[str]:
        """Number and insert the queued events; returns the tenants that have new ones.

        Called last before commit, so the event head's row lock is held for as
        short a time as possible and always after any ledger head lock.
        `riders`, other rows the unit of work writes at commit (PostgreSQL
        only), go in the same statement as the events, a round trip fewer.
        """
        by_tenant: dict[str, list[DomainEvent]] = {}
        for tenant_id, event in self._pending:
            by_tenant.setdefault(tenant_id, []).append(event)
        try:
            return self._flush(by_tenant, riders)
        finally:
            self._pending.clear()
            self._encoded.clear()

    def _payload(self, event: DomainEvent) -> tuple[str, bytes]:
        """The event's payload, encoded once per subject object in a flush: an
        invoice created and finalised (and paid) in one unit of work is one
        frozen object behind two or three events, and the bill run issues
        thousands per batch. The subjects are alive in `_pending` until the
        flush ends, so their ids cannot be reused meanwhile."""
        key = id(event.subject)
        payload = self._encoded.get(key)
        if payload is None:
            payload = self._encoded[key] = self._encode(event)
        return payload

    def _flush(
        self,
        by_tenant: dict[str, list[DomainEvent]],
        riders: Sequence[tuple[JsonInsert, Sequence[Sequence[Any]]]],
    ) -> list[str]:
        if self._conn.dialect.name == "postgresql":
            self._queue(by_tenant, riders)
            return list(by_tenant)
        if riders:
            raise ValueError("rows riding with the events are written on PostgreSQL only")
        for tenant_id, events in by_tenant.items():
            params = {"t_id": tenant_id, "n": len(events)}
            last = self._conn.execute(_ADVANCE_HEAD, params).scalar_one() - len(events)
            rows = []
            for offset, event in enumerate(events, start=1):
                payload_type, payload = self._payload(event)
                rows.append(
                    {
                        "tenant_id": tenant_id,
                        "sequence": last + offset,
                        "id": event.id,
                        "type": event.type,
                        "resource_type": event.resource_type,
                        "resource_id": event.resource_id,
                        "occur_time": event.occur_time,
                        "trace_id": event.trace_id,
                        "payload_type": payload_type,
                        "payload": payload,
                    }
                )
            self._conn.execute(insert(t.events), rows)
        return list(by_tenant)

    def _queue(
        self,
        by_tenant: dict[str, list[DomainEvent]],
        riders: Sequence[tuple[JsonInsert, Sequence[Sequence[Any]]]],
    ) -> None:
        """One INSERT for every event of the unit of work (numbered later) and
        the riders."""
        rows = []
        for tenant_id, events in by_tenant.items():
            for position, event in enumerate(events):
                payload_type, payload = self._payload(event)
                rows.append(
                    (
                        tenant_id,
                        event.id,
                        position,
                        event.type,
                        event.resource_type,
                        event.resource_id,
                        event.occur_time,
                        event.trace_id,
                        payload_type,
                        payload,
                    )
                )
        execute_together(self._conn, [*riders, (_QUEUE, rows)] if rows else list(riders))

    def list(self, tenant_id: str, query: EventQuery) -> Sequence[StoredEvent]:
        statement = select(t.events).where(
            _ev.tenant_id == tenant_id, _ev.sequence > query.after_sequence
        )
        if query.up_to_sequence:
            statement = statement.where(_ev.sequence <= query.up_to_sequence)
        if query.types:
            statement = statement.where(_ev.type.in_(query.types))
        if query.resource_id:
            statement = statement.where(_ev.resource_id == query.resource_id)
        rows = self._conn.execute(statement.order_by(_ev.sequence).limit(query.limit))
        return [_stored(row) for row in rows]


def _stored(row: Any) -> StoredEvent:
    return StoredEvent(
        id=row.id,
        tenant_id=row.tenant_id,
        sequence=row.sequence,
        type=row.type,
        resource_type=row.resource_type,
        resource_id=row.resource_id,
        occur_time=row.occur_time,
        trace_id=row.trace_id,
        payload_type=row.payload_type,
        payload=bytes(row.payload),
    )
