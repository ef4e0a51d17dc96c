"""The test clock use cases on in-memory fakes of their narrow port: no SQL, no server.

What a caller relies on: a clock created reads back; a retry is answered from
the stored response; an unknown clock is a typed NotFound; an advance is
committed *before* this process's runner is woken and waited for (a runner
woken earlier would find nothing to do), a caller that waits sees the clock
settled at its target, and one that does not sees it ADVANCING; a clock that
is still advancing, or asked to go back in time, refuses with a typed error.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accrue.event_log.service import EventRecorder
from accrue.kernel.errors import InvalidState, NotFound, TestClockAdvancing
from accrue.kernel.ids import IdGenerator
from accrue.kernel.paging import PageRequest
from accrue.platform.clock import FixedClock
from accrue.platform.idempotency import MutationRunner
from accrue.test_clocks.model import ClockState, TestClock
from accrue.test_clocks.service import TestClockRunner, TestClockService
from accrue.test_clocks.use_cases import TestClockUseCases
from tests.fakes.event_log import event_types
from tests.fakes.test_clocks import FakeClocksUnitOfWork, committed_clock
from tests.fakes.transactions import FakeDatabase, FakeUnitOfWorkFactory, replay

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
START = datetime(2026, 1, 1, tzinfo=UTC)
TENANT = "ten_a"


class RecordingClocks(TestClockService):
    """The real service, noting each step of an advance and what was committed then.

    With `run_on_poke`, waking the runner runs it at once in this thread, as the
    runner thread of `accrue serve` would."""

    def __init__(self, db: FakeDatabase, *, run_on_poke: bool, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._db = db
        self._run_on_poke = run_on_poke
        self.steps: list[tuple[str, ClockState]] = []

    def _committed_state(self) -> ClockState:
        # Every advance that gets as far as waking the runner is of the first clock.
        clock: TestClock = min(self._db.rows("test_clocks").values(), key=lambda c: c.id)
        return clock.state

    def poke(self) -> None:
        self.steps.append(("poke", self._committed_state()))
        super().poke()
        if self._run_on_poke:
            TestClockRunner(self).run_until_idle()

    def wait(self, tenant_id: str, clock_id: str, *, timeout: float) -> TestClock:
        self.steps.append(("wait", self._committed_state()))
        return super().wait(tenant_id, clock_id, timeout=timeout)


def build(*, run_on_poke: bool = True) -> tuple[TestClockUseCases, RecordingClocks, FakeDatabase]:
    db = FakeDatabase()
    clock = FixedClock(NOW)
    ids = IdGenerator(clock)
    factory = FakeUnitOfWorkFactory(db, FakeClocksUnitOfWork)
    service = RecordingClocks(
        db,
        run_on_poke=run_on_poke,
        uow_factory=factory,
        clock=clock,
        ids=ids,
        events=EventRecorder(clock, ids, lambda: "trace"),
        billing=None,  # nothing is due on these clocks: no step is ever planned
        collections=None,
    )
    return TestClockUseCases(factory, MutationRunner(factory, clock), service), service, db


def create(use_cases: TestClockUseCases, request_id: str = "") -> TestClock:
    outcome = use_cases.create(
        TENANT, display_name="q1", frozen_time=START, replay=replay(TENANT, request_id)
    )
    assert outcome.value is not None
    return outcome.value


def test_a_created_clock_reads_back_and_lists() -> None:
    use_cases, _, db = build()
    created = create(use_cases)

    assert use_cases.get(TENANT, created.id) == created
    assert created.state is ClockState.READY and created.frozen_time == START
    assert use_cases.list_clocks(TENANT, PageRequest(10, "", "q")).items == [created]
    assert event_types(db, TENANT) == ["test_clock.created"]


def test_a_retried_create_is_answered_from_the_stored_response() -> None:
    use_cases, _, db = build()
    first = create(use_cases, "req-1")
    again = use_cases.create(
        TENANT, display_name="q1", frozen_time=START, replay=replay(TENANT, "req-1")
    )

    assert again.value is None and again.replayed == repr(first).encode()
    assert len(db.rows("test_clocks")) == 1


def test_an_unknown_or_foreign_clock_is_not_found() -> None:
    use_cases, _, _ = build()
    created = create(use_cases)

    with pytest.raises(NotFound):
        use_cases.get(TENANT, "clock_missing")
    with pytest.raises(NotFound):
        use_cases.get("ten_b", created.id)
    with pytest.raises(NotFound):
        use_cases.advance("ten_b", created.id, START, replay("ten_b"), wait=False)


def test_an_advance_is_committed_before_the_runner_is_woken_and_not_waited_for() -> None:
    use_cases, service, db = build(run_on_poke=False)
    created = create(use_cases)
    target = START + timedelta(days=31)

    advance = use_cases.advance(TENANT, created.id, target, replay(TENANT), wait=False)

    assert service.steps == [("poke", ClockState.ADVANCING)]
    assert service.wakeup.is_set()
    assert advance.settled is None and advance.started.value is not None
    assert advance.started.value.state is ClockState.ADVANCING
    assert advance.started.value.target_time == target
    assert committed_clock(db, created.id).frozen_time == START  # the runner moves it, later


def test_a_caller_that_waits_sees_the_clock_settled_at_its_target() -> None:
    use_cases, service, db = build()
    created = create(use_cases)
    target = START + timedelta(days=31)

    advance = use_cases.advance(TENANT, created.id, target, replay(TENANT), wait=True)

    assert [step for step, _ in service.steps] == ["poke", "wait"]
    assert service.steps[0] == ("poke", ClockState.ADVANCING)
    assert advance.settled is not None
    assert advance.settled.state is ClockState.READY and advance.settled.frozen_time == target
    assert event_types(db, TENANT) == [
        "test_clock.created",
        "test_clock.advanced",
        "test_clock.ready",
    ]


def test_a_waiting_caller_gets_the_advancing_clock_when_time_runs_out() -> None:
    use_cases, _, _ = build(run_on_poke=False)
    created = create(use_cases)

    advance = use_cases.advance(
        TENANT, created.id, START + timedelta(days=1), replay(TENANT), wait=True, wait_seconds=0
    )

    assert advance.settled is not None and advance.settled.state is ClockState.ADVANCING


def test_a_retried_advance_is_answered_from_the_stored_response_and_still_waits() -> None:
    use_cases, service, db = build()
    created = create(use_cases)
    target = START + timedelta(days=3)
    first = use_cases.advance(TENANT, created.id, target, replay(TENANT, "adv-1"), wait=False)

    again = use_cases.advance(TENANT, created.id, target, replay(TENANT, "adv-1"), wait=True)

    assert again.started.replayed == repr(first.started.value).encode()
    assert again.settled is not None and again.settled.frozen_time == target
    assert event_types(db, TENANT).count("test_clock.advanced") == 1
    assert [step for step, _ in service.steps] == ["poke", "poke", "wait"]


def test_an_advancing_clock_and_a_move_back_in_time_are_refused() -> None:
    use_cases, _, db = build(run_on_poke=False)
    created = create(use_cases)
    use_cases.advance(TENANT, created.id, START + timedelta(days=1), replay(TENANT), wait=False)

    with pytest.raises(TestClockAdvancing):
        use_cases.advance(TENANT, created.id, START + timedelta(days=2), replay(TENANT), wait=False)
    assert committed_clock(db, created.id).target_time == START + timedelta(days=1)

    fresh = create(use_cases)
    with pytest.raises(InvalidState):
        use_cases.advance(TENANT, fresh.id, START - timedelta(days=1), replay(TENANT), wait=False)
    assert committed_clock(db, fresh.id).state is ClockState.READY
