"""SQL persistence of test clocks and subscriptions, and the scheduler's queries.

A subscription row carries `next_action_time`, derived from the aggregate by
`scheduled_work` on every write, so finding due work is an index range scan
rather than a decoding of every subscription's JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    bindparam,
    insert,
    select,
    tuple_,
    update,
)

from accrue.invoicing.codec import lines_json, lines_of
from accrue.invoicing.model import CollectionMethod
from accrue.kernel.calendar import BillingInterval, IntervalUnit, Period
from accrue.kernel.errors import ConcurrentModification
from accrue.kernel.paging import PageRequest
from accrue.platform.db.any_of import any_of
from accrue.platform.db.json_rows import encode_rows, json_value
from accrue.subscriptions import tables as t
from accrue.subscriptions.codec import anchor_json, anchor_of, items_json, items_of
from accrue.subscriptions.model import Pause, Subscription, SubscriptionStatus, scheduled_work
from accrue.subscriptions.ports import DueSubscription

_s = t.subscriptions.c
_GET_SUBSCRIPTION = select(t.subscriptions).where(
    _s.tenant_id == bindparam("tenant_id"), _s.id == bindparam("id")
)
_LOCK_SUBSCRIPTION = _GET_SUBSCRIPTION.with_for_update()
_INSERT_SUBSCRIPTION = insert(t.subscriptions)
_UPDATE_SUBSCRIPTION = update(t.subscriptions).where(
    _s.tenant_id == bindparam("key_tenant_id"),
    _s.id == bindparam("key_id"),
    _s.version == bindparam("expected_version"),
)
# Never rewritten: the row's key, and what a subscription is attached to.
_FIXED = frozenset({"tenant_id", "id", "customer_id", "test_clock_id", "create_time"})
_DUE_ON_CLOCK = (
    select(_s.tenant_id, _s.id, _s.next_action_time)
    .where(
        _s.tenant_id == bindparam("tenant_id"),
        _s.test_clock_id == bindparam("clock_id"),
        _s.next_action_time <= bindparam("until"),
    )
    .order_by(_s.next_action_time, _s.id)
    .limit(bindparam("limit"))
)
# Reads the head of the partial index ix_subscriptions_next_action_time_tenant_id_id.
_DUE_ON_REAL_TIME = (
    select(_s.tenant_id, _s.id, _s.next_action_time)
    .where(_s.test_clock_id.is_(None), _s.next_action_time <= bindparam("now"))
    .order_by(_s.next_action_time, _s.tenant_id, _s.id)
    .limit(bindparam("limit"))
)
# Workers skip each other's claimed rows instead of queueing behind them.
_CLAIM_DUE = _DUE_ON_REAL_TIME.with_for_update(skip_locked=True)


_BY_IDS = select(t.subscriptions).where(
    _s.tenant_id == bindparam("tenant_id"), any_of(_s.id, "ids")
)
# Re-claims named rows that are still due (a failed batch's halves); skips claimed ones.
_CLAIM_LISTED = (
    select(_s.tenant_id, _s.id, _s.next_action_time)
    .where(
        tuple_(_s.tenant_id, _s.id).in_(bindparam("keys", expanding=True)),
        _s.test_clock_id.is_(None),
        _s.next_action_time <= bindparam("now"),
    )
    .order_by(_s.next_action_time, _s.tenant_id, _s.id)
)
_CLAIM_LISTED_LOCKING = _CLAIM_LISTED.with_for_update(skip_locked=True)
_UPDATED = [c.name for c in t.subscriptions.columns if c.name not in _FIXED]
# What a row of `update_many` starts with: the key and the version it expects.
_KEYS = ("tenant_id", "id", "version")


def _update_many_statement() -> str:
    """One UPDATE of many rows on PostgreSQL, each guarded by its expected version.

    The rows travel as one JSON text of arrays (see `json_rows`): the statement
    text is the same whatever the batch size, so it is parsed and planned once,
    and the driver adapts one parameter instead of an array element per value.
    """
    names = [*_KEYS, *_UPDATED]
    values = [json_value(_s[name], i) for i, name in enumerate(names)]
    assignments = ", ".join(
        f"{name} = {value}" for name, value in zip(_UPDATED, values[len(_KEYS) :], strict=True)
    )
    key_tenant, key_id, expected = values[: len(_KEYS)]
    return (
        f"UPDATE subscriptions AS s SET {assignments}"  # noqa: S608 - names from the table
        " FROM jsonb_array_elements(CAST(%(rows)s AS jsonb)) AS r"
        f" WHERE s.tenant_id = {key_tenant} AND s.id = {key_id} AND s.version = {expected}"
    )


_UPDATE_MANY = _update_many_statement()


def _locking(conn: Connection, plain: Select[Any], locking: Select[Any], lock: bool) -> Any:
    # SQLite has no row locks; its writers already hold the database lock.
    return locking if lock and conn.dialect.name == "postgresql" else plain


class SqlSubscriptionRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, subscription: Subscription) -> None:
        self._conn.execute(_INSERT_SUBSCRIPTION, _subscription_row(subscription))

    def get(
        self, tenant_id: str, subscription_id: str, *, for_update: bool = False
    ) -> Subscription | None:
        query = _locking(self._conn, _GET_SUBSCRIPTION, _LOCK_SUBSCRIPTION, for_update)
        row = self._conn.execute(query, {"tenant_id": tenant_id, "id": subscription_id}).first()
        return None if row is None else _subscription_from_row(row)

    def update(self, subscription: Subscription, *, expected_version: int) -> None:
        values = {k: v for k, v in _subscription_row(subscription).items() if k not in _FIXED}
        params = {
            "key_tenant_id": subscription.tenant_id,
            "key_id": subscription.id,
            "expected_version": expected_version,
            **values,
        }
        if self._conn.execute(_UPDATE_SUBSCRIPTION, params).rowcount == 0:
            raise ConcurrentModification(
                f"subscription {subscription.id!r} changed since version {expected_version}"
                " was read; retry with the current one",
                metadata={
                    "resource_type": "subscription",
                    "resource_id": subscription.id,
                    "expected_version": str(expected_version),
                },
                retry_after_seconds=0.1,
            )

    def list(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        customer_id: str,
        status: SubscriptionStatus | None,
    ) -> Sequence[Subscription]:
        query = select(t.subscriptions).where(_s.tenant_id == tenant_id, _s.id > page.after_id)
        if customer_id:
            query = query.where(_s.customer_id == customer_id)
        if status is not None:
            query = query.where(_s.status == status.value)
        rows = self._conn.execute(query.order_by(_s.id).limit(page.size + 1))
        return [_subscription_from_row(row) for row in rows]

    def due_on_clock(
        self, tenant_id: str, clock_id: str, *, until: datetime, limit: int
    ) -> Sequence[DueSubscription]:
        params = {"tenant_id": tenant_id, "clock_id": clock_id, "until": until, "limit": limit}
        return [_due(row) for row in self._conn.execute(_DUE_ON_CLOCK, params)]

    def claim_due(self, *, now: datetime, limit: int) -> Sequence[DueSubscription]:
        query = _locking(self._conn, _DUE_ON_REAL_TIME, _CLAIM_DUE, True)
        return [_due(row) for row in self._conn.execute(query, {"now": now, "limit": limit})]

    def claim_listed(
        self, items: Sequence[DueSubscription], *, now: datetime
    ) -> Sequence[DueSubscription]:
        if not items:
            return []
        query = _locking(self._conn, _CLAIM_LISTED, _CLAIM_LISTED_LOCKING, True)
        keys = [(item.tenant_id, item.subscription_id) for item in items]
        return [_due(row) for row in self._conn.execute(query, {"keys": keys, "now": now})]

    def get_many(self, tenant_id: str, subscription_ids: Sequence[str]) -> dict[str, Subscription]:
        if not subscription_ids:
            return {}
        params = {"tenant_id": tenant_id, "ids": list(subscription_ids)}
        return {row.id: _subscription_from_row(row) for row in self._conn.execute(_BY_IDS, params)}

    def update_many(self, changes: Sequence[tuple[Subscription, int]]) -> None:
        if not changes:
            return
        if self._conn.dialect.name != "postgresql":
            # SQLite runs in-process: a statement per row costs no round trip.
            for subscription, expected_version in changes:
                self.update(subscription, expected_version=expected_version)
            return
        rows = []
        for subscription, expected_version in changes:
            row = _subscription_row(subscription)
            rows.append(
                (
                    subscription.tenant_id,
                    subscription.id,
                    expected_version,
                    *(row[name] for name in _UPDATED),
                )
            )
        updated = self._conn.exec_driver_sql(_UPDATE_MANY, {"rows": encode_rows(rows)}).rowcount
        if updated != len(changes):
            raise ConcurrentModification(
                f"{len(changes) - updated} of {len(changes)} subscriptions changed since they"
                " were read; retry with the current ones",
                metadata={"resource_type": "subscription"},
                retry_after_seconds=0.1,
            )


def _due(row: Any) -> DueSubscription:
    return DueSubscription(row.tenant_id, row.id, row.next_action_time)


def _subscription_row(sub: Subscription) -> dict[str, Any]:
    work = scheduled_work(sub)
    return {
        "tenant_id": sub.tenant_id,
        "id": sub.id,
        "customer_id": sub.customer_id,
        "test_clock_id": sub.test_clock_id or None,
        "status": sub.status.value,
        "currency_code": sub.currency_code,
        "items": items_json(sub.items),
        "anchor": anchor_json(sub.anchor),
        "interval_unit": sub.interval.unit.value,
        "interval_count": sub.interval.count,
        "period_start": sub.current_period.start,
        "period_end": sub.current_period.end,
        "trial_end": sub.trial_end,
        "cancel_at_period_end": sub.cancel_at_period_end,
        "canceled_at": sub.canceled_at,
        "pause_start": None if sub.pause is None else sub.pause.started_at,
        "pause_resume_at": None if sub.pause is None else sub.pause.resume_at,
        "pending_lines": lines_json(sub.pending_lines),
        "latest_invoice_id": sub.latest_invoice_id or None,
        "metadata": dict(sub.metadata),
        "version": sub.version,
        "create_time": sub.create_time,
        "update_time": sub.update_time,
        "next_action_time": None if work is None else work.at,
        "collection_method": sub.collection_method.value,
        "usage_open_until": sub.usage_open_until,
    }


def _subscription_from_row(row: Any) -> Subscription:
    pause = None
    if row.pause_start is not None:
        pause = Pause(started_at=row.pause_start, resume_at=row.pause_resume_at)
    return Subscription(
        id=row.id,
        tenant_id=row.tenant_id,
        customer_id=row.customer_id,
        status=SubscriptionStatus(row.status),
        items=items_of(row.items),
        anchor=anchor_of(row.anchor),
        interval=BillingInterval(IntervalUnit(row.interval_unit), row.interval_count),
        current_period=Period(row.period_start, row.period_end),
        create_time=row.create_time,
        trial_end=row.trial_end,
        cancel_at_period_end=bool(row.cancel_at_period_end),
        canceled_at=row.canceled_at,
        pause=pause,
        version=row.version,
        test_clock_id=row.test_clock_id or "",
        metadata=dict(row.metadata),
        pending_lines=lines_of(row.pending_lines),
        latest_invoice_id=row.latest_invoice_id or "",
        update_time=row.update_time,
        collection_method=CollectionMethod(row.collection_method),
        usage_open_until=row.usage_open_until,
    )
