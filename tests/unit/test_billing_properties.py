"""What a subscription bills, period after period and change after change.

Renewals come from the calendar, so billed periods tile time with neither gap
nor overlap and every whole period bills exactly the item's amount. A change
is prorated per second; a change and its reversal at the same instant use the
same fraction, so their exact values cancel and the rounded lines (each within
1/2 minor unit) net to within 2 minor units of zero.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from itertools import pairwise

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from accrue.catalog.model import PriceTerms, PricingScheme
from accrue.invoicing.model import LineCharge
from accrue.kernel.calendar import (
    BillingAnchor,
    BillingInterval,
    IntervalUnit,
    Period,
    boundary,
    days_in_month,
    period_containing,
)
from accrue.kernel.rounding import MAX_ROUNDING_ERROR
from accrue.subscriptions.charges import period_charges, unused_time_credits
from accrue.subscriptions.model import (
    DueAction,
    Subscription,
    SubscriptionItem,
    SubscriptionStatus,
    change_items,
    create_subscription,
    due_work,
    run_due,
    start,
)

ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe"]
DAY = 86_400
APPROX_SECONDS = {
    IntervalUnit.DAY: DAY,
    IntervalUnit.WEEK: 7 * DAY,
    IntervalUnit.MONTH: 30 * DAY,
    IntervalUnit.YEAR: 365 * DAY,
}
props = settings(max_examples=80, deadline=None)


def per_unit(amount: int, currency: str = "USD") -> PriceTerms:
    return PriceTerms(
        currency_code=currency, scheme=PricingScheme.PER_UNIT, unit_amount_minor=amount
    )


def subscribe(
    anchor: BillingAnchor,
    interval: BillingInterval,
    items: list[SubscriptionItem],
    now: datetime | None = None,
) -> Subscription:
    """An ACTIVE subscription started at `now` (default: the anchor's first boundary)."""
    at = boundary(anchor, interval, 0) if now is None else now
    sub = create_subscription(
        id="sub_1",
        tenant_id="t_1",
        customer_id="cus_1",
        items=items,
        anchor=anchor,
        interval=interval,
        now=at,
    )
    return start(sub, at).subscription


def renewals(sub: Subscription, clock_steps: list[int]) -> tuple[Subscription, list[Period]]:
    """Advance a clock by each step, running due work; every period the subscription had."""
    seen, now = [sub.current_period], sub.current_period.start
    for step in clock_steps:
        now += timedelta(seconds=step)
        while (work := due_work(sub, now)) is not None:
            assert work.action is DueAction.RENEWAL
            assert work.at == sub.current_period.end <= now
            sub = run_due(sub, work).subscription
            seen.append(sub.current_period)
    return sub, seen


@st.composite
def schedules(draw: st.DrawFn) -> tuple[BillingAnchor, BillingInterval]:
    zone = draw(st.sampled_from(ZONES), "zone")
    unit = draw(st.sampled_from(list(IntervalUnit)), "unit")
    year = draw(st.integers(2019, 2030), "year")
    if unit is IntervalUnit.MONTH:
        month, day = draw(st.integers(1, 12)), draw(st.integers(28, 31))
    elif unit is IntervalUnit.YEAR:
        month, day = draw(st.sampled_from([(2, 29), (2, 28), (1, 31), (12, 31), (3, 1)]))
        year = draw(st.sampled_from([2020, 2023, 2024]))
    else:
        month, day = draw(st.integers(1, 12)), draw(st.integers(1, 31))
    hour = draw(st.sampled_from([0, 1, 2, 3]) | st.integers(0, 23))
    minute = draw(st.sampled_from([0, 15, 30, 45]))
    anchor = BillingAnchor(year, month, day, hour, minute, draw(st.integers(0, 59)), zone)
    count = draw(st.integers(1, 3)) if unit is not IntervalUnit.YEAR else 1
    return anchor, BillingInterval(unit, count)


items_strategy = st.lists(
    st.tuples(st.integers(0, 10**7), st.integers(1, 20)), min_size=1, max_size=3
).map(
    lambda specs: [SubscriptionItem(f"price_{i}", per_unit(a), q) for i, (a, q) in enumerate(specs)]
)


@props
@given(schedule=schedules(), items=items_strategy, data=st.data())
def test_billed_periods_neither_overlap_nor_leave_gaps(
    schedule: tuple[BillingAnchor, BillingInterval],
    items: list[SubscriptionItem],
    data: st.DataObject,
) -> None:
    anchor, interval = schedule
    length = APPROX_SECONDS[interval.unit] * interval.count
    steps = data.draw(st.lists(st.integers(0, 3 * length), min_size=1, max_size=25), "clock")
    sub, seen = renewals(subscribe(anchor, interval, items), steps)
    assert sub.status is SubscriptionStatus.ACTIVE
    assert seen[0].start == boundary(anchor, interval, 0)
    for before, after in pairwise(seen):
        assert before.end == after.start
    for k, period in enumerate(seen[:40]):
        assert period == Period(boundary(anchor, interval, k), boundary(anchor, interval, k + 1))
        assert period == period_containing(anchor, interval, period.start)
        if interval.unit is IntervalUnit.MONTH:
            civil = period.start.astimezone(anchor.zone)
            assert civil.day == min(anchor.day_of_month, days_in_month(civil.year, civil.month))
        lines = period_charges(sub, period)
        assert [line.price_id for line in lines] == [item.price_id for item in items]
        for line, item in zip(lines, items, strict=True):
            assert line.amount_minor == item.terms.unit_amount_minor * item.quantity
            assert (line.fraction, line.proration) == (Fraction(1), False)
            assert (line.period_start, line.period_end) == (period.start, period.end)


@props
@given(schedule=schedules(), amount=st.integers(0, 10**7), offset=st.floats(0, 1))
def test_a_first_period_short_of_the_anchor_is_prorated_per_second(
    schedule: tuple[BillingAnchor, BillingInterval], amount: int, offset: float
) -> None:
    anchor, interval = schedule
    full = Period(boundary(anchor, interval, 0), boundary(anchor, interval, 1))
    now = full.start + timedelta(seconds=int(offset * (full.seconds - 1)))
    sub = subscribe(anchor, interval, [SubscriptionItem("price_a", per_unit(amount))], now)
    assert sub.current_period == Period(now, full.end)
    (line,) = period_charges(sub, sub.current_period)
    assert line.fraction == Fraction(sub.current_period.seconds, full.seconds)
    assert line.proration is (line.fraction != 1)
    assert abs(line.amount_minor - amount * line.fraction) <= MAX_ROUNDING_ERROR
    _, (_, second) = renewals(sub, [sub.current_period.seconds])
    (renewal,) = period_charges(sub, second)
    assert (renewal.amount_minor, renewal.fraction, renewal.proration) == (amount, 1, False)


prices = st.sampled_from(["price_a", "price_b"])
plans = st.tuples(prices, st.integers(0, 10**7), st.integers(1, 50))


@props
@given(
    schedule=schedules(),
    plan_a=plans,
    plan_b=plans,
    renewed=st.integers(0, 3),
    offset=st.floats(0, 1),
    currency=st.sampled_from(["USD", "JPY", "KWD"]),
)
def test_a_change_and_its_reversal_at_the_same_instant_net_to_zero(
    schedule: tuple[BillingAnchor, BillingInterval],
    plan_a: tuple[str, int, int],
    plan_b: tuple[str, int, int],
    renewed: int,
    offset: float,
    currency: str,
) -> None:
    assume(plan_a != plan_b)
    anchor, interval = schedule
    a = [SubscriptionItem(plan_a[0], per_unit(plan_a[1], currency), plan_a[2])]
    b = [SubscriptionItem(plan_b[0], per_unit(plan_b[1], currency), plan_b[2])]
    sub = subscribe(anchor, interval, a)
    sub, _ = renewals(sub, [sub.current_period.seconds] * renewed)
    period = sub.current_period
    at = period.start + timedelta(seconds=int(offset * (period.seconds - 1)))

    forward = change_items(sub, at, b)
    back = change_items(forward.subscription, at, a)
    assert back.subscription.items == tuple(a)
    assert back.subscription.current_period == period
    lines = [p.line for p in forward.prorations + back.prorations]
    assert len(lines) == 4
    for line in lines:
        assert abs(line.amount.amount_minor - line.unrounded) <= MAX_ROUNDING_ERROR
        assert line.fraction == Fraction((period.end - at) // timedelta(seconds=1), period.seconds)
    assert sum((line.unrounded for line in lines), Fraction(0)) == 0
    assert abs(sum(line.amount.amount_minor for line in lines)) <= 4 * MAX_ROUNDING_ERROR
    # Charges made from these lines are marked as prorations unless they span the period.
    for p in forward.prorations:
        made = LineCharge.from_proration(
            p.line,
            price_id=p.item.price_id,
            subscription_id=sub.id,
            behavior=p.item.terms.tax_behavior,
        )
        assert made.proration is (at != period.start)


# Examples.

APRIL = datetime(2024, 4, 1, tzinfo=UTC)
MONTHLY = BillingInterval(IntervalUnit.MONTH)


def test_upgrade_mid_period_credits_unused_time() -> None:
    anchor = BillingAnchor(2024, 4, 1, 0, 0, 0, "UTC")
    sub = subscribe(anchor, MONTHLY, [SubscriptionItem("price_basic", per_unit(1_000))])
    assert sub.current_period == Period(APRIL, datetime(2024, 5, 1, tzinfo=UTC))  # 30 days
    middle = APRIL + timedelta(days=15)
    done = change_items(sub, middle, [SubscriptionItem("price_basic", per_unit(2_000))])
    assert [line.amount.amount_minor for line in done.proration_lines] == [-500, 1_000]
    assert all(line.fraction == Fraction(1, 2) for line in done.proration_lines)
    (unused,) = unused_time_credits(sub, middle, sub.current_period)
    assert (unused.amount_minor, unused.proration) == (-500, True)


def test_month_end_anchor_in_a_leap_year_keeps_the_last_day() -> None:
    anchor = BillingAnchor(2024, 1, 31, 0, 0, 0, "UTC")
    sub = subscribe(anchor, MONTHLY, [SubscriptionItem("price_a", per_unit(3_100))])
    _, seen = renewals(sub, [100 * DAY])
    starts = [(p.start.year, p.start.month, p.start.day) for p in seen[:4]]
    assert starts == [(2024, 1, 31), (2024, 2, 29), (2024, 3, 31), (2024, 4, 30)]
    assert all(period_charges(sub, p)[0].amount_minor == 3_100 for p in seen)


def test_month_end_anchor_in_a_common_year_falls_on_february_28() -> None:
    anchor = BillingAnchor(2023, 1, 31, 0, 0, 0, "UTC")
    sub = subscribe(anchor, MONTHLY, [SubscriptionItem("price_a", per_unit(3_100))])
    _, seen = renewals(sub, [100 * DAY])
    starts = [(p.start.month, p.start.day) for p in seen[:4]]
    assert starts == [(1, 31), (2, 28), (3, 31), (4, 30)]
