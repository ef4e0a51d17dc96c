"""The test clocks' ports in memory, and an advance's view of a clock with nothing on it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from accrue.kernel.paging import PageRequest
from accrue.test_clocks.model import ClockState, TestClock
from tests.fakes.event_log import FakeEvents
from tests.fakes.transactions import FakeDatabase, FakeUnitOfWork


class FakeClocks:
    """TestClockRepository in memory, listed by id like the SQL one."""

    def __init__(self, tx: FakeUnitOfWork) -> None:
        self._tx = tx

    @property
    def _rows(self) -> dict[str, TestClock]:
        return self._tx.table("test_clocks")

    def add(self, clock: TestClock) -> None:
        self._rows[clock.id] = clock

    def get(self, tenant_id: str, clock_id: str, *, for_update: bool = False) -> TestClock | None:
        found = self._rows.get(clock_id)
        return found if found is not None and found.tenant_id == tenant_id else None

    def update(self, clock: TestClock) -> None:
        assert clock.id in self._rows, "update of a clock never added"
        self._rows[clock.id] = clock

    def list(self, tenant_id: str, page: PageRequest) -> Sequence[TestClock]:
        found = [
            c
            for c in sorted(self._rows.values(), key=lambda c: c.id)
            if c.tenant_id == tenant_id and c.id > page.after_id
        ]
        return found[: page.size + 1]

    def claim_advancing(self, *, limit: int, lock: bool = True) -> Sequence[tuple[str, str]]:
        advancing = [c for c in self._rows.values() if c.state is ClockState.ADVANCING]
        return [(c.tenant_id, c.id) for c in sorted(advancing, key=lambda c: c.id)][:limit]


class NothingDue:
    """Subscriptions and invoices of a clock nobody is attached to: nothing ever comes due."""

    def due_on_clock(self, tenant_id: str, clock_id: str, **_: Any) -> Sequence[Any]:
        return []

    def collections_on_clock(self, tenant_id: str, clock_id: str, **_: Any) -> Sequence[Any]:
        return []


class FakeClocksUnitOfWork(FakeUnitOfWork):
    """ClocksUnitOfWork (the clock and the outbox), plus what an advance's runner
    asks of subscriptions and invoices - here, that nothing is due."""

    def __init__(self, db: FakeDatabase, write: bool) -> None:
        super().__init__(db, write=write)
        self.test_clocks = FakeClocks(self)
        self.events = FakeEvents(self)
        self.subscriptions = NothingDue()
        self.invoices = NothingDue()


def committed_clock(db: FakeDatabase, clock_id: str) -> TestClock:
    clock: TestClock = db.rows("test_clocks")[clock_id]
    return clock
