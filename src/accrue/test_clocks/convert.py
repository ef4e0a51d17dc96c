"""Test clock messages <-> model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.message import Message

from accrue.billing.v1 import test_clock_pb2
from accrue.events.v1 import events_pb2
from accrue.platform.transport.convert import timestamp
from accrue.test_clocks.model import ClockState, TestClock


def clock_to_pb(clock: TestClock) -> test_clock_pb2.TestClock:
    message = test_clock_pb2.TestClock(
        id=clock.id,
        display_name=clock.display_name,
        frozen_time=timestamp(clock.frozen_time),
        work_items_run=clock.work_items_run,
        create_time=timestamp(clock.create_time),
        update_time=timestamp(clock.update_time),
        state=_CLOCK_STATES[clock.state],
        advance_work_items_run=clock.advance_work_items_run,
    )
    if clock.target_time is not None:
        message.target_time.CopyFrom(timestamp(clock.target_time))
    if clock.failure is not None:
        message.failure.CopyFrom(
            test_clock_pb2.TestClockFailure(
                reason=clock.failure.reason,
                message=clock.failure.message,
                step_time=timestamp(clock.failure.step_time),
            )
        )
    return message


_CLOCK_STATES = {
    ClockState.READY: test_clock_pb2.TestClock.STATE_READY,
    ClockState.ADVANCING: test_clock_pb2.TestClock.STATE_ADVANCING,
    ClockState.FAILED: test_clock_pb2.TestClock.STATE_FAILED,
}


# The event payloads of this area's subjects, gathered by `accrue.payloads`.
EVENT_PAYLOADS: tuple[tuple[type, Callable[[Any], Message]], ...] = (
    (TestClock, lambda s: events_pb2.TestClockChanged(test_clock=clock_to_pb(s))),
)
