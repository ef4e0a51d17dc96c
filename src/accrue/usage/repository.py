"""SQL persistence of meters, usage events and their running aggregates.

Ingestion is set-based: a batch is one `INSERT ... ON CONFLICT DO NOTHING
RETURNING id` into `usage_events` (on PostgreSQL `SELECT FROM
jsonb_array_elements` of the batch as one JSON text, on SQLite multi-row VALUES;
the primary key on the caller's event id is what makes a resend harmless, even
from concurrent callers), and one multi-row upsert of the batch's pre-aggregated
hourly rollups, sorted by key so concurrent batches lock rows in the same order.

Reading (`reads.py`) sums the rollups of the whole hours of a period and reads
the raw events only for its partial hours.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    delete,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from accrue.kernel.paging import PageRequest
from accrue.platform.db.json_rows import JsonInsert
from accrue.usage import tables as t
from accrue.usage.model import (
    BUCKET,
    Aggregate,
    Aggregation,
    BilledUsage,
    Meter,
    Reading,
    StoredEvent,
    bucket_of,
)
from accrue.usage.ports import NewEvent
from accrue.usage.reads import UsageReads, _reading, _Scope

# PostgreSQL: a batch's events in one statement of fixed text, its rows as one
# jsonb text (see `json_rows`), inserted in id order.
_INSERT_EVENTS = JsonInsert(
    t.usage_events,
    [
        "id",
        "meter_id",
        "customer_id",
        "timestamp",
        "properties",
        "fingerprint",
        "value_micros",
        "unique_value",
        "group_key",
        "late",
    ],
    fixed={
        "tenant_id": "%(tenant_id)s",
        "canceled": "false",
        "revision": "0",
        "create_time": "%(now)s",
    },
    suffix="ORDER BY r->>0 ON CONFLICT DO NOTHING RETURNING id",
)
_m = t.meters.c
_e = t.usage_events.c
_r = t.usage_rollups.c
_u = t.usage_unique_values.c
_b = t.usage_billings.c


class SqlUsageStore(UsageReads):
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._dialect = conn.dialect.name

    # -- meters ---------------------------------------------------------------

    def add_meter(self, meter: Meter) -> None:
        self._conn.execute(t.meters.insert().values(**_meter_row(meter)))

    def get_meter(self, tenant_id: str, meter_id: str) -> Meter | None:
        row = self._conn.execute(
            select(t.meters).where(_m.tenant_id == tenant_id, _m.id == meter_id)
        ).first()
        return None if row is None else _meter_from_row(row)

    def get_meters(self, tenant_id: str, meter_ids: Sequence[str]) -> dict[str, Meter]:
        rows = self._conn.execute(
            select(t.meters).where(_m.tenant_id == tenant_id, _m.id.in_(sorted(set(meter_ids))))
        )
        return {row.id: _meter_from_row(row) for row in rows}

    def update_meter(self, meter: Meter) -> None:
        row = _meter_row(meter)
        self._conn.execute(
            update(t.meters)
            .where(_m.tenant_id == meter.tenant_id, _m.id == meter.id)
            .values({k: v for k, v in row.items() if k not in ("tenant_id", "id")})
        )

    def list_meters(self, tenant_id: str, page: PageRequest) -> Sequence[Meter]:
        rows = self._conn.execute(
            select(t.meters)
            .where(_m.tenant_id == tenant_id, _m.id > page.after_id)
            .order_by(_m.id)
            .limit(page.size + 1)
        )
        return [_meter_from_row(row) for row in rows]

    # -- events ---------------------------------------------------------------

    def fingerprints(self, tenant_id: str, event_ids: Sequence[str]) -> dict[str, str]:
        if not event_ids:
            return {}
        rows = self._conn.execute(
            select(_e.id, _e.fingerprint).where(
                _e.tenant_id == tenant_id, _e.id.in_(list(event_ids))
            )
        )
        return {row.id: row.fingerprint for row in rows}

    def insert_events(
        self, tenant_id: str, events: Sequence[NewEvent], *, now: datetime
    ) -> set[str]:
        if not events:
            return set()
        # In id order: concurrent batches wait on each other's keys in one order.
        ordered = sorted(events, key=lambda e: e.id)
        if self._dialect == "postgresql":
            return self._insert_json(tenant_id, ordered, now=now)
        rows = [
            {
                "tenant_id": tenant_id,
                "id": event.id,
                "meter_id": event.meter_id,
                "customer_id": event.customer_id,
                "timestamp": event.timestamp,
                "properties": event.properties,
                "fingerprint": event.fingerprint,
                "value_micros": event.reading.value_micros,
                "unique_value": event.reading.unique_value,
                "group_key": event.reading.group_key,
                "canceled": False,
                "late": event.late,
                "revision": 0,
                "create_time": now,
            }
            for event in ordered
        ]
        # SQLite: one cached statement, sent as multi-row VALUES (insertmanyvalues).
        insert = self._insert(t.usage_events).on_conflict_do_nothing().returning(_e.id)
        result = self._conn.execute(insert, rows)
        return {row.id for row in result}

    def _insert_json(
        self, tenant_id: str, events: Sequence[NewEvent], *, now: datetime
    ) -> set[str]:
        """PostgreSQL: the whole batch in one statement whose text never changes (so
        nothing is compiled per batch, whatever its size), its rows as one JSON text."""
        rows = [
            (
                e.id,
                e.meter_id,
                e.customer_id,
                e.timestamp,
                e.properties,
                e.fingerprint,
                e.reading.value_micros,
                e.reading.unique_value,
                e.reading.group_key,
                e.late,
            )
            for e in events
        ]
        result = _INSERT_EVENTS.execute(self._conn, rows, tenant_id=tenant_id, now=now)
        return {row[0] for row in result}

    def add_to_rollups(
        self, tenant_id: str, meters: Mapping[str, Meter], events: Sequence[NewEvent]
    ) -> None:
        folded = _fold(
            (e.customer_id, e.meter_id, e.timestamp, e.id, e.reading, e.late) for e in events
        )
        self._upsert_rollups(tenant_id, folded, add=True)

    def _upsert_rollups(
        self, tenant_id: str, folded: Mapping[_Key, Aggregate], *, add: bool
    ) -> None:
        if not folded:
            return
        keys = sorted(folded)
        rows = [_rollup_row(tenant_id, key, folded[key]) for key in keys]
        # One prebuilt statement per dialect, its rows bound at execution (sent in
        # one round trip): nothing is built or compiled per batch.
        if add:
            self._conn.execute(_ADD_TO_ROLLUPS[self._dialect], rows)
        else:
            self._conn.execute(self._insert(t.usage_rollups), rows)
        uniques = sorted({(*key, value) for key in keys for value in folded[key].uniques})
        if uniques:
            unique_rows = [
                {
                    "tenant_id": tenant_id,
                    "customer_id": c,
                    "meter_id": m,
                    "bucket_start": b,
                    "group_key": g,
                    "late": late,
                    "value": v,
                    "event_count": 1,
                }
                for c, m, b, g, late, v in uniques
            ]
            insert_u = self._insert(t.usage_unique_values).values(unique_rows)
            insert_u = insert_u.on_conflict_do_update(
                index_elements=[*_ROLLUP_KEY, "value"],
                set_={"event_count": literal_column("usage_unique_values.event_count + 1")},
            )
            self._conn.execute(insert_u)

    def get_event(
        self, tenant_id: str, event_id: str, *, for_update: bool = False
    ) -> StoredEvent | None:
        query = select(t.usage_events).where(_e.tenant_id == tenant_id, _e.id == event_id)
        if for_update and self._dialect == "postgresql":
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return None if row is None else _event_from_row(row)

    def correct_event(
        self,
        event: StoredEvent,
        *,
        action: str,
        reason: str,
        actor: str,
        previous: Mapping[str, str],
        now: datetime,
    ) -> None:
        self._conn.execute(
            update(t.usage_events)
            .where(_e.tenant_id == event.tenant_id, _e.id == event.id)
            .values(
                properties=event.properties,
                value_micros=event.value_micros,
                unique_value=event.unique_value,
                group_key=event.group_key,
                canceled=event.canceled,
                revision=event.revision,
            )
        )
        self._conn.execute(
            t.usage_event_corrections.insert().values(
                tenant_id=event.tenant_id,
                event_id=event.id,
                revision=event.revision,
                action=action,
                reason=reason,
                actor=actor,
                previous_properties=dict(previous),
                create_time=now,
            )
        )

    def rebuild_bucket(
        self, tenant_id: str, customer_id: str, meter_id: str, instant: datetime
    ) -> None:
        start = bucket_of(instant)
        where_r = and_(
            _r.tenant_id == tenant_id,
            _r.customer_id == customer_id,
            _r.meter_id == meter_id,
            _r.bucket_start == start,
        )
        self._conn.execute(delete(t.usage_rollups).where(where_r))
        self._conn.execute(
            delete(t.usage_unique_values).where(
                _u.tenant_id == tenant_id,
                _u.customer_id == customer_id,
                _u.meter_id == meter_id,
                _u.bucket_start == start,
            )
        )
        scope = _Scope(tenant_id, customer_id, meter_id, None)
        rows = self._raw_rows(scope, start, start + BUCKET)
        folded = _fold(
            (customer_id, meter_id, row.timestamp, row.id, _reading(row), row.late) for row in rows
        )
        self._upsert_rollups(tenant_id, folded, add=False)

    # -- billed usage ---------------------------------------------------------

    def add_billings(self, rows: Sequence[BilledUsage]) -> None:
        if rows:
            self._conn.execute(t.usage_billings.insert(), [dataclasses.asdict(row) for row in rows])

    def billings(
        self, tenant_id: str, subscription_id: str, *, ending_from: datetime
    ) -> list[BilledUsage]:
        """What the subscription's metered lines billed for usage periods ending at or
        after `ending_from` (the periods that late usage or a correction may still change)."""
        rows = self._conn.execute(
            select(t.usage_billings)
            .where(
                _b.tenant_id == tenant_id,
                _b.subscription_id == subscription_id,
                _b.period_end >= ending_from,
            )
            .order_by(_b.period_end, _b.id)
        )
        return [BilledUsage(**row._mapping) for row in rows]

    # -- reading --------------------------------------------------------------

    def _insert(self, table: Any) -> Any:
        module = postgresql if self._dialect == "postgresql" else sqlite
        return module.insert(table)


# What identifies an hourly rollup (and, with the value, a unique value's count).
_ROLLUP_KEY = ("tenant_id", "customer_id", "meter_id", "bucket_start", "group_key", "late")


def _add_to_rollups(dialect: Any) -> Any:
    """Upsert of hourly rollups that adds a batch's aggregates to the stored ones."""
    greatest = "greatest" if dialect is postgresql else "max"
    newer = (
        "(excluded.last_time > usage_rollups.last_time"
        " OR (excluded.last_time = usage_rollups.last_time"
        " AND excluded.last_event_id > usage_rollups.last_event_id))"
    )
    return dialect.insert(t.usage_rollups).on_conflict_do_update(
        index_elements=list(_ROLLUP_KEY),
        set_={
            "event_count": literal_column("usage_rollups.event_count + excluded.event_count"),
            "sum_micros": literal_column("usage_rollups.sum_micros + excluded.sum_micros"),
            "max_micros": literal_column(
                f"{greatest}(usage_rollups.max_micros, excluded.max_micros)"
            ),
            **{
                name: literal_column(
                    f"CASE WHEN {newer} THEN excluded.{name} ELSE usage_rollups.{name} END"
                )
                for name in ("last_time", "last_event_id", "last_micros")
            },
        },
    )


_ADD_TO_ROLLUPS = {"postgresql": _add_to_rollups(postgresql), "sqlite": _add_to_rollups(sqlite)}
_Key = tuple[str, str, datetime, str, bool]


def _fold(
    items: Iterable[tuple[str, str, datetime, str, Reading, bool]],
) -> dict[_Key, Aggregate]:
    """Events grouped by (customer, meter, hour, group, late) into one aggregate each."""
    folded: dict[_Key, Aggregate] = defaultdict(Aggregate)
    for customer_id, meter_id, timestamp, event_id, reading, late in items:
        key = (customer_id, meter_id, bucket_of(timestamp), reading.group_key, late)
        folded[key].add(timestamp, event_id, reading)
    return folded


def _rollup_row(tenant_id: str, key: _Key, aggregate: Aggregate) -> dict[str, Any]:
    customer_id, meter_id, bucket_start, group, late = key
    assert aggregate.last is not None and aggregate.max_micros is not None
    return {
        "tenant_id": tenant_id,
        "customer_id": customer_id,
        "meter_id": meter_id,
        "bucket_start": bucket_start,
        "group_key": group,
        "late": late,
        "event_count": aggregate.count,
        "sum_micros": aggregate.sum_micros,
        "max_micros": aggregate.max_micros,
        "last_time": aggregate.last[0],
        "last_event_id": aggregate.last[1],
        "last_micros": aggregate.last[2],
    }


def _meter_row(meter: Meter) -> dict[str, Any]:
    return {
        "tenant_id": meter.tenant_id,
        "id": meter.id,
        "display_name": meter.display_name,
        "aggregation": meter.aggregation.value,
        "value_property": meter.value_property,
        "dimension_keys": list(meter.dimension_keys),
        "grace_seconds": int(meter.grace.total_seconds()),
        "allow_negative": meter.allow_negative,
        "archived": meter.archived,
        "create_time": meter.create_time,
        "update_time": meter.update_time,
    }


def _meter_from_row(row: Any) -> Meter:
    return Meter(
        tenant_id=row.tenant_id,
        id=row.id,
        display_name=row.display_name,
        aggregation=Aggregation(row.aggregation),
        value_property=row.value_property,
        dimension_keys=tuple(row.dimension_keys),
        grace=timedelta(seconds=row.grace_seconds),
        allow_negative=row.allow_negative,
        archived=row.archived,
        create_time=row.create_time,
        update_time=row.update_time,
    )


def _event_from_row(row: Any) -> StoredEvent:
    return StoredEvent(
        tenant_id=row.tenant_id,
        id=row.id,
        meter_id=row.meter_id,
        customer_id=row.customer_id,
        timestamp=row.timestamp,
        properties=dict(row.properties),
        fingerprint=row.fingerprint,
        value_micros=int(row.value_micros),
        unique_value=row.unique_value,
        group_key=row.group_key,
        canceled=row.canceled,
        revision=int(row.revision),
        create_time=row.create_time,
    )
