"""Usage through the generated clients: meters, exactly-once ingestion, per-event
outcomes with typed reasons, corrections, live usage per meter and dimension."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from accrue.billing.v1 import event_pb2 as evt
from accrue.billing.v1 import usage_pb2 as use
from accrue.events.v1 import events_pb2
from tests.conftest import Transport
from tests.contract.billing_steps import Scenario, rid, stamp, utc

USAGE = "accrue.billing.v1.UsageService"
EVENTS = "accrue.billing.v1.EventService"
START = utc(2026, 3, 1)
ACCEPTED = use.USAGE_EVENT_OUTCOME_ACCEPTED
DUPLICATE = use.USAGE_EVENT_OUTCOME_DUPLICATE
REFUSED = use.USAGE_EVENT_OUTCOME_REFUSED


def meter(s: Scenario, aggregation: int, prop: str = "value", **fields: Any) -> use.Meter:
    request = use.CreateMeterRequest(
        meter=use.Meter(
            display_name="Meter", aggregation=aggregation, value_property=prop, **fields
        ),
        request_id=rid(),
    )
    return s.call(USAGE, "CreateMeter", request)


def event(
    meter_id: str, customer_id: str, at: datetime, event_id: str = "", **properties: str
) -> use.UsageEventInput:
    return use.UsageEventInput(
        id=event_id or rid(),
        meter_id=meter_id,
        customer_id=customer_id,
        timestamp=stamp(at),
        properties=properties,
    )


def ingest(s: Scenario, *events: use.UsageEventInput) -> use.IngestUsageResponse:
    return s.call(USAGE, "IngestUsage", use.IngestUsageRequest(events=list(events)))


def usage(s: Scenario, customer_id: str, meter_id: str) -> dict[tuple[tuple[str, str], ...], str]:
    answer = s.call(
        USAGE,
        "GetCustomerUsage",
        use.GetCustomerUsageRequest(customer_id=customer_id, meter_id=meter_id),
    )
    return {tuple(sorted(a.dimensions.items())): a.quantity for a in answer.aggregates}


@pytest.fixture
def s(rpc: Transport) -> Scenario:
    return Scenario(rpc, START, name="usage")


@pytest.mark.parametrize(
    ("aggregation", "values", "expected"),
    [
        (use.METER_AGGREGATION_SUM, ["2.5", "4", "0.000001"], "6.500001"),
        (use.METER_AGGREGATION_COUNT, ["1", "1", "1"], "3"),
        (use.METER_AGGREGATION_MAX, ["7", "12.25", "3"], "12.25"),
        (use.METER_AGGREGATION_UNIQUE_COUNT, ["alice", "bob", "alice"], "2"),
        (use.METER_AGGREGATION_LAST, ["9", "1", "5"], "5"),
    ],
)
def test_each_aggregation_reads_the_period_so_far(
    s: Scenario, aggregation: int, values: list[str], expected: str
) -> None:
    m = meter(s, aggregation)
    customer = s.customer()
    s.advance(START + timedelta(hours=1))
    events = [
        event(m.id, customer.id, START + timedelta(minutes=10 * i + 1), value=v)
        for i, v in enumerate(values)
    ]
    answer = ingest(s, *events)
    assert answer.accepted_count == 3
    assert usage(s, customer.id, m.id) == {(): expected}


def test_same_id_same_body_is_a_duplicate_and_counts_once(s: Scenario) -> None:
    m = meter(s, use.METER_AGGREGATION_SUM)
    customer = s.customer()
    first = event(m.id, customer.id, START, "evt-1", value="5")
    assert [r.outcome for r in ingest(s, first).results] == [ACCEPTED]
    again = ingest(s, first, first, event(m.id, customer.id, START, "evt-2", value="1"))
    assert [r.outcome for r in again.results] == [DUPLICATE, DUPLICATE, ACCEPTED]
    assert usage(s, customer.id, m.id) == {(): "6"}


def test_same_id_other_body_is_refused_and_named(s: Scenario) -> None:
    m = meter(s, use.METER_AGGREGATION_SUM)
    customer = s.customer()
    ingest(s, event(m.id, customer.id, START, "evt-1", value="5"))
    answer = ingest(s, event(m.id, customer.id, START, "evt-1", value="6"))
    (result,) = answer.results
    assert (result.id, result.outcome, result.reason) == ("evt-1", REFUSED, "USAGE_EVENT_CONFLICT")
    assert usage(s, customer.id, m.id) == {(): "5"}


def test_refused_events_store_nothing_and_the_rest_of_the_batch_is_stored(s: Scenario) -> None:
    m = meter(s, use.METER_AGGREGATION_SUM)
    archived = meter(s, use.METER_AGGREGATION_SUM)
    s.call(USAGE, "ArchiveMeter", use.ArchiveMeterRequest(id=archived.id, request_id=rid()))
    customer = s.customer()
    answer = ingest(
        s,
        event(m.id, customer.id, START, value="1"),
        event("mtr_unknown", customer.id, START, value="1"),
        event(m.id, "cus_unknown", START, value="1"),
        event(archived.id, customer.id, START, value="1"),
        event(m.id, customer.id, START, value="-1"),
        event(m.id, customer.id, START, value="1.0000001"),
        event(m.id, customer.id, START, value="lots"),
        event(m.id, customer.id, START),
        event(m.id, customer.id, START + timedelta(hours=1), value="1"),
        event(m.id, customer.id, START - timedelta(days=40), value="1"),
        event(m.id, customer.id, START, value="2"),
    )
    assert [(r.outcome, r.reason) for r in answer.results] == [
        (ACCEPTED, ""),
        (REFUSED, "RESOURCE_NOT_FOUND"),
        (REFUSED, "RESOURCE_NOT_FOUND"),
        (REFUSED, "RESOURCE_ARCHIVED"),
        (REFUSED, "USAGE_VALUE_INVALID"),
        (REFUSED, "USAGE_VALUE_INVALID"),
        (REFUSED, "USAGE_VALUE_INVALID"),
        (REFUSED, "USAGE_VALUE_INVALID"),
        (REFUSED, "USAGE_EVENT_IN_FUTURE"),
        (REFUSED, "USAGE_EVENT_TOO_LATE"),
        (ACCEPTED, ""),
    ]
    assert (answer.accepted_count, answer.refused_count) == (2, 9)
    assert usage(s, customer.id, m.id) == {(): "3"}


def test_late_events_count_within_the_grace_and_are_refused_after_it(s: Scenario) -> None:
    m = meter(s, use.METER_AGGREGATION_SUM, grace_seconds=3600)
    customer = s.customer()
    s.advance(START + timedelta(minutes=30))
    # No subscription: the period is the UTC month; February ended 30 minutes ago.
    inside = ingest(s, event(m.id, customer.id, START - timedelta(hours=1), value="1"))
    assert [r.outcome for r in inside.results] == [ACCEPTED]
    s.advance(START + timedelta(hours=2))
    outside = ingest(s, event(m.id, customer.id, START - timedelta(hours=1), value="1"))
    assert [r.reason for r in outside.results] == ["USAGE_EVENT_TOO_LATE"]


def test_negative_values_only_where_the_meter_allows_them(s: Scenario) -> None:
    refunds = meter(s, use.METER_AGGREGATION_SUM, allow_negative=True)
    customer = s.customer()
    ingest(
        s,
        event(refunds.id, customer.id, START, value="10"),
        event(refunds.id, customer.id, START, value="-3.5"),
    )
    assert usage(s, customer.id, refunds.id) == {(): "6.5"}


def test_group_by_dimensions_reads_one_aggregate_per_group(s: Scenario) -> None:
    m = meter(s, use.METER_AGGREGATION_SUM, dimension_keys=["region", "model"])
    customer = s.customer()
    ingest(
        s,
        event(m.id, customer.id, START, value="1", region="eu", model="a"),
        event(m.id, customer.id, START, value="2", region="eu", model="a"),
        event(m.id, customer.id, START, value="4", region="us", model="a"),
        event(m.id, customer.id, START, value="8", region="eu"),
    )
    assert usage(s, customer.id, m.id) == {
        (("model", "a"), ("region", "eu")): "3",
        (("model", "a"), ("region", "us")): "4",
        (("model", ""), ("region", "eu")): "8",
    }


def test_cancel_and_amend_correct_the_aggregate_and_are_audited(s: Scenario) -> None:
    m = meter(s, use.METER_AGGREGATION_MAX)
    customer = s.customer()
    ingest(
        s,
        event(m.id, customer.id, START, "big", value="90"),
        event(m.id, customer.id, START, "small", value="10"),
        event(m.id, customer.id, START, "mid", value="50"),
    )
    canceled = s.call(
        USAGE, "CancelUsageEvent", use.CancelUsageEventRequest(id="big", reason="test traffic")
    )
    assert (canceled.canceled, canceled.revision) == (True, 1)
    assert usage(s, customer.id, m.id) == {(): "50"}
    amended = s.call(
        USAGE,
        "AmendUsageEvent",
        use.AmendUsageEventRequest(id="small", properties={"value": "70"}, reason="miscounted"),
    )
    assert (amended.properties["value"], amended.revision) == ("70", 1)
    assert usage(s, customer.id, m.id) == {(): "70"}
    failure = s.fail(
        USAGE, "CancelUsageEvent", use.CancelUsageEventRequest(id="big", reason="again")
    )
    assert (failure.code, failure.reason) == ("FAILED_PRECONDITION", "USAGE_EVENT_CANCELED")
    # Resending the original body of an amended event is still a duplicate.
    again = ingest(s, event(m.id, customer.id, START, "small", value="10"))
    assert [r.outcome for r in again.results] == [DUPLICATE]


def test_stream_ingestion_answers_every_event_in_order(s: Scenario) -> None:
    m = meter(s, use.METER_AGGREGATION_COUNT, prop="")
    customer = s.customer()
    batches = [
        use.StreamIngestUsageRequest(
            events=[event(m.id, customer.id, START, f"b{b}-{i}") for i in range(3)]
        )
        for b in range(3)
    ]
    batches.append(use.StreamIngestUsageRequest(events=[batches[0].events[0]]))
    clients = s.rpc.clients
    if s.rpc.name == "grpc":
        answer = clients.stubs[USAGE].StreamIngestUsage(
            iter(batches), metadata=clients.metadata, timeout=30
        )
    else:
        answer = clients.clients[USAGE].stream_ingest_usage(
            iter(batches), headers=clients.headers, timeout_ms=30000
        )
    assert [r.outcome for r in answer.results] == [ACCEPTED] * 9 + [DUPLICATE]
    assert usage(s, customer.id, m.id) == {(): "9"}


def test_meter_validation_and_batch_size_are_typed_errors(s: Scenario) -> None:
    failure = s.fail(
        USAGE,
        "CreateMeter",
        use.CreateMeterRequest(
            meter=use.Meter(display_name="x", aggregation=use.METER_AGGREGATION_SUM)
        ),
    )
    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")
    m = meter(s, use.METER_AGGREGATION_COUNT, prop="")
    customer = s.customer()
    too_many = [event(m.id, customer.id, START) for _ in range(1001)]
    failure = s.fail(USAGE, "IngestUsage", use.IngestUsageRequest(events=too_many))
    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")


def test_meter_changes_and_corrections_are_events(s: Scenario) -> None:
    m = meter(s, use.METER_AGGREGATION_SUM)
    customer = s.customer()
    ingest(s, event(m.id, customer.id, START, "evt-x", value="1"))
    s.call(
        USAGE,
        "AmendUsageEvent",
        use.AmendUsageEventRequest(id="evt-x", properties={"value": "2"}, reason="fix"),
    )
    s.call(USAGE, "CancelUsageEvent", use.CancelUsageEventRequest(id="evt-x", reason="void"))
    s.call(USAGE, "ArchiveMeter", use.ArchiveMeterRequest(id=m.id))
    deadline = time.monotonic() + 10
    wanted = ["meter.created", "usage_event.amended", "usage_event.canceled", "meter.archived"]
    while True:
        page = s.call(EVENTS, "ListEvents", evt.ListEventsRequest(page_size=1000))
        types = [e.type for e in page.events if e.type.startswith(("meter.", "usage_event."))]
        if types == wanted or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert types == wanted
    last = [e for e in page.events if e.type == "usage_event.canceled"][-1]
    payload = events_pb2.UsageEventCorrected()
    last.payload.Unpack(payload)
    assert (payload.usage_event.id, payload.usage_event.canceled) == ("evt-x", True)
