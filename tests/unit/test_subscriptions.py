"""The subscription state machine: the table is the truth, periods come from the calendar."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accrue.catalog.model import PriceTerms, PricingScheme
from accrue.kernel.calendar import BillingAnchor, BillingInterval, IntervalUnit, Period, anchor_from
from accrue.kernel.errors import InvalidState, ValidationFailed
from accrue.subscriptions.model import (
    TRANSITIONS,
    Action,
    DueAction,
    DueWork,
    ProrationBehavior,
    Subscription,
    SubscriptionItem,
    SubscriptionStatus,
    Transition,
    cancel_at_period_end,
    cancel_now,
    change_items,
    create_subscription,
    due_work,
    end_trial,
    exhaust_dunning,
    mark_paid,
    mark_payment_failed,
    pause,
    reactivate,
    renew,
    resume,
    run_due,
    scheduled_work,
    settle_usage,
    start,
)

S = SubscriptionStatus
JAN31 = datetime(2024, 1, 31, tzinfo=UTC)
MONTHLY = BillingInterval(IntervalUnit.MONTH)
props = settings(max_examples=60, deadline=None)


def per_unit(amount: int) -> PriceTerms:
    return PriceTerms(currency_code="USD", scheme=PricingScheme.PER_UNIT, unit_amount_minor=amount)


def flat(amount: int) -> PriceTerms:
    return PriceTerms(currency_code="USD", scheme=PricingScheme.FLAT, unit_amount_minor=amount)


def new_sub(now: datetime = JAN31, zone: str = "UTC") -> Subscription:
    return create_subscription(
        id="sub_1",
        tenant_id="t_1",
        customer_id="cus_1",
        items=[SubscriptionItem("price_a", per_unit(1000), 2)],
        anchor=anchor_from(now, zone),
        interval=MONTHLY,
        now=now,
    )


def active(now: datetime = JAN31) -> Subscription:
    return start(new_sub(now), now).subscription


def apply(sub: Subscription, action: Action, now: datetime, param: int) -> Transition:
    """Invoke the function behind `action` with arguments that are valid by themselves."""
    later = now + timedelta(days=1 + param % 40)
    calls: dict[Action, Callable[[], Transition]] = {
        Action.START: lambda: start(sub, now, trial_days=param % 20 or None),
        Action.END_TRIAL: lambda: end_trial(sub, now),
        Action.RENEW: lambda: renew(sub, now),
        Action.MARK_PAYMENT_FAILED: lambda: mark_payment_failed(sub, now),
        Action.MARK_PAID: lambda: mark_paid(sub, now),
        Action.EXHAUST_DUNNING: lambda: exhaust_dunning(
            sub, now, "cancel" if param % 2 else "unpaid"
        ),
        Action.PAUSE: lambda: pause(sub, now, later if param % 2 else None),
        Action.RESUME: lambda: resume(sub, now),
        Action.CANCEL_NOW: lambda: cancel_now(sub, now),
        Action.CANCEL_AT_PERIOD_END: lambda: cancel_at_period_end(sub, now),
        Action.REACTIVATE: lambda: reactivate(sub, now),
        Action.CHANGE_ITEMS: lambda: change_items(
            sub,
            now,
            [SubscriptionItem("price_a", per_unit(1000), 1 + param % 5)],
            list(ProrationBehavior)[param % 3],
        ),
    }
    return calls[action]()


def test_the_table_names_every_status_and_canceled_allows_nothing() -> None:
    assert set(TRANSITIONS) == set(SubscriptionStatus)
    assert TRANSITIONS[S.CANCELED] == {}
    for allowed in TRANSITIONS.values():
        for targets in allowed.values():
            assert targets and targets <= set(SubscriptionStatus)


# Each step: a choice (mostly an action the table allows, so sequences reach deep states;
# sometimes any action at all; sometimes whatever work is due), a gap and a parameter.
steps = st.lists(
    st.tuples(st.integers(0, 99), st.integers(0, 35 * 86400), st.integers(0, 1000)), max_size=30
)


def pick(sub: Subscription, choice: int) -> Action | None:
    allowed = [a for a in TRANSITIONS[sub.status] if a is not Action.CANCEL_NOW]
    if choice < 60 and allowed:
        return allowed[choice % len(allowed)]
    return list(Action)[choice % len(Action)] if choice < 85 else None


@props
@given(steps=steps, zone=st.sampled_from(["UTC", "America/New_York"]))
def test_random_sequences_follow_the_table(steps: list[tuple[int, int, int]], zone: str) -> None:
    now = JAN31 + timedelta(hours=7)
    sub = new_sub(now, zone)
    for choice, gap, param in steps:
        now += timedelta(seconds=gap)
        action, before = pick(sub, choice), sub
        if action is None:
            work = due_work(sub, now)
            if work is None:
                continue
            done = run_due(sub, work)
            assert done.events[0].occur_time == work.at
        else:
            try:
                done = apply(sub, action, now, param)
            except InvalidState as error:
                assert error.precondition_violations
                assert error.metadata == {"status": sub.status.value, "action": action.value}
                continue
            assert action in TRANSITIONS[before.status]
            assert done.subscription.status in TRANSITIONS[before.status][action]
        sub = done.subscription
        assert sub.version == before.version + 1
        assert [e.status for e in done.events] == [sub.status]
        assert sub.current_period.start < sub.current_period.end


def test_an_action_outside_the_table_is_refused_naming_status_and_action() -> None:
    sub = active()
    with pytest.raises(InvalidState) as caught:
        resume(sub, JAN31)
    (violation,) = caught.value.precondition_violations
    assert "active" in violation.description and "resume" in violation.description
    assert caught.value.metadata == {"status": "active", "action": "resume"}


@pytest.mark.parametrize("action", list(Action))
def test_canceled_is_terminal(action: Action) -> None:
    canceled = cancel_now(active(), JAN31 + timedelta(days=3)).subscription
    assert canceled.status is S.CANCELED
    with pytest.raises(InvalidState):
        apply(canceled, action, JAN31 + timedelta(days=90), 1)
    assert due_work(canceled, JAN31 + timedelta(days=900)) is None


def test_renewals_from_a_jan_31_anchor_keep_month_ends() -> None:
    sub = active()
    seen = [sub.current_period]
    for _ in range(4):
        sub = renew(sub, sub.current_period.end).subscription
        seen.append(sub.current_period)
    assert [(p.start.month, p.start.day) for p in seen] == [
        (1, 31),
        (2, 29),
        (3, 31),
        (4, 30),
        (5, 31),
    ]
    assert all(a.end == b.start for a, b in pairwise(seen))
    assert sub.version == 6


def test_renewing_before_the_period_ends_is_refused() -> None:
    sub = active()
    with pytest.raises(InvalidState):
        renew(sub, sub.current_period.end - timedelta(seconds=1))


def test_cancel_at_period_end_then_renew_cancels_at_exactly_the_end() -> None:
    sub = cancel_at_period_end(active(), JAN31 + timedelta(days=5)).subscription
    assert scheduled_work(sub) == DueWork(DueAction.PERIOD_END_CANCELLATION, sub.current_period.end)
    done = renew(sub, sub.current_period.end + timedelta(days=3))
    assert done.subscription.status is S.CANCELED
    assert done.subscription.canceled_at == sub.current_period.end
    assert done.events[0].type == "subscription.canceled"


def test_reactivate_clears_a_pending_cancellation() -> None:
    sub = cancel_at_period_end(active(), JAN31).subscription
    sub = reactivate(sub, JAN31).subscription
    assert not sub.cancel_at_period_end
    assert renew(sub, sub.current_period.end).subscription.status is S.ACTIVE
    with pytest.raises(InvalidState):
        reactivate(sub, JAN31)


def test_trial_then_payment_failure_then_dunning() -> None:
    sub = start(new_sub(), JAN31, trial_days=14).subscription
    assert sub.status is S.TRIALING
    assert sub.current_period == Period(JAN31, JAN31 + timedelta(days=14))
    sub = end_trial(sub, JAN31 + timedelta(days=20)).subscription
    assert sub.status is S.ACTIVE
    assert sub.current_period == Period(
        JAN31 + timedelta(days=14), datetime(2024, 2, 29, tzinfo=UTC)
    )
    sub = mark_payment_failed(sub, JAN31 + timedelta(days=21)).subscription
    assert (
        exhaust_dunning(sub, JAN31 + timedelta(days=25), "unpaid").subscription.status is S.UNPAID
    )
    assert exhaust_dunning(sub, JAN31 + timedelta(days=25), "cancel").subscription.status is (
        S.CANCELED
    )


def test_pause_keeps_the_period_and_resume_reanchors_at_resume_time() -> None:
    sub = active()
    paused = pause(sub, JAN31 + timedelta(days=3)).subscription
    assert paused.current_period == sub.current_period
    assert due_work(paused, JAN31 + timedelta(days=300)) is None  # nothing renews while paused
    resumed_at = datetime(2024, 5, 31, 12, tzinfo=UTC)
    resumed = resume(paused, resumed_at).subscription
    assert resumed.anchor == BillingAnchor(2024, 5, 31, 12, 0, 0, "UTC")
    assert resumed.current_period == Period(resumed_at, datetime(2024, 6, 30, 12, tzinfo=UTC))
    assert renew(resumed, resumed.current_period.end).subscription.current_period.end == (
        datetime(2024, 7, 31, 12, tzinfo=UTC)
    )


def test_pause_refuses_a_resume_time_in_the_past() -> None:
    with pytest.raises(ValidationFailed):
        pause(active(), JAN31 + timedelta(days=2), JAN31 + timedelta(days=1))


@props
@given(
    change_at=st.integers(0, 29 * 86400 - 1),
    old=st.tuples(st.integers(0, 10**6), st.integers(1, 50)),
    new=st.tuples(st.integers(0, 10**6), st.integers(1, 50)),
    added=st.integers(0, 10**5),
)
def test_change_items_prorates_every_changed_item(
    change_at: int, old: tuple[int, int], new: tuple[int, int], added: int
) -> None:
    sub = create_subscription(
        id="sub_2",
        tenant_id="t_1",
        customer_id="cus_1",
        items=[
            SubscriptionItem("price_a", per_unit(old[0]), old[1]),
            SubscriptionItem("price_b", flat(777)),
        ],
        anchor=anchor_from(JAN31, "UTC"),
        interval=MONTHLY,
        now=JAN31,
    )
    sub = mark_paid(sub, JAN31).subscription
    items = [
        SubscriptionItem("price_a", per_unit(new[0]), new[1]),
        SubscriptionItem("c", flat(added)),
    ]
    now = JAN31 + timedelta(seconds=change_at)

    none = change_items(sub, now, items, ProrationBehavior.NONE)
    assert none.proration_lines == ()
    assert none.subscription.items == tuple(items)

    done = change_items(sub, now, items)
    period = sub.current_period
    share = Fraction((period.end - now) // timedelta(seconds=1), period.seconds)
    exact = (new[0] * new[1] - old[0] * old[1] - 777 + added) * share
    lines = done.proration_lines
    assert len(lines) == (4 if old != new else 2)
    assert abs(sum(line.amount.amount_minor for line in lines) - exact) <= len(lines)
    assert sum(line.unrounded for line in lines) == exact


def test_due_work_runs_in_time_order_on_a_test_clock() -> None:
    sub = start(new_sub(), JAN31, trial_days=10).subscription
    now = JAN31
    ran: list[tuple[DueAction, datetime]] = []
    for day in range(1, 200):
        now = JAN31 + timedelta(days=day)
        if day == 50:
            sub = pause(sub, now, now + timedelta(days=20)).subscription
        if day == 150:
            sub = cancel_at_period_end(sub, now).subscription
        while (work := due_work(sub, now)) is not None:
            ran.append((work.action, work.at))
            sub = run_due(sub, work).subscription
    instants = [at for _, at in ran]
    assert instants == sorted(instants) and len(set(instants)) == len(instants)
    assert [action for action, _ in ran][:4] == [
        DueAction.TRIAL_END,
        DueAction.RENEWAL,
        DueAction.SCHEDULED_RESUME,
        DueAction.RENEWAL,
    ]
    assert ran[-1][0] is DueAction.PERIOD_END_CANCELLATION
    assert sub.status is S.CANCELED and sub.canceled_at == ran[-1][1]


def test_a_canceled_subscription_with_open_usage_is_due_once_after_the_grace() -> None:
    ended = JAN31 + timedelta(days=5)
    canceled = cancel_now(active(), ended).subscription
    assert scheduled_work(canceled) is None
    open_until = ended + timedelta(days=1)
    waiting = replace(canceled, usage_open_until=open_until)
    work = scheduled_work(waiting)
    assert work == DueWork(DueAction.USAGE_SETTLEMENT, open_until + timedelta(seconds=1))
    assert due_work(waiting, open_until) is None
    with pytest.raises(InvalidState):
        settle_usage(waiting, open_until)
    done = run_due(waiting, work)
    assert done.events == ()
    assert done.subscription.status is S.CANCELED
    assert done.subscription.version == waiting.version + 1
    assert scheduled_work(done.subscription) is None
    # Usage whose grace closed before the cancellation leaves nothing to settle.
    assert scheduled_work(replace(canceled, usage_open_until=ended - timedelta(days=1))) is None


def test_only_a_canceled_subscription_settles_its_usage() -> None:
    live = replace(active(), usage_open_until=JAN31 + timedelta(days=1))
    assert scheduled_work(live) == DueWork(DueAction.RENEWAL, live.current_period.end)
    with pytest.raises(InvalidState):
        settle_usage(live, JAN31 + timedelta(days=2))
