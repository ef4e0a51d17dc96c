"""Usage resources between the v1 contract and the model."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from google.protobuf.message import Message

from accrue.billing.v1 import usage_pb2 as pb
from accrue.events.v1 import events_pb2
from accrue.platform.transport.convert import timestamp, utc_datetime
from accrue.usage.model import (
    Aggregation,
    EventInput,
    EventResult,
    Meter,
    Outcome,
    StoredEvent,
    format_quantity,
    group_dimensions,
)
from accrue.usage.service import CustomerUsage, NewMeter

_AGGREGATION_TO_PB = {
    Aggregation.SUM: pb.METER_AGGREGATION_SUM,
    Aggregation.COUNT: pb.METER_AGGREGATION_COUNT,
    Aggregation.MAX: pb.METER_AGGREGATION_MAX,
    Aggregation.UNIQUE_COUNT: pb.METER_AGGREGATION_UNIQUE_COUNT,
    Aggregation.LAST: pb.METER_AGGREGATION_LAST,
}
_AGGREGATION = {value: key for key, value in _AGGREGATION_TO_PB.items()}
_OUTCOME_TO_PB = {
    Outcome.ACCEPTED: pb.USAGE_EVENT_OUTCOME_ACCEPTED,
    Outcome.DUPLICATE: pb.USAGE_EVENT_OUTCOME_DUPLICATE,
    Outcome.REFUSED: pb.USAGE_EVENT_OUTCOME_REFUSED,
}


def new_meter_from_pb(message: pb.Meter) -> NewMeter:
    return NewMeter(
        display_name=message.display_name,
        aggregation=_AGGREGATION[message.aggregation],
        value_property=message.value_property,
        dimension_keys=tuple(message.dimension_keys),
        grace=timedelta(seconds=message.grace_seconds)
        if message.HasField("grace_seconds")
        else None,
        allow_negative=message.allow_negative,
    )


def meter_to_pb(meter: Meter) -> pb.Meter:
    return pb.Meter(
        id=meter.id,
        display_name=meter.display_name,
        aggregation=_AGGREGATION_TO_PB[meter.aggregation],
        value_property=meter.value_property,
        dimension_keys=list(meter.dimension_keys),
        grace_seconds=int(meter.grace.total_seconds()),
        allow_negative=meter.allow_negative,
        archived=meter.archived,
        create_time=timestamp(meter.create_time),
        update_time=timestamp(meter.update_time),
    )


def event_input_from_pb(message: pb.UsageEventInput) -> EventInput:
    return EventInput(
        id=message.id,
        meter_id=message.meter_id,
        customer_id=message.customer_id,
        timestamp=utc_datetime(message.timestamp),
        properties=dict(message.properties),
    )


def results_to_pb(results: list[EventResult]) -> pb.IngestUsageResponse:
    response = pb.IngestUsageResponse()
    counts = dict.fromkeys(Outcome, 0)
    for result in results:
        counts[result.outcome] += 1
        item = response.results.add(id=result.id, outcome=_OUTCOME_TO_PB[result.outcome])
        if result.error is not None:
            item.reason = result.error.reason
            item.message = result.error.message
    response.accepted_count = counts[Outcome.ACCEPTED]
    response.duplicate_count = counts[Outcome.DUPLICATE]
    response.refused_count = counts[Outcome.REFUSED]
    return response


def event_to_pb(event: StoredEvent) -> pb.UsageEvent:
    return pb.UsageEvent(
        id=event.id,
        meter_id=event.meter_id,
        customer_id=event.customer_id,
        timestamp=timestamp(event.timestamp),
        properties=event.properties,
        canceled=event.canceled,
        revision=event.revision,
    )


def usage_to_pb(usage: CustomerUsage) -> pb.CustomerUsage:
    message = pb.CustomerUsage(
        customer_id=usage.customer_id,
        period_start=timestamp(usage.period.start),
        period_end=timestamp(usage.period.end),
    )
    for meter_usage in sorted(usage.meters, key=lambda m: m.meter.id):
        meter = meter_usage.meter
        for key in sorted(meter_usage.groups):
            aggregate = meter_usage.groups[key]
            message.aggregates.add(
                meter_id=meter.id,
                dimensions=group_dimensions(meter.dimension_keys, key),
                quantity=format_quantity(aggregate.quantity_micros(meter.aggregation)),
                event_count=aggregate.count,
            )
    return message


EVENT_PAYLOADS: tuple[tuple[type, Callable[[Any], Message]], ...] = (
    (Meter, lambda s: events_pb2.MeterChanged(meter=meter_to_pb(s))),
    (StoredEvent, lambda s: events_pb2.UsageEventCorrected(usage_event=event_to_pb(s))),
)
