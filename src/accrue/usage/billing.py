"""Metered items billed in arrears: the lines a renewal adds for the period that ended.

A metered item's line for period P counts the events recorded before P ended
(the `late` flag is set at ingestion from the customer's clock, so a test
clock's simulated time decides it too). Events of P recorded after P ended,
inside the meter's grace, are billed on the next renewal as a separate "late
usage" line naming P: the price of all of P's usage less the price already
billed, so tiers stay right. Grouped meters get a line per group of dimension
values.

The usage is read through its own read-only unit of work: the renewal is
planned in memory (the bill run plans many subscriptions before it writes),
and what it reads is committed usage of a period that has ended. An event
recorded before the period's end whose transaction commits after the renewal
read it is not billed; the window is the time a batch takes to commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from accrue.invoicing.model import LineCharge
from accrue.kernel.calendar import Period, period_containing
from accrue.subscriptions.model import Subscription, SubscriptionItem
from accrue.usage.model import Aggregate, Meter, group_dimensions
from accrue.usage.pricing import metered_line
from accrue.usage.service import period_total_micros


class UsageArrears:
    def __init__(self, uow_factory: Any) -> None:
        self._uow_factory = uow_factory

    def charges(self, sub: Subscription, period: Period) -> list[LineCharge]:
        """Lines of `sub`'s metered items for `period` (ended), and late usage of the one before."""
        items = [item for item in sub.items if item.metered]
        if not items:
            return []
        previous = self._previous(sub, period)
        lines: list[LineCharge] = []
        with self._uow_factory(write=False) as uow:
            for item in items:
                assert item.terms.recurring is not None
                meter = uow.usage.get_meter(sub.tenant_id, item.terms.recurring.meter_id)
                if meter is None:
                    continue
                part = _since(item, period)
                if part is not None:
                    lines += self._item_lines(uow, sub, item, meter, part, late=False)
                late_part = None if previous is None else _since(item, previous)
                if late_part is not None:
                    lines += self._item_lines(uow, sub, item, meter, late_part, late=True)
        return lines

    def removed_charges(
        self, sub: Subscription, removed: Sequence[SubscriptionItem], until: datetime
    ) -> list[LineCharge]:
        """Usage of `removed` metered items from the period's start (or when each was
        added) to `until`, at their own price: a plan change bills each price its part."""
        lines: list[LineCharge] = []
        with self._uow_factory(write=False) as uow:
            for item in removed:
                assert item.terms.recurring is not None
                meter = uow.usage.get_meter(sub.tenant_id, item.terms.recurring.meter_id)
                if meter is None or until <= sub.current_period.start:
                    continue
                part = _since(item, Period(sub.current_period.start, until))
                if part is not None:
                    lines += self._item_lines(uow, sub, item, meter, part, late=False)
        return lines

    def final_charges(self, sub: Subscription, until: datetime) -> list[LineCharge]:
        """The current period's usage up to `until` and the previous period's late usage."""
        items = [item for item in sub.items if item.metered]
        current = sub.current_period
        if not items or until <= current.start:
            return []
        previous = self._previous(sub, current)
        lines: list[LineCharge] = []
        with self._uow_factory(write=False) as uow:
            for item in items:
                assert item.terms.recurring is not None
                meter = uow.usage.get_meter(sub.tenant_id, item.terms.recurring.meter_id)
                if meter is None:
                    continue
                part = _since(item, Period(current.start, min(until, current.end)))
                if part is not None:
                    lines += self._item_lines(uow, sub, item, meter, part, late=False)
                late_part = None if previous is None else _since(item, previous)
                if late_part is not None:
                    lines += self._item_lines(uow, sub, item, meter, late_part, late=True)
        return lines

    @staticmethod
    def _previous(sub: Subscription, period: Period) -> Period | None:
        before = period_containing(sub.anchor, sub.interval, period.start - timedelta(seconds=1))
        start = max(before.start, sub.create_time.replace(microsecond=0))
        return Period(start, period.start) if start < period.start else None

    def _item_lines(
        self,
        uow: Any,
        sub: Subscription,
        item: SubscriptionItem,
        meter: Meter,
        period: Period,
        *,
        late: bool,
    ) -> list[LineCharge]:
        line = _LineMaker(sub, item, meter, period)
        store = uow.usage
        if not meter.dimension_keys:
            on_time = _total(uow, sub, meter, period, late=False)
            if not late:
                return [line.make("", on_time)]
            everything = _total(uow, sub, meter, period, late=None)
            if everything == on_time:
                return []
            return [line.make("", everything, late_of=on_time)]
        on_groups = store.period_aggregates(
            sub.tenant_id, sub.customer_id, meter, period, late=False
        )
        if not late:
            return [
                line.make(key, on_groups[key].quantity_micros(meter.aggregation))
                for key in sorted(on_groups)
            ]
        all_groups = store.period_aggregates(sub.tenant_id, sub.customer_id, meter, period)
        lines = []
        for key in sorted(all_groups):
            billed = on_groups.get(key, Aggregate()).quantity_micros(meter.aggregation)
            everything = all_groups[key].quantity_micros(meter.aggregation)
            if everything != billed:
                lines.append(line.make(key, everything, late_of=billed))
        return lines


class _LineMaker:
    def __init__(
        self, sub: Subscription, item: SubscriptionItem, meter: Meter, period: Period
    ) -> None:
        self._sub, self._item, self._meter, self._period = sub, item, meter, period

    def make(self, key: str, quantity_micros: int, *, late_of: int | None = None) -> LineCharge:
        dimensions = group_dimensions(self._meter.dimension_keys, key)
        group_text = ", ".join(f"{k}={v}" for k, v in dimensions.items())
        return metered_line(
            terms=self._item.terms,
            price_id=self._item.price_id,
            subscription_id=self._sub.id,
            label=self._item.label,
            group_text=group_text,
            quantity_micros=quantity_micros,
            period_start=self._period.start,
            period_end=self._period.end,
            time_zone=self._sub.anchor.time_zone,
            late_of=late_of,
        )


def _since(item: SubscriptionItem, period: Period) -> Period | None:
    """`period` from when `item` was added, if later (a change mid-period); None if empty."""
    since = item.metered_since
    if since is None or since <= period.start:
        return period
    return Period(since, period.end) if since < period.end else None


def _total(uow: Any, sub: Subscription, meter: Meter, period: Period, *, late: bool | None) -> int:
    return period_total_micros(uow, sub.tenant_id, sub.customer_id, meter, period, late=late)
