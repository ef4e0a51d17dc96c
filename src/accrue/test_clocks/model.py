"""Test clocks: simulated time that only moves forward when told to."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime

from accrue.kernel.calendar import utc_text
from accrue.kernel.clock import whole_second
from accrue.kernel.errors import (
    InvalidState,
    PreconditionViolation,
    TestClockAdvancing,
)


class ClockState(enum.Enum):
    READY = "READY"
    ADVANCING = "ADVANCING"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class ClockFailure:
    """The typed error of the step an advance stopped at."""

    reason: str
    message: str
    step_time: datetime


@dataclass(frozen=True, slots=True)
class TestClock:
    __test__ = False  # not a pytest test class, whatever its name

    id: str
    tenant_id: str
    display_name: str
    frozen_time: datetime
    work_items_run: int
    create_time: datetime
    update_time: datetime
    state: ClockState = ClockState.READY
    # Where the running (or failed) advance goes; None when READY.
    target_time: datetime | None = None
    # Work items the current (or last) advance has run.
    advance_work_items_run: int = 0
    failure: ClockFailure | None = None


def target_of(clock: TestClock, to: datetime) -> datetime:
    """`to` as the clock's next time (whole seconds, UTC), refused if it is in its past."""
    target = whole_second(to, "frozen_time")
    if target < clock.frozen_time:
        why = f"the clock is at {utc_text(clock.frozen_time)} and only moves forward"
        raise InvalidState(
            f"cannot move test clock {clock.id!r} back: {why}",
            metadata={"frozen_time": utc_text(clock.frozen_time)},
            precondition_violations=[PreconditionViolation("TIME", f"test_clocks/{clock.id}", why)],
        )
    return target


def advanced(clock: TestClock, to: datetime, *, work_items: int, now: datetime) -> TestClock:
    """The clock moved to `to`, after `work_items` steps ran on the way."""
    return replace(
        clock,
        frozen_time=target_of(clock, to),
        work_items_run=clock.work_items_run + work_items,
        update_time=now,
    )


def start_advance(clock: TestClock, to: datetime, *, now: datetime) -> TestClock:
    """The clock set on its way to `to`; refused while another advance runs."""
    if clock.state is ClockState.ADVANCING:
        assert clock.target_time is not None, "an advancing clock has a target"
        target = clock.target_time.isoformat()
        raise TestClockAdvancing(
            f"test clock {clock.id!r} is still advancing to {target}; wait for it to finish",
            metadata={"target_time": target},
            precondition_violations=[
                PreconditionViolation(
                    "STATE", f"test_clocks/{clock.id}", f"an advance to {target} is running"
                )
            ],
        )
    return replace(
        clock,
        state=ClockState.ADVANCING,
        target_time=target_of(clock, to),
        advance_work_items_run=0,
        failure=None,
        update_time=now,
    )


def progressed(clock: TestClock, *, reached: datetime, work_items: int) -> TestClock:
    """An advancing clock after a batch of `work_items` that brought it to `reached`."""
    return replace(
        clock,
        frozen_time=max(clock.frozen_time, reached),
        work_items_run=clock.work_items_run + work_items,
        advance_work_items_run=clock.advance_work_items_run + work_items,
    )


def finished(clock: TestClock, *, now: datetime) -> TestClock:
    """An advancing clock with nothing more due before its target: READY there."""
    assert clock.target_time is not None, "an advancing clock has a target"
    return replace(
        clock,
        state=ClockState.READY,
        frozen_time=max(clock.frozen_time, clock.target_time),
        target_time=None,
        update_time=now,
    )


def failed(clock: TestClock, failure: ClockFailure, *, now: datetime) -> TestClock:
    """An advancing clock stopped by a step that failed; `frozen_time` is the time reached."""
    return replace(clock, state=ClockState.FAILED, failure=failure, update_time=now)
