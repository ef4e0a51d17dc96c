"""Which period a usage event belongs to does not depend on what was asked before.

Ingestion asks `CustomerTime.period_of` once per event of a batch and keeps
each answer for the instants known to take the same path to it; the answer
for any instant must still be the one a fresh lookup gives, whatever the
customer's subscriptions look like (metered or not, backdated, irregular
current periods, canceled ones whose last periods keep their grace).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from accrue.catalog.model import PriceTerms, PricingScheme, Recurring, UsageType
from accrue.kernel.calendar import BillingInterval, IntervalUnit, Period, anchor_from
from accrue.subscriptions.model import (
    Subscription,
    SubscriptionItem,
    SubscriptionStatus,
    create_subscription,
)
from accrue.usage.periods import CustomerTime

METER = "mtr_1"
ORIGIN = datetime(2026, 1, 1, tzinfo=UTC)
hours = st.integers(min_value=0, max_value=24 * 60)


def _item(metered: bool) -> SubscriptionItem:
    recurring = Recurring(
        interval_unit=IntervalUnit.MONTH,
        interval_count=1,
        usage_type=UsageType.METERED if metered else UsageType.LICENSED,
        meter_id=METER if metered else "",
    )
    return SubscriptionItem(
        "price_1",
        PriceTerms(
            currency_code="USD",
            scheme=PricingScheme.PER_UNIT,
            unit_amount_minor=100,
            recurring=recurring,
        ),
    )


@st.composite
def subscriptions(draw: st.DrawFn, status: SubscriptionStatus) -> Subscription:
    created = ORIGIN + timedelta(hours=draw(hours))
    sub = create_subscription(
        id=f"sub_{draw(st.integers(0, 10**6))}",
        tenant_id="t_1",
        customer_id="cus_1",
        items=[_item(draw(st.booleans()))],
        anchor=anchor_from(ORIGIN + timedelta(hours=draw(hours)), "UTC"),
        interval=BillingInterval(IntervalUnit.DAY, draw(st.integers(1, 40))),
        now=created,
    )
    # An irregular current period (a change, a backdate): anywhere, any length.
    start = ORIGIN + timedelta(hours=draw(hours))
    current = Period(start, start + timedelta(hours=draw(st.integers(1, 24 * 40))))
    canceled_at = None
    if status is SubscriptionStatus.CANCELED:
        canceled_at = created + timedelta(hours=draw(st.integers(1, 24 * 45)))
    elif draw(st.booleans()):
        created = current.start + timedelta(hours=draw(st.integers(0, 24 * 10)))  # backdated
    return replace(
        sub, status=status, current_period=current, create_time=created, canceled_at=canceled_at
    )


@settings(max_examples=800, deadline=None)
@given(
    live=st.lists(subscriptions(SubscriptionStatus.ACTIVE), max_size=2),
    ended=st.lists(subscriptions(SubscriptionStatus.CANCELED), max_size=2),
    picks=st.lists(
        st.tuples(st.integers(0, 10**6), st.integers(-3000, 3000)), min_size=1, max_size=30
    ),
)
def test_a_batch_gets_the_period_a_fresh_lookup_would_give_every_event(
    live: list[Subscription], ended: list[Subscription], picks: list[tuple[int, int]]
) -> None:
    now = ORIGIN + timedelta(days=200)
    batch = CustomerTime(now=now, subscriptions=tuple(live), ended=tuple(ended))
    # Instants near the edges where the path to a period changes, and anywhere.
    edges = [ORIGIN + timedelta(days=d) for d in range(0, 60, 10)]
    for sub in live + ended:
        edges += [sub.create_time, sub.current_period.start, sub.current_period.end] * 4
        edges += [sub.canceled_at] * 4 if sub.canceled_at else []
    for index, minutes in picks:
        instant = edges[index % len(edges)] + timedelta(minutes=minutes)
        fresh = CustomerTime(now=now, subscriptions=tuple(live), ended=tuple(ended))
        assert batch.period_of(METER, instant) == fresh.period_of(METER, instant)
