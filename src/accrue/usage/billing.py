"""Metered items billed in arrears: the lines a renewal adds for the period that ended.

A metered item's line for period P prices all of P's usage at the renewal
that closes P. What each metered line billed is recorded (`usage_billings`:
per subscription, price, usage period and group, the quantity and amount it
added), and every later renewal (or an immediate cancellation's final
invoice) looks again at each earlier usage period that may still change - its
end plus the meter's grace reaches back past the previous renewal - and bills
the difference between the price of its usage now and the sum billed: a
"late usage" line when usage arrived late, a "usage adjustment" line
(negative when it gives money back) when a correction changed it. Each line
names the period it is for. So usage is billed once however late it comes
inside the grace, tiers and packages stay right (the price of the whole
period, less what was billed), and a correction is never lost nor counted
twice. A period's grace runs from the end of the billing period that holds
it (`usage_period`, the rule ingestion refuses late events by), so a part a
plan change cut short stays open as long as ingestion accepts usage for it.

The re-check ranges over what was billed (the `usage_billings` rows), not
over the subscription's current items: a price a change removed keeps being
re-checked at its own (frozen) terms while its periods are open. The
subscription carries `usage_open_until`, the last instant any of its billed
usage may still change, so one without metered items reads nothing once that
has passed (most of a bill run reads nothing). A canceled subscription has no
next renewal: once `usage_open_until` has passed it is due once more
(`settlement_charges`), and the difference, if any, is its trailing invoice.
(Refusing such usage at ingestion instead would let a cancellation cut short
the grace the meter promises; ingestion refuses only what comes after it.)
A negative adjustment can make an invoice's total negative; invoicing turns
that into customer credit balance, as it does for proration credits.

The usage is read through its own read-only unit of work: the renewal is
planned in memory (the bill run plans many subscriptions, and many steps of
one, before it writes), so the caller passes the metered lines it planned but
has not stored yet (`unsaved`) and they count as billed. Usage committed
after a renewal read it is picked up by the next renewal, not lost. The
trailing invoice has no next one: it runs a second after the last instant an
event can be accepted, and an ingestion batch looks at the clock again as the
last thing before it commits, refusing (by running again) late events whose
grace closed while it waited. Only a batch whose commit itself then took more
than that second could still be missed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from accrue.catalog.model import PriceTerms
from accrue.invoicing.model import LineCharge, UsageMark
from accrue.kernel.calendar import Period, period_containing
from accrue.kernel.ids import IdGenerator
from accrue.subscriptions.model import Subscription, SubscriptionItem
from accrue.usage.model import MAX_GRACE, BilledUsage, Meter, group_dimensions
from accrue.usage.periods import usage_period
from accrue.usage.pricing import metered_amount, metered_line
from accrue.usage.service import period_total_micros

# (price id, usage period start, usage period end, group key)
_Slot = tuple[str, datetime, datetime, str]


@dataclass(slots=True)
class _Billed:
    quantity_micros: int = 0
    amount_minor: int = 0


@dataclass(frozen=True, slots=True)
class _Part:
    """One price's usage over one usage period: what a set of lines is for."""

    price_id: str
    terms: PriceTerms
    label: str
    meter: Meter
    period: Period
    # The part the step closes (its first line is plain usage), or an earlier one.
    current: bool


class UsageArrears:
    def __init__(self, uow_factory: Any, ids: IdGenerator) -> None:
        self._uow_factory = uow_factory
        self._ids = ids

    def charges(
        self, sub: Subscription, period: Period, unsaved: Sequence[LineCharge] = ()
    ) -> list[LineCharge]:
        """Lines of `sub`'s metered items for `period` (ended), and what changed since
        in the earlier periods."""
        return self._lines(sub, period, since=period.start, unsaved=unsaved)

    def final_charges(
        self, sub: Subscription, until: datetime, unsaved: Sequence[LineCharge] = ()
    ) -> list[LineCharge]:
        """The current period's usage up to `until` and what changed in earlier periods."""
        current = sub.current_period
        if until <= current.start:
            return []
        part = Period(current.start, min(until, current.end))
        return self._lines(sub, part, since=current.start, unsaved=unsaved)

    def settlement_charges(
        self, sub: Subscription, unsaved: Sequence[LineCharge] = ()
    ) -> list[LineCharge]:
        """A canceled subscription's trailing lines: what changed, since its last
        invoice, in the usage periods it billed (its grace has closed on all of them)."""
        return self._lines(sub, None, since=sub.current_period.start, unsaved=unsaved)

    @staticmethod
    def open_until(sub: Subscription, charges: Iterable[LineCharge]) -> datetime | None:
        """`sub.usage_open_until` once `charges` are billed: the latest instant at which
        the usage of a billed period may still change (judged against `sub` as it is
        after the step, so a cancellation's last period ends when it did). Each line
        carries its meter's grace, so this reads nothing."""
        latest = sub.usage_open_until
        for charge in charges:
            if charge.usage is None or charge.period_start is None:
                continue
            until = usage_period(sub, charge.period_start).end + charge.usage.grace
            latest = until if latest is None else max(latest, until)
        return latest

    def removed_charges(
        self, sub: Subscription, removed: Sequence[SubscriptionItem], until: datetime
    ) -> list[LineCharge]:
        """Usage of `removed` metered items from the period's start (or when each was
        added) to `until`, at their own price: a plan change bills each price its part."""
        if until <= sub.current_period.start:
            return []
        with self._uow_factory(write=False) as uow:
            parts = self._current_parts(uow, sub, removed, Period(sub.current_period.start, until))
            return self._priced(uow, sub, parts, billed={})

    def record_billed(
        self,
        uow: Any,
        sub: Subscription,
        charges: Iterable[LineCharge],
        *,
        invoice_id: str,
        at: datetime,
    ) -> None:
        """Record the metered lines in `charges` as billed (on `invoice_id`, or "" while
        they wait on the subscription for its next invoice)."""
        rows = [
            BilledUsage(
                tenant_id=sub.tenant_id,
                id=self._ids.new("ub"),
                subscription_id=sub.id,
                price_id=charge.price_id,
                meter_id=charge.usage.meter_id,
                group_key=charge.usage.group_key,
                period_start=charge.period_start,
                period_end=charge.period_end,
                quantity_micros=charge.usage.quantity_micros,
                amount_minor=charge.amount_minor,
                invoice_id=invoice_id,
                create_time=at,
            )
            for charge in charges
            if charge.usage is not None
            and charge.period_start is not None
            and charge.period_end is not None
        ]
        uow.usage.add_billings(rows)

    # -- planning ---------------------------------------------------------------

    def _lines(
        self,
        sub: Subscription,
        part: Period | None,
        *,
        since: datetime,
        unsaved: Sequence[LineCharge],
    ) -> list[LineCharge]:
        """The lines of `part` (the usage period a step closes; None for none) and of
        every earlier billed period still open at `since`, the previous invoice."""
        items = [item for item in sub.items if item.metered] if part is not None else []
        still_open = sub.usage_open_until is not None and sub.usage_open_until >= since
        if not items and not still_open:
            # Nothing metered now and nothing billed that may still change (most of a
            # bill run): nothing to read.
            return []
        with self._uow_factory(write=False) as uow:
            rows = uow.usage.billings(sub.tenant_id, sub.id, ending_from=_rows_from(sub, since))
            billed = _billed(rows, unsaved)
            parts = [] if part is None else self._current_parts(uow, sub, items, part)
            taken = {(p.price_id, p.period) for p in parts}
            for earlier in self._earlier_parts(uow, sub, rows, since=since):
                if (earlier.price_id, earlier.period) not in taken:
                    taken.add((earlier.price_id, earlier.period))
                    parts.append(earlier)
            return self._priced(uow, sub, parts, billed=billed)

    def _current_parts(
        self, uow: Any, sub: Subscription, items: Sequence[SubscriptionItem], period: Period
    ) -> list[_Part]:
        parts = []
        for item in items:
            meter = _meter(uow, sub, item.terms)
            part = _since(item, period)
            if meter is not None and part is not None:
                parts.append(_Part(item.price_id, item.terms, item.label, meter, part, True))
        return parts

    @staticmethod
    def _earlier_parts(
        uow: Any, sub: Subscription, rows: Sequence[BilledUsage], *, since: datetime
    ) -> list[_Part]:
        """Earlier usage periods that may have changed since the previous invoice (at
        `since`): every billed one whose billing period's end plus the meter's grace
        reaches `since` (every part billed has a row: a part without usage bills a zero
        line), whether or not its price is still on the subscription."""
        by_price = {item.price_id: item for item in sub.items}
        found: dict[tuple[str, Period], _Part] = {}
        for row in rows:
            period = Period(row.period_start, row.period_end)
            if (row.price_id, period) in found:
                continue
            item = by_price.get(row.price_id)
            terms, label = (item.terms, item.label) if item else (_terms(uow, sub, row), "")
            meter = uow.usage.get_meter(sub.tenant_id, row.meter_id)
            if terms is None or meter is None:
                continue
            if usage_period(sub, row.period_start).end + meter.grace < since:
                continue
            found[(row.price_id, period)] = _Part(row.price_id, terms, label, meter, period, False)
        return list(found.values())

    def _priced(
        self, uow: Any, sub: Subscription, parts: Sequence[_Part], *, billed: dict[_Slot, _Billed]
    ) -> list[LineCharge]:
        lines: list[LineCharge] = []
        for part in parts:
            now = _quantities(uow, sub, part)
            groups = sorted(set(now) | {g for (p, s, e, g) in billed if (p, s, e) == _ident(part)})
            if part.current and not groups:
                groups = [""]  # a zero line, so the part is on record for later usage
            for group in groups:
                line = _group_line(
                    sub, part, group, now.get(group), billed.get((*_ident(part), group))
                )
                if line is not None:
                    lines.append(line)
        return lines


def _rows_from(sub: Subscription, since: datetime) -> datetime:
    """The earliest end of a billed usage period that may still be open at `since`.

    Such a period's billing period ends at or after `since - MAX_GRACE`, and the
    usage period lies inside it, so it ends after that billing period's start.
    """
    earliest = since - MAX_GRACE
    return min(earliest, period_containing(sub.anchor, sub.interval, earliest).start)


def _ident(part: _Part) -> tuple[str, datetime, datetime]:
    return (part.price_id, part.period.start, part.period.end)


def _billed(rows: Sequence[BilledUsage], unsaved: Sequence[LineCharge]) -> dict[_Slot, _Billed]:
    """What each (price, period, group) has been billed: stored rows and unsaved lines."""
    billed: dict[_Slot, _Billed] = {}
    for row in rows:
        slot = billed.setdefault(
            (row.price_id, row.period_start, row.period_end, row.group_key), _Billed()
        )
        slot.quantity_micros += row.quantity_micros
        slot.amount_minor += row.amount_minor
    for charge in unsaved:
        if charge.usage is None or charge.period_start is None or charge.period_end is None:
            continue
        key = (charge.price_id, charge.period_start, charge.period_end, charge.usage.group_key)
        slot = billed.setdefault(key, _Billed())
        slot.quantity_micros += charge.usage.quantity_micros
        slot.amount_minor += charge.amount_minor
    return billed


def _quantities(uow: Any, sub: Subscription, part: _Part) -> dict[str, int]:
    """The part's quantity now per group ("" for a meter without dimensions)."""
    meter = part.meter
    if not meter.dimension_keys:
        total = period_total_micros(uow, sub.tenant_id, sub.customer_id, meter, part.period)
        return {"": total}
    groups = uow.usage.period_aggregates(sub.tenant_id, sub.customer_id, meter, part.period)
    return {key: groups[key].quantity_micros(meter.aggregation) for key in groups}


def _group_line(
    sub: Subscription, part: _Part, group: str, now: int | None, billed: _Billed | None
) -> LineCharge | None:
    """The line of one group of a part: its usage, or the difference from what was billed."""
    quantity = now or 0
    if billed is None:
        if not part.current and not quantity:
            return None
        late_of = None if part.current else 0
        added = quantity
    else:
        if metered_amount(part.terms, quantity).amount_minor == billed.amount_minor:
            return None
        late_of = billed.quantity_micros
        added = quantity - billed.quantity_micros
    dimensions = group_dimensions(part.meter.dimension_keys, group)
    line = metered_line(
        terms=part.terms,
        price_id=part.price_id,
        subscription_id=sub.id,
        label=part.label,
        group_text=", ".join(f"{k}={v}" for k, v in dimensions.items()),
        quantity_micros=quantity,
        period_start=part.period.start,
        period_end=part.period.end,
        time_zone=sub.anchor.time_zone,
        late_of=late_of,
    )
    return replace(line, usage=UsageMark(part.meter.id, group, added, part.meter.grace))


def _meter(uow: Any, sub: Subscription, terms: PriceTerms) -> Meter | None:
    assert terms.recurring is not None
    meter = uow.usage.get_meter(sub.tenant_id, terms.recurring.meter_id)
    return meter if isinstance(meter, Meter) else None


def _terms(uow: Any, sub: Subscription, row: BilledUsage) -> PriceTerms | None:
    """A price no longer on the subscription: its terms are frozen since it was used."""
    price = uow.prices.get(sub.tenant_id, row.price_id)
    return None if price is None else price.terms


def _since(item: SubscriptionItem, period: Period) -> Period | None:
    """`period` from when `item` was added, if later (a change mid-period); None if empty."""
    since = item.metered_since
    if since is None or since <= period.start:
        return period
    return Period(since, period.end) if since < period.end else None
