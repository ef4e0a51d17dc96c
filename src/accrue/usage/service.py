"""The UsageService use cases: meters, ingestion, corrections, live usage.

Each method runs inside the unit of work it is given (the use case owns it),
so what a call changes commits together (the batch's events, their aggregates, what observers do).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal

from accrue.event_log.ports import EventSink
from accrue.kernel.calendar import Period
from accrue.kernel.clock import Clock
from accrue.kernel.errors import AccrueError, ConcurrentModification, NotFound, ResourceArchived
from accrue.kernel.ids import IdGenerator
from accrue.kernel.paging import Page, PageRequest, paginate
from accrue.usage.model import (
    DEFAULT_GRACE,
    UNIT,
    Aggregate,
    Aggregation,
    EventInput,
    EventResult,
    Meter,
    Outcome,
    StoredEvent,
    UsageEventCanceled,
    UsageEventConflict,
    check_batch_size,
    check_timing,
    to_decimal,
)
from accrue.usage.periods import CustomerTime, CustomerTimes
from accrue.usage.ports import NewEvent, UsageChange, UsageObserver, UsageUnitOfWork


@dataclass(frozen=True, slots=True)
class NewMeter:
    display_name: str
    aggregation: Aggregation
    value_property: str
    dimension_keys: tuple[str, ...]
    grace: timedelta | None
    allow_negative: bool


@dataclass(frozen=True, slots=True)
class MeterUsage:
    meter: Meter
    groups: dict[str, Aggregate]


@dataclass(frozen=True, slots=True)
class CustomerUsage:
    customer_id: str
    period: Period
    meters: list[MeterUsage]


class UsageService:
    def __init__(
        self,
        clock: Clock,
        ids: IdGenerator,
        *,
        observers: Sequence[UsageObserver] = (),
        events: EventSink | None = None,
    ) -> None:
        self._clock = clock
        self._ids = ids
        self._events = events
        self._times = CustomerTimes(clock)
        self._observers = tuple(observers)

    # -- meters ---------------------------------------------------------------

    def create_meter(self, uow: UsageUnitOfWork, tenant_id: str, new: NewMeter) -> Meter:
        now = self._clock.now()
        meter = Meter(
            tenant_id=tenant_id,
            id=self._ids.new("mtr"),
            display_name=new.display_name,
            aggregation=new.aggregation,
            value_property=new.value_property if new.aggregation is not Aggregation.COUNT else "",
            dimension_keys=new.dimension_keys,
            grace=DEFAULT_GRACE if new.grace is None else new.grace,
            allow_negative=new.allow_negative,
            archived=False,
            create_time=now,
            update_time=now,
        )
        meter.validate()
        uow.usage.add_meter(meter)
        self._record(uow, "meter.created", meter)
        return meter

    def get_meter(self, uow: UsageUnitOfWork, tenant_id: str, meter_id: str) -> Meter:
        meter = uow.usage.get_meter(tenant_id, meter_id)
        if meter is None:
            raise NotFound("meter", meter_id)
        assert isinstance(meter, Meter)
        return meter

    def list_meters(self, uow: UsageUnitOfWork, tenant_id: str, page: PageRequest) -> Page[Meter]:
        return paginate(uow.usage.list_meters(tenant_id, page), page)

    def archive_meter(self, uow: UsageUnitOfWork, tenant_id: str, meter_id: str) -> Meter:
        meter = self.get_meter(uow, tenant_id, meter_id)
        if meter.archived:
            return meter
        archived = replace(meter, archived=True, update_time=self._clock.now())
        uow.usage.update_meter(archived)
        self._record(uow, "meter.archived", archived)
        return archived

    def _record(self, uow: UsageUnitOfWork, type_: str, subject: Meter | StoredEvent) -> None:
        """An outbox event in the same transaction (meters and corrections only)."""
        if self._events is not None:
            self._events.record(
                uow, subject.tenant_id, type=type_, resource_id=subject.id, subject=subject
            )

    # -- ingestion ------------------------------------------------------------

    def ingest(
        self, uow: UsageUnitOfWork, tenant_id: str, events: Sequence[EventInput]
    ) -> list[EventResult]:
        """Judge every event, store the acceptable ones and fold them into the aggregates.

        Refused events store nothing; the rest of the batch is stored. The same id
        with the same body is a DUPLICATE (a success); with another body it is
        refused as USAGE_EVENT_CONFLICT, whether the first copy is stored or earlier
        in this batch.
        """
        check_batch_size(len(events))
        meters = uow.usage.get_meters(tenant_id, [e.meter_id for e in events])
        times = self._times.load(uow, tenant_id, [e.customer_id for e in events])
        results: dict[int, EventResult] = {}
        seen: dict[str, str] = {}
        fresh: list[tuple[int, NewEvent]] = []
        refused: dict[int, EventResult] = {}
        repeats: list[int] = []
        prints = [event.fingerprint() for event in events]
        for index, event in enumerate(events):
            print_ = prints[index]
            if event.id in seen:  # repeated inside this batch: answered below
                repeats.append(index)
                continue
            try:
                fresh.append((index, self._judge(event, print_, meters, times)))
                seen[event.id] = print_
            except AccrueError as error:
                refused[index] = EventResult(event.id, Outcome.REFUSED, error)
        watched = self._watched(uow, tenant_id)
        before = self._totals(uow, tenant_id, meters, times, [e for _, e in fresh], watched=watched)
        # Stored copies are looked up only for the events that need it: those the
        # insert kept out (stored before, by an earlier call or a concurrent one) and
        # those refused now (a resent event is a DUPLICATE even if, say, its grace has
        # since passed). A batch of new events costs no lookup at all.
        inserted = uow.usage.insert_events(tenant_id, [e for _, e in fresh], now=self._clock.now())
        lost = [(i, e) for i, e in fresh if e.id not in inserted]
        lookup = [e.id for _, e in lost] + [events[i].id for i in refused]
        stored = uow.usage.fingerprints(tenant_id, lookup) if lookup else {}
        for index, kept in lost:
            results[index] = _repeat(kept.id, stored.get(kept.id, ""), kept.fingerprint)
        for index, refusal in refused.items():
            earlier = stored.get(events[index].id)
            results[index] = (
                refusal if earlier is None else _repeat(refusal.id, earlier, prints[index])
            )
        for index in repeats:  # against the stored copy if there is one, else the batch's
            event_id = events[index].id
            earlier = stored.get(event_id, seen[event_id])
            results[index] = _repeat(event_id, earlier, prints[index])
        new = [e for _, e in fresh if e.id in inserted]
        for index, kept in fresh:
            if kept.id in inserted:
                results[index] = EventResult(kept.id, Outcome.ACCEPTED)
        uow.usage.add_to_rollups(tenant_id, meters, new)
        self._notify(uow, tenant_id, meters, times, new, before, watched)
        self._check_grace_still_open(meters, times, new)
        return [results[i] for i in range(len(events))]

    def _check_grace_still_open(
        self, meters: dict[str, Meter], times: dict[str, CustomerTime], new: Sequence[NewEvent]
    ) -> None:
        """Refuse to commit late events whose grace closed while the batch was written.

        An event is judged when the batch starts, but counts only once it commits;
        a canceled subscription's trailing invoice reads its usage one second after
        the grace closes, and never again. A batch that waited on locks past that
        instant could commit usage no invoice will bill, so the last thing it does
        is look at the clock again: if a grace it relied on has closed, the batch is
        run again (a lost race), and judged again its late events are refused as
        too late. A test clock's time does not move during a batch.
        """
        deadlines = [
            times[e.customer_id].period_of(e.meter_id, e.timestamp).end + meters[e.meter_id].grace
            for e in new
            if e.late and not times[e.customer_id].simulated
        ]
        if deadlines and self._times.wall_now() > min(deadlines):
            raise ConcurrentModification(
                "the grace of a late event closed while its batch was being written"
            )

    def _judge(
        self,
        event: EventInput,
        print_: str,
        meters: dict[str, Meter],
        times: dict[str, CustomerTime],
    ) -> NewEvent:
        meter = meters.get(event.meter_id)
        if meter is None:
            raise NotFound("meter", event.meter_id)
        if meter.archived:
            raise ResourceArchived("meter", meter.id)
        time = times.get(event.customer_id)
        if time is None:
            raise NotFound("customer", event.customer_id)
        reading = meter.read(event.properties)
        period = time.period_of(meter.id, event.timestamp)
        problem = check_timing(
            timestamp=event.timestamp, now=time.now, period_end=period.end, grace=meter.grace
        )
        if problem is not None:
            raise problem
        return NewEvent(
            id=event.id,
            meter_id=meter.id,
            customer_id=event.customer_id,
            timestamp=event.timestamp,
            properties=dict(event.properties),
            fingerprint=print_,
            reading=reading,
            late=time.now >= period.end,
        )

    def _totals(
        self,
        uow: UsageUnitOfWork,
        tenant_id: str,
        meters: dict[str, Meter],
        times: dict[str, CustomerTime],
        events: Sequence[NewEvent],
        *,
        watched: Collection[str],
    ) -> dict[tuple[str, str], Decimal]:
        """Current-period totals of the (customer, watched meter) pairs `events` touch."""
        pairs = sorted({(e.customer_id, e.meter_id) for e in events if e.meter_id in watched})
        return {
            (customer_id, meter_id): self._total(
                uow, tenant_id, meters[meter_id], customer_id, times[customer_id]
            )
            for customer_id, meter_id in pairs
        }

    def _watched(self, uow: UsageUnitOfWork, tenant_id: str) -> set[str]:
        """Meters some observer watches; no observer, or none watching, costs no reads."""
        return {m for o in self._observers for m in o.watched_meters(uow, tenant_id=tenant_id)}

    def _notify(  # noqa: PLR0917 - private helper of ingest
        self,
        uow: UsageUnitOfWork,
        tenant_id: str,
        meters: dict[str, Meter],
        times: dict[str, CustomerTime],
        new: Sequence[NewEvent],
        before: dict[tuple[str, str], Decimal],
        watched: Collection[str],
    ) -> None:
        if not watched or not new:
            return
        after = self._totals(uow, tenant_id, meters, times, new, watched=watched)
        changes = [
            UsageChange(customer_id=c, meter_id=m, before=before.get((c, m), Decimal(0)), after=a)
            for (c, m), a in sorted(after.items())
            if a != before.get((c, m), Decimal(0))
        ]
        if changes:
            for observer in self._observers:
                observer.usage_changed(uow, tenant_id=tenant_id, changes=changes)

    # -- corrections ----------------------------------------------------------

    def cancel_event(
        self, uow: UsageUnitOfWork, tenant_id: str, event_id: str, *, reason: str, actor: str
    ) -> StoredEvent:
        event = self._correctable(uow, tenant_id, event_id)
        corrected = replace(event, canceled=True, revision=event.revision + 1)
        return self._store_correction(uow, event, corrected, "cancel", reason, actor)

    def amend_event(
        self,
        uow: UsageUnitOfWork,
        tenant_id: str,
        event_id: str,
        properties: dict[str, str],
        *,
        reason: str,
        actor: str,
    ) -> StoredEvent:
        event = self._correctable(uow, tenant_id, event_id)
        meter = self.get_meter(uow, tenant_id, event.meter_id)
        reading = meter.read(properties)
        corrected = replace(
            event,
            properties=dict(properties),
            value_micros=reading.value_micros,
            unique_value=reading.unique_value,
            group_key=reading.group_key,
            revision=event.revision + 1,
        )
        return self._store_correction(uow, event, corrected, "amend", reason, actor)

    def _correctable(self, uow: UsageUnitOfWork, tenant_id: str, event_id: str) -> StoredEvent:
        event = uow.usage.get_event(tenant_id, event_id, for_update=True)
        if event is None:
            raise NotFound("usage_event", event_id)
        assert isinstance(event, StoredEvent)
        if event.canceled:
            raise UsageEventCanceled(
                f"usage event {event_id!r} was canceled", metadata={"event_id": event_id}
            )
        meter = self.get_meter(uow, tenant_id, event.meter_id)
        time = self._times.load(uow, tenant_id, [event.customer_id])[event.customer_id]
        period = time.period_of(meter.id, event.timestamp)
        problem = check_timing(
            timestamp=event.timestamp, now=time.now, period_end=period.end, grace=meter.grace
        )
        if problem is not None:
            raise problem
        return event

    def _store_correction(  # noqa: PLR0917 - private helper of the corrections
        self,
        uow: UsageUnitOfWork,
        event: StoredEvent,
        corrected: StoredEvent,
        action: str,
        reason: str,
        actor: str,
    ) -> StoredEvent:
        meter = self.get_meter(uow, event.tenant_id, event.meter_id)
        times = self._times.load(uow, event.tenant_id, [event.customer_id])
        time = times[event.customer_id]
        total_before = self._total(uow, event.tenant_id, meter, event.customer_id, time)
        uow.usage.correct_event(
            corrected,
            action=action,
            reason=reason,
            actor=actor,
            previous=event.properties,
            now=self._clock.now(),
        )
        uow.usage.rebuild_bucket(
            event.tenant_id, event.customer_id, event.meter_id, event.timestamp
        )
        self._record(
            uow, "usage_event.canceled" if corrected.canceled else "usage_event.amended", corrected
        )
        if event.meter_id in self._watched(uow, event.tenant_id):
            total_after = self._total(uow, event.tenant_id, meter, event.customer_id, time)
            if total_after != total_before:
                change = UsageChange(event.customer_id, meter.id, total_before, total_after)
                for observer in self._observers:
                    observer.usage_changed(uow, tenant_id=event.tenant_id, changes=[change])
        return corrected

    # -- reading --------------------------------------------------------------

    def customer_usage(
        self, uow: UsageUnitOfWork, tenant_id: str, customer_id: str, *, meter_id: str = ""
    ) -> CustomerUsage:
        times = self._times.load(uow, tenant_id, [customer_id])
        time = times.get(customer_id)
        if time is None:
            raise NotFound("customer", customer_id)
        if meter_id:
            meters = [self.get_meter(uow, tenant_id, meter_id)]
        else:
            meters = [
                m
                for m in uow.usage.list_meters(tenant_id, PageRequest(1000, "", ""))
                if not m.archived
            ]
        result = []
        period = time.current_period(meter_id) if meter_id else time.current_period("")
        for meter in meters:
            meter_period = time.current_period(meter.id)
            groups = uow.usage.period_aggregates(tenant_id, customer_id, meter, meter_period)
            result.append(MeterUsage(meter, groups))
        return CustomerUsage(customer_id, period, result)

    def current_period_usage(
        self, uow: UsageUnitOfWork, *, tenant_id: str, customer_id: str, meter_id: str
    ) -> Decimal:
        """The customer's current-period aggregate of the meter over all dimensions."""
        meter = self.get_meter(uow, tenant_id, meter_id)
        time = self._times.load(uow, tenant_id, [customer_id]).get(customer_id)
        if time is None:
            raise NotFound("customer", customer_id)
        return self._total(uow, tenant_id, meter, customer_id, time)

    def period_quantity(
        self, uow: UsageUnitOfWork, tenant_id: str, customer_id: str, meter: Meter, period: Period
    ) -> Decimal:
        return to_decimal(period_total_micros(uow, tenant_id, customer_id, meter, period))

    def _total(
        self,
        uow: UsageUnitOfWork,
        tenant_id: str,
        meter: Meter,
        customer_id: str,
        time: CustomerTime,
    ) -> Decimal:
        period = time.current_period(meter.id)
        return to_decimal(period_total_micros(uow, tenant_id, customer_id, meter, period))


def period_total_micros(
    uow: UsageUnitOfWork,
    tenant_id: str,
    customer_id: str,
    meter: Meter,
    period: Period,
    *,
    late: bool | None = None,
) -> int:
    """The meter's quantity over every group: groups combined, then aggregated."""
    store = uow.usage
    if meter.aggregation is Aggregation.UNIQUE_COUNT:
        count = store.period_unique_total(tenant_id, customer_id, meter, period, late=late)
        return int(count) * UNIT
    combined = Aggregate()
    groups = store.period_aggregates(tenant_id, customer_id, meter, period, late=late)
    for aggregate in groups.values():
        combined.merge(aggregate)
    return combined.quantity_micros(meter.aggregation)


def _repeat(event_id: str, stored_print: str, print_: str) -> EventResult:
    if stored_print == print_:
        return EventResult(event_id, Outcome.DUPLICATE)
    return EventResult(
        event_id,
        Outcome.REFUSED,
        UsageEventConflict(
            f"usage event {event_id!r} was recorded with another body",
            metadata={"event_id": event_id},
        ),
    )
