"""Which billing period a customer's usage belongs to, and the customer's "now".

Usage is aggregated per billing period of the customer's subscription that
bills the meter (else its first live subscription); a customer without one is
measured per UTC calendar month. Usage at an instant when a since-canceled
subscription billed the meter (and no live one billing it had started)
belongs to that subscription's periods, so its grace is the one the trailing
invoice honours: usage accepted is usage billed, and what comes later is
refused as too late, never dropped.

"Now" is the customer's test clock's frozen time when it has one, so usage can
be reported at simulated times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from accrue.catalog.model import UsageType
from accrue.kernel.calendar import Period, period_containing
from accrue.kernel.clock import Clock
from accrue.kernel.paging import PageRequest
from accrue.subscriptions.model import Subscription, SubscriptionStatus

_LIVE = frozenset(
    {
        SubscriptionStatus.TRIALING,
        SubscriptionStatus.ACTIVE,
        SubscriptionStatus.PAST_DUE,
        SubscriptionStatus.PAUSED,
        SubscriptionStatus.UNPAID,
    }
)
_ALL = PageRequest(size=100, after_id="", query_fingerprint="")


@dataclass(frozen=True, slots=True)
class CustomerTime:
    """A customer's now and the subscriptions that set its periods."""

    now: datetime
    subscriptions: tuple[Subscription, ...]
    # Canceled subscriptions of the customer: their last periods keep their grace.
    ended: tuple[Subscription, ...] = ()
    # `now` is a test clock's frozen time, which only an advance moves.
    simulated: bool = False
    # Per meter: (from, until, period) for instants known to fall in that period.
    _known: dict[str, tuple[datetime, datetime, Period]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def subscription_for(self, meter_id: str) -> Subscription | None:
        return self._billing(meter_id) or self._first_live()

    def _billing(self, meter_id: str) -> Subscription | None:
        """The live subscription that bills the meter, if any."""
        return next((sub for sub in self.subscriptions if _bills(sub, meter_id)), None)

    def _first_live(self) -> Subscription | None:
        return self.subscriptions[0] if self.subscriptions else None

    def current_period(self, meter_id: str) -> Period:
        return self.period_of(meter_id, self.now)

    def period_of(self, meter_id: str, instant: datetime) -> Period:
        """The billing period that holds `instant` for this meter."""
        known = self._known.get(meter_id)
        if known is not None and known[0] <= instant < known[1]:
            return known[2]
        billing = self._billing(meter_id)
        if billing is None or instant < billing.create_time:
            # The subscription that billed the meter when the usage happened.
            for ended in self.ended:
                if _bills(ended, meter_id) and _lived_at(ended, instant):
                    return usage_period(ended, instant)
        sub = billing or self._first_live()
        if sub is None:
            found = calendar_month(instant)
            if not any(_bills(ended, meter_id) for ended in self.ended):
                self._known[meter_id] = (found.start, found.end, found)
            return found
        found = usage_period(sub, instant)
        self._remember(meter_id, sub, billing is not None, found, instant)
        return found

    def _remember(
        self, meter_id: str, sub: Subscription, billing: bool, found: Period, instant: datetime
    ) -> None:
        """Keep `found` for every instant of `sub`'s current period that would take
        the same path to it: a batch's events mostly fall in that one period, and
        each then costs a comparison instead of a walk over the subscriptions."""
        current = sub.current_period
        if not current.start <= instant < current.end:
            return
        if billing:
            low = max(current.start, sub.create_time)  # earlier goes to the ended ones
        elif any(_bills(ended, meter_id) for ended in self.ended):
            return  # every instant is first tried against those
        else:
            low = current.start
        self._known[meter_id] = (low, current.end, found)


def usage_period(sub: Subscription, instant: datetime) -> Period:
    """The billing period of `sub` that holds `instant`, as usage is judged against it.

    Ingestion refuses an event once this period's end plus the meter's grace
    has passed, and billing re-checks a billed usage period until then, so both
    must use this one rule. A canceled subscription's last period ends at the
    cancellation.
    """
    current = sub.current_period
    if current.start <= instant < current.end:
        found = current
    else:
        found = period_containing(sub.anchor, sub.interval, instant)
        if instant < current.start and found.end > current.start:
            found = Period(found.start, current.start)
    ended = sub.canceled_at
    if ended is not None and found.start < ended < found.end:
        return Period(found.start, ended)
    return found


def _bills(sub: Subscription, meter_id: str) -> bool:
    return any(
        item.terms.recurring
        and item.terms.recurring.meter_id == meter_id
        and item.terms.recurring.usage_type is UsageType.METERED
        for item in sub.items
    )


def _lived_at(sub: Subscription, instant: datetime) -> bool:
    ended = sub.canceled_at
    return ended is not None and sub.create_time <= instant < ended


def calendar_month(instant: datetime) -> Period:
    utc = instant.astimezone(UTC)
    start = utc.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return Period(start, end)


class CustomerTimes:
    """Looks customers up once per batch: existence, test-clock time, subscriptions."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def wall_now(self) -> datetime:
        """The now of a customer without a test clock, in whole seconds."""
        return self._clock.now().replace(microsecond=0)

    def load(
        self, uow: Any, tenant_id: str, customer_ids: Sequence[str]
    ) -> dict[str, CustomerTime]:
        found: dict[str, CustomerTime] = {}
        clocks: dict[str, datetime] = {}
        wall = self.wall_now()
        customers = uow.customers.test_clock_ids(tenant_id, sorted(set(customer_ids)))
        for customer_id in sorted(customers):
            test_clock_id = customers[customer_id]
            now = wall
            if test_clock_id:
                if test_clock_id not in clocks:
                    test_clock = uow.test_clocks.get(tenant_id, test_clock_id)
                    clocks[test_clock_id] = (
                        test_clock.frozen_time if test_clock is not None else wall
                    )
                now = clocks[test_clock_id]
            subs = uow.subscriptions.list(tenant_id, _ALL, customer_id=customer_id, status=None)
            live = tuple(sub for sub in subs if sub.status in _LIVE)
            ended = tuple(sub for sub in subs if sub.status is SubscriptionStatus.CANCELED)
            found[customer_id] = CustomerTime(
                now=now, subscriptions=live, ended=ended, simulated=bool(test_clock_id)
            )
        return found
