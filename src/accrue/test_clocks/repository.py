"""SQL persistence of test clocks, and the query that finds clocks with an advance to run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    bindparam,
    insert,
    select,
    update,
)

from accrue.kernel.paging import PageRequest
from accrue.test_clocks import tables as t
from accrue.test_clocks.model import ClockFailure, ClockState, TestClock

_FIXED = frozenset({"tenant_id", "id", "create_time"})


def _locking(conn: Connection, plain: Select[Any], locking: Select[Any], lock: bool) -> Any:
    # SQLite has no row locks; its writers already hold the database lock.
    return locking if lock and conn.dialect.name == "postgresql" else plain


_c = t.test_clocks.c


_GET_CLOCK = select(t.test_clocks).where(
    _c.tenant_id == bindparam("tenant_id"), _c.id == bindparam("id")
)


_LOCK_CLOCK = _GET_CLOCK.with_for_update()


_ADVANCING = (
    select(_c.tenant_id, _c.id)
    .where(_c.state == ClockState.ADVANCING.value)
    .order_by(_c.update_time, _c.tenant_id, _c.id)
    .limit(bindparam("limit"))
)


_CLAIM_ADVANCING = _ADVANCING.with_for_update(skip_locked=True)


_INSERT_CLOCK = insert(t.test_clocks)


# The SET clause comes from the parameters; the key's names differ from the
# columns' because SQLAlchemy reserves column names for SET values.
_UPDATE_CLOCK = update(t.test_clocks).where(
    _c.tenant_id == bindparam("key_tenant_id"), _c.id == bindparam("key_id")
)


class SqlTestClockRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, clock: TestClock) -> None:
        self._conn.execute(_INSERT_CLOCK, _clock_row(clock))

    def get(self, tenant_id: str, clock_id: str, *, for_update: bool = False) -> TestClock | None:
        query = _locking(self._conn, _GET_CLOCK, _LOCK_CLOCK, for_update)
        row = self._conn.execute(query, {"tenant_id": tenant_id, "id": clock_id}).first()
        return None if row is None else _clock_from_row(row)

    def update(self, clock: TestClock) -> None:
        values = {k: v for k, v in _clock_row(clock).items() if k not in _FIXED}
        params = {"key_tenant_id": clock.tenant_id, "key_id": clock.id, **values}
        self._conn.execute(_UPDATE_CLOCK, params)

    def claim_advancing(self, *, limit: int, lock: bool = True) -> Sequence[tuple[str, str]]:
        """(tenant id, clock id) of clocks with an advance to run; with `lock`, none
        locked by another transaction (SKIP LOCKED on PostgreSQL)."""
        query = _locking(self._conn, _ADVANCING, _CLAIM_ADVANCING, lock)
        return [(row.tenant_id, row.id) for row in self._conn.execute(query, {"limit": limit})]

    def list(self, tenant_id: str, page: PageRequest) -> Sequence[TestClock]:
        query = select(t.test_clocks).where(_c.tenant_id == tenant_id, _c.id > page.after_id)
        rows = self._conn.execute(query.order_by(_c.id).limit(page.size + 1))
        return [_clock_from_row(row) for row in rows]


def _clock_row(clock: TestClock) -> dict[str, Any]:
    return {
        "tenant_id": clock.tenant_id,
        "id": clock.id,
        "display_name": clock.display_name,
        "frozen_time": clock.frozen_time,
        "work_items_run": clock.work_items_run,
        "create_time": clock.create_time,
        "update_time": clock.update_time,
        "state": clock.state.value,
        "target_time": clock.target_time,
        "advance_work_items_run": clock.advance_work_items_run,
        "failure_reason": clock.failure.reason if clock.failure else None,
        "failure_message": clock.failure.message if clock.failure else None,
        "failure_time": clock.failure.step_time if clock.failure else None,
    }


def _clock_from_row(row: Any) -> TestClock:
    failure = None
    if row.failure_reason is not None:
        failure = ClockFailure(row.failure_reason, row.failure_message or "", row.failure_time)
    return TestClock(
        id=row.id,
        tenant_id=row.tenant_id,
        display_name=row.display_name,
        frozen_time=row.frozen_time,
        work_items_run=row.work_items_run,
        create_time=row.create_time,
        update_time=row.update_time,
        state=ClockState(row.state),
        target_time=row.target_time,
        advance_work_items_run=row.advance_work_items_run,
        failure=failure,
    )
