"""Subscription-change policies: the rules on plain facts, and the guard on fakes (no SQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import pytest

from accrue.catalog.model import PriceTerms, PricingScheme
from accrue.entitlements.model import (
    Attachment,
    Feature,
    FeatureType,
    ItemFact,
    SubscriptionFact,
    TargetKind,
)
from accrue.entitlements.resolver import EntitlementResolver
from accrue.event_log.service import EventRecorder
from accrue.kernel.calendar import BillingInterval, IntervalUnit, anchor_from
from accrue.kernel.ids import IdGenerator
from accrue.policies.guard import PolicyGuard
from accrue.policies.model import (
    ChangeFacts,
    PolicyViolationError,
    Shortfall,
    SubscriptionPolicy,
    cancel_violations,
    change_violations,
)
from accrue.policies.service import PolicyChanges, PolicyService
from accrue.subscriptions.guard import PolicyRule
from accrue.subscriptions.model import (
    ProrationBehavior,
    Subscription,
    SubscriptionItem,
    change_items,
    create_subscription,
    start,
)
from tests.fakes.entitlements import FakeStores, FakeUsage
from tests.fakes.transactions import FakeClock

T = "ten_1"
MAR1 = datetime(2026, 3, 1, tzinfo=UTC)
MID = MAR1 + timedelta(days=10)
R = PolicyRule
NONE, PRORATE = ProrationBehavior.NONE, ProrationBehavior.CREATE_PRORATIONS
ALL_ON = SubscriptionPolicy(
    T,
    downgrade_at_period_end=True,
    max_changes_per_period=2,
    no_limit_below_usage=True,
    cancel_at_period_end=True,
)


def seat_price(amount: int) -> PriceTerms:
    return PriceTerms(currency_code="USD", scheme=PricingScheme.PER_UNIT, unit_amount_minor=amount)


def facts(**changes: Any) -> ChangeFacts:
    base: dict[str, Any] = {
        "mid_period": True,
        "cost_before_minor": 5000,
        "cost_after_minor": 5000,
        "proration_none": False,
        "changes_this_period": 0,
        "shortfalls": (),
    }
    return ChangeFacts(**{**base, **changes})


def rules(policy: SubscriptionPolicy, f: ChangeFacts) -> list[PolicyRule]:
    return [v.rule for v in change_violations(policy, f)]


def test_no_policy_allows_everything() -> None:
    nothing = SubscriptionPolicy(T)
    worst = facts(
        cost_after_minor=1,
        changes_this_period=99,
        shortfalls=(Shortfall("seats", Decimal(1), Decimal(5)),),
    )
    assert rules(nothing, worst) == []
    assert cancel_violations(nothing, at_period_end=False) == []


@pytest.mark.parametrize(
    ("f", "refused"),
    [
        (facts(cost_after_minor=4000), True),  # cheaper, mid-period, prorated
        (facts(cost_after_minor=4000, proration_none=True), False),  # at period end for money
        (facts(cost_after_minor=4000, mid_period=False), False),  # at the period's start
        (facts(cost_after_minor=6000), False),  # an upgrade
        (facts(), False),  # same cost
    ],
)
def test_downgrades_mid_period_need_proration_none(f: ChangeFacts, refused: bool) -> None:
    policy = SubscriptionPolicy(T, downgrade_at_period_end=True)
    assert rules(policy, f) == ([R.DOWNGRADE_AT_PERIOD_END] if refused else [])


def test_changes_per_period_are_capped() -> None:
    policy = SubscriptionPolicy(T, max_changes_per_period=2)
    assert rules(policy, facts(changes_this_period=1)) == []
    assert rules(policy, facts(changes_this_period=2)) == [R.MAX_CHANGES_PER_PERIOD]


def test_every_rule_broken_is_named_and_the_error_names_the_first() -> None:
    f = facts(
        cost_after_minor=10,
        changes_this_period=2,
        shortfalls=(Shortfall("seats", Decimal(3), Decimal(5)),),
    )
    violations = change_violations(ALL_ON, f)
    error = PolicyViolationError("subscriptions/sub_1", violations)

    assert [v.rule for v in violations] == [
        R.DOWNGRADE_AT_PERIOD_END,
        R.MAX_CHANGES_PER_PERIOD,
        R.NO_LIMIT_BELOW_USAGE,
    ]
    assert error.reason == "POLICY_VIOLATION"
    assert error.metadata["policy"] == "DOWNGRADE_AT_PERIOD_END"
    assert [p.type for p in error.precondition_violations] == [
        "DOWNGRADE_AT_PERIOD_END",
        "MAX_CHANGES_PER_PERIOD",
        "NO_LIMIT_BELOW_USAGE",
    ]
    assert "seats would be limited to 3, below the 5 used" in violations[2].description


def test_immediate_cancellation_is_refused_when_only_period_end_is_allowed() -> None:
    policy = SubscriptionPolicy(T, cancel_at_period_end=True)
    assert [v.rule for v in cancel_violations(policy, at_period_end=False)] == [
        R.CANCEL_AT_PERIOD_END
    ]
    assert cancel_violations(policy, at_period_end=True) == []


# -- the guard, on fakes ---------------------------------------------------------------------


class Guarded:
    """A seat subscription (10 seats x 10.00) whose product grants 1 `seats` per seat."""

    def __init__(self, policy: SubscriptionPolicy) -> None:
        self.clock = FakeClock(MAR1)
        self.uow = FakeStores()
        self.uow.policies.policy = policy
        self.usage = FakeUsage()
        self.guard = PolicyGuard(IdGenerator(self.clock), EntitlementResolver(), self.usage)
        self.sub = start(
            create_subscription(
                id="sub_1",
                tenant_id=T,
                customer_id="cus_1",
                items=[SubscriptionItem("price_seat", seat_price(1000), 10)],
                anchor=anchor_from(MAR1, "UTC"),
                interval=BillingInterval(IntervalUnit.MONTH),
                now=MAR1,
            ),
            MAR1,
        ).subscription
        store = self.uow.entitlements
        store.add_feature(
            Feature(
                tenant_id=T,
                id="feat_seats",
                key="seats",
                display_name="Seats",
                type=FeatureType.NUMERIC,
                unit="seats",
                per_unit=True,
                meter_id="mtr_seats",
                threshold_percents=(),
                archived=False,
                create_time=MAR1,
                update_time=MAR1,
            )
        )
        store.put_attachment(
            Attachment(T, "feat_seats", TargetKind.PRODUCT, "prod_team", False, Decimal(1), MAR1)
        )
        store.subscribe(
            "cus_1",
            SubscriptionFact(
                "sub_1",
                self.sub.status,
                MAR1,
                self.sub.current_period.end,
                (ItemFact("price_seat", "prod_team", 10),),
            ),
        )

    def planned(self, quantity: int, at: datetime) -> Subscription:
        items = [SubscriptionItem("price_seat", seat_price(1000), quantity)]
        return change_items(self.sub, at, items).subscription

    def violations(self, quantity: int, *, at: datetime = MID, behavior: Any = PRORATE) -> list:
        u = cast(Any, self.uow)
        found = self.guard.change_violations(
            u, before=self.sub, after=self.planned(quantity, at), at=at, behavior=behavior
        )
        return [v.rule for v in found]

    def enforce(self, quantity: int, *, at: datetime = MID, behavior: Any = PRORATE) -> None:
        u = cast(Any, self.uow)
        self.guard.enforce_change(
            u, before=self.sub, after=self.planned(quantity, at), at=at, behavior=behavior
        )


def test_fewer_seats_than_are_used_is_refused_and_more_is_allowed() -> None:
    g = Guarded(SubscriptionPolicy(T, no_limit_below_usage=True))
    g.usage.values[("cus_1", "mtr_seats")] = Decimal(7)

    assert g.violations(6) == [R.NO_LIMIT_BELOW_USAGE]
    assert g.violations(7) == []
    assert g.violations(12) == []


def test_a_downgrade_is_previewed_as_refused_unless_it_waits_for_the_period_end() -> None:
    g = Guarded(SubscriptionPolicy(T, downgrade_at_period_end=True))

    assert g.violations(5) == [R.DOWNGRADE_AT_PERIOD_END]
    assert g.violations(5, behavior=NONE) == []
    assert g.violations(5, at=MAR1) == []
    assert g.violations(15) == []


def test_enforcing_counts_committed_changes_and_refuses_past_the_cap() -> None:
    g = Guarded(SubscriptionPolicy(T, max_changes_per_period=2))
    g.enforce(11)
    g.enforce(12)

    with pytest.raises(PolicyViolationError) as refused:
        g.enforce(13)

    assert refused.value.metadata["policy"] == "MAX_CHANGES_PER_PERIOD"
    assert len(g.uow.policies.changes) == 2  # the refused change is not counted


def test_cancel_now_is_refused_by_the_guard_and_at_period_end_is_not() -> None:
    g = Guarded(SubscriptionPolicy(T, cancel_at_period_end=True))
    u = cast(Any, g.uow)
    g.guard.enforce_cancel(u, g.sub, at_period_end=True)
    with pytest.raises(PolicyViolationError) as refused:
        g.guard.enforce_cancel(u, g.sub, at_period_end=False)
    assert refused.value.metadata["policy"] == "CANCEL_AT_PERIOD_END"


def test_policy_updates_change_only_the_named_rules_and_are_audited() -> None:
    clock = FakeClock(MAR1)
    uow = FakeStores()
    service = PolicyService(clock, EventRecorder(clock, IdGenerator(clock), lambda: ""))
    u = cast(Any, uow)
    assert service.get(u, T) == SubscriptionPolicy(T)

    service.update(u, T, PolicyChanges(cancel_at_period_end=True), actor="api_key:acc_a")
    clock.advance(60)
    updated = service.update(u, T, PolicyChanges(max_changes_per_period=3), actor="api_key:acc_b")

    assert (updated.cancel_at_period_end, updated.max_changes_per_period) == (True, 3)
    assert (updated.update_actor, updated.update_time) == (
        "api_key:acc_b",
        MAR1 + timedelta(seconds=60),
    )
    events = uow.events.of_type("subscription_policy.updated")
    assert [cast(SubscriptionPolicy, e.subject).update_actor for e in events] == [
        "api_key:acc_a",
        "api_key:acc_b",
    ]


def test_a_trial_may_be_downgraded_at_any_time() -> None:
    g = Guarded(SubscriptionPolicy(T, downgrade_at_period_end=True))
    g.sub = start(
        create_subscription(
            id="sub_2",
            tenant_id=T,
            customer_id="cus_1",
            items=[SubscriptionItem("price_seat", seat_price(1000), 10)],
            anchor=anchor_from(MAR1, "UTC"),
            interval=BillingInterval(IntervalUnit.MONTH),
            now=MAR1,
        ),
        MAR1,
        trial_days=14,
    ).subscription

    assert g.violations(5) == []
