"""usage.threshold_crossed: each percentage once per customer, feature and period."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

from hypothesis import given, settings
from hypothesis import strategies as st

from accrue.entitlements.model import (
    FeatureType,
    ItemFact,
    SubscriptionFact,
    ThresholdCrossing,
)
from accrue.entitlements.resolver import EntitlementResolver
from accrue.entitlements.service import EntitlementService, NewFeature, Target
from accrue.entitlements.thresholds import ThresholdWatcher
from accrue.event_log.service import EventRecorder
from accrue.kernel.ids import IdGenerator
from accrue.subscriptions.model import SubscriptionStatus
from accrue.usage.ports import UsageChange
from tests.fakes.entitlements import FakeStores, FakeUsage
from tests.fakes.transactions import FakeClock

T = "ten_1"
MAR1, APR1, MAY1 = (datetime(2026, m, 1, tzinfo=UTC) for m in (3, 4, 5))
PERCENTS = (50, 80, 100, 120)


class Metered:
    """`api-calls` limited to `limit` per period, thresholds at 50, 80, 100 and 120 %."""

    def __init__(self, limit: str = "1000") -> None:
        clock = FakeClock(MAR1)
        ids = IdGenerator(clock)
        events = EventRecorder(clock, ids, lambda: "")
        resolver = EntitlementResolver()
        self.uow = FakeStores()
        self.u = cast(Any, self.uow)
        service = EntitlementService(clock, ids, events, resolver, FakeUsage())
        feature = service.create_feature(
            self.u,
            T,
            NewFeature(
                key="api-calls",
                display_name="API calls",
                type=FeatureType.NUMERIC,
                unit="calls",
                per_unit=False,
                meter_id="mtr_api",
                threshold_percents=PERCENTS,
            ),
        )
        service.attach(
            self.u,
            T,
            feature.id,
            Target.of(product_id="prod", price_id=""),
            enabled=False,
            limit=limit,
        )
        self.period(MAR1, APR1)
        self.watcher = ThresholdWatcher(clock, events, resolver)

    def period(self, start: datetime, end: datetime) -> None:
        self.uow.entitlements.subscribe(
            "cus_1",
            SubscriptionFact(
                "sub_1", SubscriptionStatus.ACTIVE, start, end, (ItemFact("price", "prod", 1),)
            ),
        )

    def report(self, before: Decimal, after: Decimal, meter: str = "mtr_api") -> None:
        change = UsageChange(customer_id="cus_1", meter_id=meter, before=before, after=after)
        self.watcher.usage_changed(self.u, tenant_id=T, changes=[change])

    def crossings(self) -> list[ThresholdCrossing]:
        return [
            cast(ThresholdCrossing, e.subject)
            for e in self.uow.events.of_type("usage.threshold_crossed")
        ]


increments = st.lists(
    st.decimals(min_value=0, max_value=400, places=2, allow_nan=False, allow_infinity=False),
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(first=increments, second=increments)
def test_each_percentage_is_announced_once_per_period_whatever_the_increments(
    first: list[Decimal], second: list[Decimal]
) -> None:
    m = Metered()
    expected: list[tuple[datetime, int]] = []
    for start, end, steps in ((MAR1, APR1, first), (APR1, MAY1, second)):
        m.period(start, end)
        usage = Decimal(0)
        for step in steps:
            m.report(usage, usage + step)
            usage += step
        expected += [(start, p) for p in PERCENTS if usage > 0 and usage * 100 >= 1000 * p]

    announced = [(c.period_start, c.percent) for c in m.crossings()]
    assert sorted(announced) == sorted(expected)
    assert len(set(announced)) == len(announced)


def test_a_crossing_carries_the_limit_usage_and_period() -> None:
    m = Metered()
    m.report(Decimal(0), Decimal(850))

    crossed = m.crossings()

    assert [c.percent for c in crossed] == [50, 80]
    assert {(c.limit, c.usage, c.period_start, c.period_end) for c in crossed} == {
        (Decimal(1000), Decimal(850), MAR1, APR1)
    }


def test_a_correction_downwards_and_back_up_announces_nothing_new() -> None:
    m = Metered()
    m.report(Decimal(0), Decimal(900))
    m.report(Decimal(900), Decimal(100))
    m.report(Decimal(100), Decimal(900))

    assert [c.percent for c in m.crossings()] == [50, 80]


def test_other_meters_and_customers_without_the_feature_are_ignored() -> None:
    m = Metered()
    m.report(Decimal(0), Decimal(5000), meter="mtr_other")
    m.uow.entitlements.customers.add("cus_2")
    m.watcher.usage_changed(
        m.u,
        tenant_id=T,
        changes=[UsageChange("cus_2", "mtr_api", Decimal(0), Decimal(5000))],
    )

    assert m.crossings() == []


def test_usage_of_meters_without_thresholds_resolves_no_customer() -> None:
    m = Metered()
    reads = dict(m.uow.entitlements.reads)
    m.watcher.usage_changed(
        m.u,
        tenant_id=T,
        changes=[UsageChange(f"cus_{n}", "mtr_other", Decimal(0), Decimal(n)) for n in range(50)],
    )

    assert m.uow.entitlements.reads.get("stamp", 0) == reads.get("stamp", 0)
    assert m.crossings() == []
