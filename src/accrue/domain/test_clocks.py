"""Test clocks: simulated time that only moves forward when told to."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from accrue.domain.calendar import utc_text
from accrue.domain.errors import InvalidState, PreconditionViolation, ValidationFailed


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


def whole_second(value: datetime, field: str) -> datetime:
    """`value` in UTC without its fraction of a second: billing counts whole seconds."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed.on(field, "must be timezone-aware")
    return value.astimezone(UTC).replace(microsecond=0)


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
