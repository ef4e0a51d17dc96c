"""The test clock's advance states: ADVANCING -> READY or FAILED, progress, refusal."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from accrue.kernel.errors import InvalidState, TestClockAdvancing
from accrue.test_clocks.model import (
    ClockFailure,
    ClockState,
    TestClock,
    failed,
    finished,
    progressed,
    start_advance,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def clock() -> TestClock:
    return TestClock("clock_1", "ten_1", "", T0, 5, T0, T0)


def test_an_advance_runs_to_ready_with_its_progress() -> None:
    to = datetime(2027, 1, 1, tzinfo=UTC)
    moving = start_advance(clock(), to, now=NOW)
    assert (moving.state, moving.target_time, moving.frozen_time) == (ClockState.ADVANCING, to, T0)
    assert moving.advance_work_items_run == 0
    halfway = progressed(moving, reached=datetime(2026, 7, 1, tzinfo=UTC), work_items=6)
    assert (halfway.frozen_time, halfway.advance_work_items_run, halfway.work_items_run) == (
        datetime(2026, 7, 1, tzinfo=UTC),
        6,
        11,
    )
    assert progressed(halfway, reached=T0, work_items=0).frozen_time == halfway.frozen_time
    done = finished(halfway, now=NOW)
    assert (done.state, done.frozen_time, done.target_time) == (ClockState.READY, to, None)
    assert done.advance_work_items_run == 6


def test_a_second_advance_is_refused_while_one_runs_but_not_after_a_failure() -> None:
    moving = start_advance(clock(), datetime(2027, 1, 1, tzinfo=UTC), now=NOW)
    with pytest.raises(TestClockAdvancing) as refused:
        start_advance(moving, datetime(2028, 1, 1, tzinfo=UTC), now=NOW)
    assert refused.value.reason == "TEST_CLOCK_ADVANCING"
    assert refused.value.metadata == {"target_time": "2027-01-01T00:00:00+00:00"}

    stopped = failed(moving, ClockFailure("AMOUNT_OUT_OF_RANGE", "too much", T0), now=NOW)
    assert stopped.state is ClockState.FAILED and stopped.failure is not None
    again = start_advance(stopped, datetime(2027, 1, 1, tzinfo=UTC), now=NOW)
    assert (again.state, again.failure) == (ClockState.ADVANCING, None)


def test_an_advance_into_the_past_is_refused() -> None:
    with pytest.raises(InvalidState):
        start_advance(clock(), datetime(2025, 12, 31, tzinfo=UTC), now=NOW)
