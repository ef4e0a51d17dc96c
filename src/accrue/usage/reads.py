"""Reading usage: a period's aggregates from the hourly rollups plus the raw events of
its partial hours (periods start at any second), never a scan of the whole period.

Count, sum and max come from one statement (the rollups of the whole hours UNION ALL
the raw events of the partial ones, grouped once); LAST and UNIQUE_COUNT, which do not
add up, read their own columns and tables.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    func,
    literal_column,
    select,
    union,
    union_all,
)

from accrue.kernel.calendar import Period
from accrue.usage import tables as t
from accrue.usage.model import BUCKET, Aggregate, Aggregation, Meter, Reading, bucket_of

_e = t.usage_events.c
_r = t.usage_rollups.c
_u = t.usage_unique_values.c


class UsageReads:
    """The reading half of the usage store (`SqlUsageStore` adds the writes)."""

    _conn: Connection

    def period_aggregates(
        self,
        tenant_id: str,
        customer_id: str,
        meter: Meter,
        period: Period,
        *,
        late: bool | None = None,
    ) -> dict[str, Aggregate]:
        groups: dict[str, Aggregate] = defaultdict(Aggregate)
        whole, edges = _split(period)
        scope = _Scope(tenant_id, customer_id, meter.id, late)
        self._sums(groups, scope, whole, edges)
        if meter.aggregation is Aggregation.LAST:
            if whole is not None:
                self._rollup_last(groups, scope, whole)
            for lo, hi in edges:
                self._raw_last(groups, scope, lo, hi)
        if meter.aggregation is Aggregation.UNIQUE_COUNT:
            for key, count in self._unique_counts(scope, period, by_group=True).items():
                groups[key].unique_count = count
        return dict(groups)

    def period_unique_total(
        self,
        tenant_id: str,
        customer_id: str,
        meter: Meter,
        period: Period,
        *,
        late: bool | None = None,
    ) -> int:
        scope = _Scope(tenant_id, customer_id, meter.id, late)
        counts = self._unique_counts(scope, period, by_group=False)
        return counts.get("", 0)

    def raw_aggregates(
        self, tenant_id: str, customer_id: str, meter: Meter, period: Period
    ) -> dict[str, Aggregate]:
        groups: dict[str, Aggregate] = defaultdict(Aggregate)
        scope = _Scope(tenant_id, customer_id, meter.id, None)
        for row in self._raw_rows(scope, period.start, period.end):
            groups[row.group_key].add(row.timestamp, row.id, _reading(row))
        for aggregate in groups.values():
            aggregate.unique_count = len(aggregate.uniques)
            aggregate.uniques = set()
        return dict(groups)

    def _sums(
        self,
        groups: dict[str, Aggregate],
        scope: _Scope,
        whole: tuple[datetime, datetime] | None,
        edges: list[tuple[datetime, datetime]],
    ) -> None:
        """Count, sum and max per group in one statement: the whole hours' rollups
        and the partial hours' raw events, UNION ALL, grouped once."""
        params: dict[str, Any] = {
            "t_id": scope.tenant_id,
            "c_id": scope.customer_id,
            "m_id": scope.meter_id,
        }
        if whole is not None:
            params |= {"w_lo": whole[0], "w_hi": whole[1]}
        for n, (lo, hi) in enumerate(edges):
            params |= {f"lo_{n}": lo, f"hi_{n}": hi}
        query = _sums_statement(whole is not None, len(edges), scope.late)
        for key, count, total, largest in self._conn.execute(query, params):
            part = Aggregate(count=int(count), sum_micros=int(total), max_micros=int(largest))
            groups[key].merge(part)

    def _rollup_last(
        self, groups: dict[str, Aggregate], scope: _Scope, whole: tuple[datetime, datetime]
    ) -> None:
        latest = self._conn.execute(
            select(_r.group_key, _r.last_time, _r.last_event_id, _r.last_micros).where(
                _rollup_where(scope, whole)
            )
        )
        for row in latest:
            _newer(groups[row.group_key], (row.last_time, row.last_event_id, int(row.last_micros)))

    def _raw_last(
        self, groups: dict[str, Aggregate], scope: _Scope, lo: datetime, hi: datetime
    ) -> None:
        for row in self._raw_rows(scope, lo, hi):
            _newer(groups[row.group_key], (row.timestamp, row.id, int(row.value_micros)))

    def _unique_counts(self, scope: _Scope, period: Period, *, by_group: bool) -> dict[str, int]:
        whole, edges = _split(period)
        parts: list[Any] = []
        if whole is not None:
            where = and_(
                _u.tenant_id == scope.tenant_id,
                _u.customer_id == scope.customer_id,
                _u.meter_id == scope.meter_id,
                _u.bucket_start >= whole[0],
                _u.bucket_start < whole[1],
            )
            if scope.late is not None:
                where = and_(where, _u.late.is_(scope.late))
            parts.append(select(_u.group_key.label("g"), _u.value.label("v")).where(where))
        for lo, hi in edges:
            parts.append(
                select(_e.group_key.label("g"), _e.unique_value.label("v")).where(
                    _raw_where(scope, lo, hi)
                )
            )
        if not parts:
            return {}
        combined: Any = union(*parts) if len(parts) > 1 else parts[0]
        values = combined.subquery()
        if by_group:
            query = select(values.c.g, func.count(values.c.v.distinct())).group_by(values.c.g)
            return {row[0]: int(row[1]) for row in self._conn.execute(query)}
        total = self._conn.execute(select(func.count(values.c.v.distinct()))).scalar_one()
        return {"": int(total)}

    def _raw_rows(self, scope: _Scope, lo: datetime, hi: datetime) -> Sequence[Any]:
        return list(
            self._conn.execute(
                select(
                    _e.id, _e.timestamp, _e.value_micros, _e.unique_value, _e.group_key, _e.late
                ).where(_raw_where(scope, lo, hi))
            )
        )


@dataclass(frozen=True, slots=True)
class _Scope:
    """One customer's events of one meter; `late` None means on time and late alike."""

    tenant_id: str
    customer_id: str
    meter_id: str
    late: bool | None


@lru_cache(maxsize=32)
def _sums_statement(has_whole: bool, edges: int, late: bool | None) -> Any:
    """`_sums`'s statement for one shape of period (whole hours or not, 0-2 partial
    hours, which events), with the values bound at execution. Built once per shape:
    building a UNION of selects is a good part of a live read's own work."""
    bound: Any = {name: bindparam(name) for name in ("t_id", "c_id", "m_id")}
    scope = _Scope(bound["t_id"], bound["c_id"], bound["m_id"], late)
    parts: list[Any] = []
    if has_whole:
        whole: Any = (bindparam("w_lo"), bindparam("w_hi"))
        parts.append(
            select(
                _r.group_key.label("g"),
                _r.event_count.label("n"),
                _r.sum_micros.label("s"),
                _r.max_micros.label("mx"),
            ).where(_rollup_where(scope, whole))
        )
    for n in range(edges):
        lo: Any = bindparam(f"lo_{n}")
        hi: Any = bindparam(f"hi_{n}")
        parts.append(
            select(
                _e.group_key.label("g"),
                literal_column("1").label("n"),
                _e.value_micros.label("s"),
                _e.value_micros.label("mx"),
            ).where(_raw_where(scope, lo, hi))
        )
    combined: Any = union_all(*parts) if len(parts) > 1 else parts[0]
    both = combined.subquery()
    return select(both.c.g, func.sum(both.c.n), func.sum(both.c.s), func.max(both.c.mx)).group_by(
        both.c.g
    )


def _newer(aggregate: Aggregate, candidate: tuple[datetime, str, int]) -> None:
    if aggregate.last is None or candidate[:2] > aggregate.last[:2]:
        aggregate.last = candidate


def _rollup_where(scope: _Scope, whole: tuple[datetime, datetime]) -> Any:
    where = and_(
        _r.tenant_id == scope.tenant_id,
        _r.customer_id == scope.customer_id,
        _r.meter_id == scope.meter_id,
        _r.bucket_start >= whole[0],
        _r.bucket_start < whole[1],
    )
    return where if scope.late is None else and_(where, _r.late.is_(scope.late))


def _raw_where(scope: _Scope, lo: datetime, hi: datetime) -> Any:
    where = and_(
        _e.tenant_id == scope.tenant_id,
        _e.customer_id == scope.customer_id,
        _e.meter_id == scope.meter_id,
        _e.timestamp >= lo,
        _e.timestamp < hi,
        _e.canceled.is_(False),
    )
    return where if scope.late is None else and_(where, _e.late.is_(scope.late))


def _split(
    period: Period,
) -> tuple[tuple[datetime, datetime] | None, list[tuple[datetime, datetime]]]:
    """The whole hours inside `period`, and the partial ones at its ends."""
    first = bucket_of(period.start)
    if first < period.start:
        first += BUCKET
    last = bucket_of(period.end)
    if first >= last:
        return None, [(period.start, period.end)]
    edges = []
    if period.start < first:
        edges.append((period.start, first))
    if last < period.end:
        edges.append((last, period.end))
    return (first, last), edges


def _reading(row: Any) -> Reading:
    return Reading(
        value_micros=int(row.value_micros), unique_value=row.unique_value, group_key=row.group_key
    )
