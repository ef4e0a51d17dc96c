"""The usage use cases on in-memory fakes of their narrow ports.

Ingestion is idempotent by event id: a resent event is a DUPLICATE (a success),
the same id with another body is refused as a conflict, and a batch that lost a
race is run again in a new transaction without double counting.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from accrue.kernel.errors import ConcurrentModification
from accrue.usage.model import Aggregation, EventInput, Outcome
from accrue.usage.service import NewMeter
from accrue.usage.use_cases import UsageUseCases
from tests.fakes.transactions import TENANT, FakeClock, FakeDatabase, replay
from tests.fakes.usage import usage_database, usage_use_cases

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


def _meter() -> NewMeter:
    return NewMeter(
        display_name="API calls",
        aggregation=Aggregation.SUM,
        value_property="calls",
        dimension_keys=(),
        grace=None,
        allow_negative=False,
    )


def _event(event_id: str, meter_id: str, calls: str = "1", customer: str = "cus_1") -> EventInput:
    return EventInput(
        id=event_id,
        meter_id=meter_id,
        customer_id=customer,
        timestamp=NOW - timedelta(minutes=5),
        properties={"calls": calls},
    )


def test_a_resent_event_is_a_duplicate_and_another_body_under_its_id_a_conflict() -> None:
    db = usage_database("cus_1")
    use_cases = usage_use_cases(db, FakeClock(NOW))
    meter = use_cases.create_meter(TENANT, _meter(), replay(TENANT)).value
    assert meter is not None

    first = use_cases.ingest(TENANT, [_event("e1", meter.id), _event("e2", meter.id, "3")])
    again = use_cases.ingest(
        TENANT,
        [
            _event("e1", meter.id),  # resent as is
            _event("e2", meter.id, "4"),  # same id, another body
            _event("e3", meter.id),
            _event("e3", meter.id, "2"),  # conflicts with its twin earlier in the batch
        ],
    )

    assert [r.outcome for r in first] == [Outcome.ACCEPTED, Outcome.ACCEPTED]
    assert [r.outcome for r in again] == [
        Outcome.DUPLICATE,
        Outcome.REFUSED,
        Outcome.ACCEPTED,
        Outcome.REFUSED,
    ]
    assert {again[1].error.reason, again[3].error.reason} == {"USAGE_EVENT_CONFLICT"}  # type: ignore[union-attr]
    assert db.usage.folded == ["e1", "e2", "e3"]  # each counted once
    assert db.usage.events["e2"].reading.value_micros == 3_000_000  # the first body stands


def test_a_stored_event_resent_is_answered_from_its_stored_copy_even_when_now_refusable() -> None:
    db = usage_database("cus_1")
    use_cases = usage_use_cases(db, FakeClock(NOW))
    meter = use_cases.create_meter(TENANT, _meter(), replay(TENANT)).value
    assert meter is not None
    use_cases.ingest(TENANT, [_event("e1", meter.id), _event("e2", meter.id, "3")])
    # Another body twice in one batch: both conflict with the stored copy.
    twice = use_cases.ingest(TENANT, [_event("e2", meter.id, "4"), _event("e2", meter.id, "4")])
    assert [r.error and r.error.reason for r in twice] == ["USAGE_EVENT_CONFLICT"] * 2
    use_cases.archive_meter(TENANT, meter.id, replay(TENANT, "r-archive"))

    again = use_cases.ingest(
        TENANT,
        [
            _event("e1", meter.id),  # stored; its meter is archived since: still a duplicate
            _event("e2", meter.id, "4"),  # stored with another body
            _event("e2", meter.id, "4"),  # and again in the same batch: still that conflict
            _event("e1", meter.id),  # a twin of a stored event
            _event("e9", meter.id),  # new, on an archived meter
        ],
    )

    assert [(r.outcome, r.error and r.error.reason) for r in again] == [
        (Outcome.DUPLICATE, None),
        (Outcome.REFUSED, "USAGE_EVENT_CONFLICT"),
        (Outcome.REFUSED, "USAGE_EVENT_CONFLICT"),
        (Outcome.DUPLICATE, None),
        (Outcome.REFUSED, "RESOURCE_ARCHIVED"),
    ]
    assert db.usage.folded == ["e1", "e2"]


def test_refused_events_store_nothing_and_the_rest_of_the_batch_is_kept() -> None:
    db = usage_database("cus_1")
    use_cases = usage_use_cases(db, FakeClock(NOW))
    meter = use_cases.create_meter(TENANT, _meter(), replay(TENANT)).value
    assert meter is not None
    results = use_cases.ingest(
        TENANT,
        [
            _event("ok", meter.id),
            _event("no-meter", "mtr_missing"),
            _event("no-customer", meter.id, customer="cus_missing"),
            _event("bad-value", meter.id, calls="-1"),
        ],
    )
    assert [(r.outcome, r.error and r.error.reason) for r in results] == [
        (Outcome.ACCEPTED, None),
        (Outcome.REFUSED, "RESOURCE_NOT_FOUND"),
        (Outcome.REFUSED, "RESOURCE_NOT_FOUND"),
        (Outcome.REFUSED, "USAGE_VALUE_INVALID"),
    ]
    assert set(db.usage.events) == {"ok"} and db.usage.folded == ["ok"]


def test_a_batch_that_lost_a_race_is_run_again_and_counted_once() -> None:
    db = usage_database("cus_1")
    use_cases = usage_use_cases(db, FakeClock(NOW))
    meter = use_cases.create_meter(TENANT, _meter(), replay(TENANT)).value
    assert meter is not None
    db.usage.races_to_lose = 2

    results = use_cases.ingest(TENANT, [_event("e1", meter.id)])

    assert [r.outcome for r in results] == [Outcome.ACCEPTED]
    assert db.usage.folded == ["e1"]
    assert db.rollbacks == 2


def test_a_batch_that_keeps_losing_gives_up_and_stores_nothing() -> None:
    db = usage_database("cus_1")
    use_cases = usage_use_cases(db, FakeClock(NOW))
    meter = use_cases.create_meter(TENANT, _meter(), replay(TENANT)).value
    assert meter is not None
    db.usage.races_to_lose = 3
    with pytest.raises(ConcurrentModification):
        use_cases.ingest(TENANT, [_event("e1", meter.id)])
    assert db.usage.events == {} and db.usage.folded == []


MONTH_END = datetime(2026, 4, 1, tzinfo=UTC)


def _late_event_with_an_hour_of_grace(
    clock: FakeClock,
) -> tuple[FakeDatabase, UsageUseCases, EventInput]:
    """A customer without a subscription (calendar months), a meter with an hour of
    grace, and an event of the month that ended at MONTH_END."""
    db = usage_database("cus_1")
    use_cases = usage_use_cases(db, clock)
    meter = use_cases.create_meter(
        TENANT, replace(_meter(), grace=timedelta(hours=1)), replay(TENANT)
    ).value
    assert meter is not None
    late = replace(_event("late", meter.id), timestamp=MONTH_END - timedelta(minutes=1))
    return db, use_cases, late


def test_a_late_event_whose_grace_closes_while_its_batch_is_written_is_refused() -> None:
    """Judged inside the grace, but the batch would commit after it closed (and after
    the trailing invoice read the usage): run again, the event is refused as too late,
    never stored and left unbilled. An event whose grace is still open is kept."""
    clock = FakeClock(MONTH_END + timedelta(hours=1) - timedelta(seconds=1))
    db, use_cases, late = _late_event_with_an_hour_of_grace(clock)
    current = replace(late, id="current", timestamp=MONTH_END + timedelta(minutes=1))
    db.usage.while_inserting = lambda: clock.advance(2)  # waits on a lock, say

    results = use_cases.ingest(TENANT, [late, current])

    assert [(r.outcome, r.error and r.error.reason) for r in results] == [
        (Outcome.REFUSED, "USAGE_EVENT_TOO_LATE"),
        (Outcome.ACCEPTED, None),
    ]
    assert set(db.usage.events) == {"current"} and db.usage.folded == ["current"]
    assert db.rollbacks == 1


def test_a_late_event_in_the_last_second_of_its_grace_is_accepted_once() -> None:
    """Both looks at the clock count whole seconds, as judging does: an event judged
    in the grace's last second is not sent round the retry loop by its own fraction."""
    clock = FakeClock(MONTH_END + timedelta(hours=1, milliseconds=500))
    db, use_cases, late = _late_event_with_an_hour_of_grace(clock)

    [result] = use_cases.ingest(TENANT, [late])

    assert result.outcome is Outcome.ACCEPTED
    assert db.usage.folded == ["late"] and db.rollbacks == 0


def test_archiving_a_meter_twice_with_one_request_id_records_one_event() -> None:
    db = usage_database()
    use_cases = usage_use_cases(db, FakeClock(NOW))
    meter = use_cases.create_meter(TENANT, _meter(), replay(TENANT)).value
    assert meter is not None
    first = use_cases.archive_meter(TENANT, meter.id, replay(TENANT, "r-archive"))
    again = use_cases.archive_meter(TENANT, meter.id, replay(TENANT, "r-archive"))
    assert first.value is not None and first.value.archived
    assert again.replayed == repr(first.value).encode()
    assert db.events.types() == ["meter.created", "meter.archived"]
    assert use_cases.get_meter(TENANT, meter.id).archived
