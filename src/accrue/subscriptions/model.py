"""The subscription aggregate and its state machine, as pure functions.

A `Subscription` is immutable; every transition returns a new one with
`version` one higher (for optimistic concurrency) plus the facts that
happened. `TRANSITIONS` is the single source of truth for which action each
status allows and which statuses it may lead to: every function consults it
before doing anything, so a test can enumerate the machine.

Periods come from the calendar, never from adding durations: a renewal's new
period is [old end, next anchor boundary after it), so Jan 31 -> Feb 29 ->
Mar 31 stays right and consecutive periods neither gap nor overlap.

Paused time is not billed; billing is postponed. The period in which the pause
started is kept unchanged while paused (no renewal happens). On resume the
subscription is re-anchored at the resume instant, in the anchor's time zone
and with the same month-end clamping rules, and a new period starts exactly at
resume time. Settling the unused rest of the kept period is the engine's call.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NoReturn

from accrue.catalog.model import PriceTerms, UsageType
from accrue.invoicing.model import CollectionMethod, InvoiceLine
from accrue.invoicing.proration import ProrationLine, prorate_change, prorate_partial_period
from accrue.kernel.calendar import (
    BillingAnchor,
    BillingInterval,
    Period,
    anchor_from,
    next_boundary,
    utc_text,
)
from accrue.kernel.errors import InvalidState, PreconditionViolation, ValidationFailed
from accrue.kernel.records import evolve


class SubscriptionStatus(enum.Enum):
    INCOMPLETE = "incomplete"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    PAUSED = "paused"
    CANCELED = "canceled"
    UNPAID = "unpaid"


class Action(enum.Enum):
    START = "start"
    END_TRIAL = "end_trial"
    RENEW = "renew"
    MARK_PAYMENT_FAILED = "mark_payment_failed"
    MARK_PAID = "mark_paid"
    EXHAUST_DUNNING = "exhaust_dunning"
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL_NOW = "cancel_now"
    CANCEL_AT_PERIOD_END = "cancel_at_period_end"
    REACTIVATE = "reactivate"
    CHANGE_ITEMS = "change_items"


class ProrationBehavior(enum.Enum):
    CREATE_PRORATIONS = "create_prorations"
    ALWAYS_INVOICE = "always_invoice"
    NONE = "none"


class DueAction(enum.Enum):
    TRIAL_END = "trial_end"
    RENEWAL = "renewal"
    PERIOD_END_CANCELLATION = "period_end_cancellation"
    SCHEDULED_RESUME = "scheduled_resume"
    # A canceled subscription's trailing usage invoice, once every meter's grace closed.
    USAGE_SETTLEMENT = "usage_settlement"


_S = SubscriptionStatus
_A = Action
_CANCEL = {_A.CANCEL_NOW: frozenset({_S.CANCELED})}

# The fact each action records (a cancellation, whatever caused it, is "canceled").
_FACTS = {
    _A.START: "started", _A.END_TRIAL: "trial_ended", _A.RENEW: "renewed",
    _A.MARK_PAYMENT_FAILED: "past_due", _A.MARK_PAID: "activated", _A.EXHAUST_DUNNING: "unpaid",
    _A.PAUSE: "paused", _A.RESUME: "resumed", _A.CANCEL_NOW: "canceled",
    _A.CANCEL_AT_PERIOD_END: "cancellation_scheduled", _A.REACTIVATE: "reactivated",
    _A.CHANGE_ITEMS: "items_changed",
}  # fmt: skip

# status -> action allowed in it -> statuses the action may lead to.
TRANSITIONS: dict[SubscriptionStatus, dict[Action, frozenset[SubscriptionStatus]]] = {
    _S.INCOMPLETE: {
        # INCOMPLETE -> INCOMPLETE: started, but its first invoice is charged first.
        _A.START: frozenset({_S.TRIALING, _S.ACTIVE, _S.INCOMPLETE}),
        _A.MARK_PAID: frozenset({_S.ACTIVE}),
        _A.CHANGE_ITEMS: frozenset({_S.INCOMPLETE}),
        **_CANCEL,
    },
    _S.TRIALING: {
        _A.END_TRIAL: frozenset({_S.ACTIVE, _S.CANCELED}),
        _A.CANCEL_AT_PERIOD_END: frozenset({_S.TRIALING}),
        _A.REACTIVATE: frozenset({_S.TRIALING}),
        _A.CHANGE_ITEMS: frozenset({_S.TRIALING}),
        **_CANCEL,
    },
    _S.ACTIVE: {
        _A.RENEW: frozenset({_S.ACTIVE, _S.CANCELED}),
        _A.MARK_PAYMENT_FAILED: frozenset({_S.PAST_DUE}),
        _A.PAUSE: frozenset({_S.PAUSED}),
        _A.CANCEL_AT_PERIOD_END: frozenset({_S.ACTIVE}),
        _A.REACTIVATE: frozenset({_S.ACTIVE}),
        _A.CHANGE_ITEMS: frozenset({_S.ACTIVE}),
        **_CANCEL,
    },
    _S.PAST_DUE: {
        _A.RENEW: frozenset({_S.PAST_DUE, _S.CANCELED}),
        _A.MARK_PAID: frozenset({_S.ACTIVE}),
        _A.EXHAUST_DUNNING: frozenset({_S.CANCELED, _S.UNPAID}),
        _A.CANCEL_AT_PERIOD_END: frozenset({_S.PAST_DUE}),
        _A.REACTIVATE: frozenset({_S.PAST_DUE}),
        **_CANCEL,
    },
    _S.UNPAID: {_A.MARK_PAID: frozenset({_S.ACTIVE}), **_CANCEL},
    _S.PAUSED: {_A.RESUME: frozenset({_S.ACTIVE}), **_CANCEL},
    _S.CANCELED: {},
}


@dataclass(frozen=True, slots=True)
class SubscriptionItem:
    """One price on a subscription, with the terms it was sold on frozen in."""

    price_id: str
    terms: PriceTerms
    quantity: int = 1
    # What invoices call the item (`Product (nickname)`), frozen in with the terms.
    label: str = ""
    # Metered items added by a change mid-period count usage from then on.
    metered_since: datetime | None = None

    def __post_init__(self) -> None:
        if self.quantity < 1:
            raise ValidationFailed.on("item.quantity", "must be at least 1")
        self.terms.validate("item.price")

    @property
    def metered(self) -> bool:
        """Billed in arrears from usage, never in advance or prorated by time."""
        recurring = self.terms.recurring
        return recurring is not None and recurring.usage_type is UsageType.METERED


@dataclass(frozen=True, slots=True)
class Pause:
    started_at: datetime
    resume_at: datetime | None


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    tenant_id: str
    customer_id: str
    status: SubscriptionStatus
    items: tuple[SubscriptionItem, ...]
    anchor: BillingAnchor
    interval: BillingInterval
    current_period: Period
    create_time: datetime
    trial_end: datetime | None = None
    cancel_at_period_end: bool = False
    canceled_at: datetime | None = None
    pause: Pause | None = None
    version: int = 1
    test_clock_id: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    # Proration lines (with tax) waiting for the next renewal invoice.
    pending_lines: tuple[InvoiceLine, ...] = ()
    latest_invoice_id: str = ""
    update_time: datetime | None = None
    collection_method: CollectionMethod = CollectionMethod.SEND_INVOICE
    # The last instant at which usage this subscription has billed may still be
    # reported or corrected (a billed usage period's end plus its meter's grace);
    # set by billing, which knows the meters. It keeps prices a change removed
    # re-checked, and a canceled subscription due once more for its late usage.
    usage_open_until: datetime | None = None

    @property
    def currency_code(self) -> str:
        return self.items[0].terms.currency_code


@dataclass(frozen=True, slots=True)
class SubscriptionEvent:
    """A fact that happened to a subscription, e.g. `subscription.renewed`."""

    type: str
    subscription_id: str
    occur_time: datetime
    previous_status: SubscriptionStatus
    status: SubscriptionStatus


@dataclass(frozen=True, slots=True)
class ItemProration:
    """A proration line and the item (old for a credit, new for a charge) it prices."""

    item: SubscriptionItem
    line: ProrationLine


@dataclass(frozen=True, slots=True)
class Transition:
    """The subscription after an action, what happened, and any proration lines."""

    subscription: Subscription
    events: tuple[SubscriptionEvent, ...]
    prorations: tuple[ItemProration, ...] = ()

    @property
    def proration_lines(self) -> tuple[ProrationLine, ...]:
        return tuple(p.line for p in self.prorations)


@dataclass(frozen=True, slots=True)
class DueWork:
    action: DueAction
    at: datetime


def create_subscription(
    *,
    id: str,
    tenant_id: str,
    customer_id: str,
    items: Sequence[SubscriptionItem],
    anchor: BillingAnchor,
    interval: BillingInterval,
    now: datetime,
) -> Subscription:
    """A new INCOMPLETE subscription (version 1), its first period starting now."""
    at = _instant(now, "now")
    period = Period(at, next_boundary(anchor, interval, at))
    return Subscription(
        id, tenant_id, customer_id, _S.INCOMPLETE, _checked(items), anchor, interval, period, at
    )


def start(
    sub: Subscription,
    now: datetime,
    *,
    trial_days: int | None = None,
    trial_end: datetime | None = None,
    await_payment: bool = False,
) -> Transition:
    """Begin without upfront payment: TRIALING until the trial ends, else ACTIVE.

    A trial is a duration (whole days of 24 hours), not a billing period; its
    period is [now, trial_end). Without a trial the first period runs to the
    next anchor boundary. With `await_payment` (automatic collection) a
    subscription without a trial stays INCOMPLETE, its first period set,
    until its first invoice is paid (`mark_paid`).
    """
    _guard(sub, _A.START)
    at = _instant(now, "now")
    if trial_days is not None and trial_end is not None:
        raise ValidationFailed.on("trial_end", "give either trial_days or trial_end, not both")
    if trial_days is not None:
        if trial_days < 1:
            raise ValidationFailed.on("trial_days", "must be at least 1")
        trial_end = at + timedelta(days=trial_days)
    if trial_end is None:
        status = _S.INCOMPLETE if await_payment else _S.ACTIVE
        return _commit(sub, _A.START, at, status, current_period=_from(sub, at))
    end = _instant(trial_end, "trial_end")
    if end <= at:
        raise ValidationFailed.on("trial_end", "must be after now")
    period = Period(at, end)
    return _commit(sub, _A.START, at, _S.TRIALING, current_period=period, trial_end=end)


def end_trial(sub: Subscription, now: datetime) -> Transition:
    """End the trial at its scheduled end, or at `now` if that is earlier.

    A cancellation pending for the trial's end takes effect instead.
    """
    _guard(sub, _A.END_TRIAL)
    assert sub.trial_end is not None, "a trialing subscription has a trial end"
    end = min(_instant(now, "now"), sub.trial_end)
    if sub.cancel_at_period_end:
        return _cancel(sub, _A.END_TRIAL, end)
    return _commit(sub, _A.END_TRIAL, end, _S.ACTIVE, current_period=_from(sub, end), trial_end=end)


def renew(sub: Subscription, now: datetime) -> Transition:
    """Move to the next calendar period once the current one has ended.

    A cancellation pending for the period end cancels at exactly that instant.
    """
    _guard(sub, _A.RENEW)
    end = sub.current_period.end
    if _instant(now, "now") < end:
        refuse(sub, _A.RENEW, f"the current period runs until {utc_text(end)}")
    if sub.cancel_at_period_end:
        return _cancel(sub, _A.RENEW, end)
    return _commit(sub, _A.RENEW, end, sub.status, current_period=_from(sub, end))


def mark_payment_failed(sub: Subscription, now: datetime) -> Transition:
    _guard(sub, _A.MARK_PAYMENT_FAILED)
    return _commit(sub, _A.MARK_PAYMENT_FAILED, _instant(now, "now"), _S.PAST_DUE)


def mark_paid(sub: Subscription, now: datetime) -> Transition:
    """The outstanding (or first) invoice was paid: the subscription is ACTIVE."""
    _guard(sub, _A.MARK_PAID)
    return _commit(sub, _A.MARK_PAID, _instant(now, "now"), _S.ACTIVE)


def exhaust_dunning(
    sub: Subscription, now: datetime, policy: Literal["cancel", "unpaid"]
) -> Transition:
    """Every retry failed: cancel, or keep the subscription as UNPAID, per policy."""
    _guard(sub, _A.EXHAUST_DUNNING)
    at = _instant(now, "now")
    if policy == "cancel":
        return _cancel(sub, _A.EXHAUST_DUNNING, at)
    return _commit(sub, _A.EXHAUST_DUNNING, at, _S.UNPAID)


def pause(sub: Subscription, now: datetime, resume_at: datetime | None = None) -> Transition:
    """Postpone billing; the current period is kept and nothing renews while paused."""
    _guard(sub, _A.PAUSE)
    at = _instant(now, "now")
    if at >= sub.current_period.end:
        refuse(sub, _A.PAUSE, "the current period has ended; renew first")
    if sub.cancel_at_period_end:
        # A paused subscription does not reach its period end, so the scheduled
        # cancellation would silently never happen.
        refuse(sub, _A.PAUSE, "a cancellation is scheduled; reactivate or cancel now instead")
    resume = None if resume_at is None else _instant(resume_at, "resume_at")
    if resume is not None and resume <= at:
        raise ValidationFailed.on("resume_at", "must be after now")
    return _commit(sub, _A.PAUSE, at, _S.PAUSED, pause=Pause(at, resume))


def resume(sub: Subscription, now: datetime) -> Transition:
    """Re-anchor at `now` (same zone and month-end rules); a new period starts now."""
    _guard(sub, _A.RESUME)
    at = _instant(now, "now")
    anchor = anchor_from(at, sub.anchor.time_zone)
    period = Period(at, next_boundary(anchor, sub.interval, at))
    return _commit(sub, _A.RESUME, at, _S.ACTIVE, anchor=anchor, current_period=period, pause=None)


def cancel_now(sub: Subscription, now: datetime) -> Transition:
    _guard(sub, _A.CANCEL_NOW)
    return _cancel(sub, _A.CANCEL_NOW, _instant(now, "now"))


def cancel_at_period_end(sub: Subscription, now: datetime) -> Transition:
    """Schedule cancellation for the end of the current period (or trial)."""
    _guard(sub, _A.CANCEL_AT_PERIOD_END)
    if sub.cancel_at_period_end:
        refuse(sub, _A.CANCEL_AT_PERIOD_END, "a cancellation is already scheduled")
    at = _instant(now, "now")
    return _commit(sub, _A.CANCEL_AT_PERIOD_END, at, sub.status, cancel_at_period_end=True)


def reactivate(sub: Subscription, now: datetime) -> Transition:
    """Withdraw a scheduled cancellation; a canceled subscription stays canceled."""
    _guard(sub, _A.REACTIVATE)
    if not sub.cancel_at_period_end:
        refuse(sub, _A.REACTIVATE, "no cancellation is scheduled")
    at = _instant(now, "now")
    return _commit(sub, _A.REACTIVATE, at, sub.status, cancel_at_period_end=False)


def change_items(
    sub: Subscription,
    now: datetime,
    new_items: Sequence[SubscriptionItem],
    proration_behavior: ProrationBehavior = ProrationBehavior.CREATE_PRORATIONS,
) -> Transition:
    """Replace the items, prorating [now, period end) for every item that changed.

    Items are matched by price id: a changed one gets prorate_change's credit
    and charge, a removed one a credit, an added one a charge. Only an ACTIVE
    subscription has paid time to prorate; NONE never returns lines.
    ALWAYS_INVOICE returns the same lines, the engine invoices them at once.
    """
    _guard(sub, _A.CHANGE_ITEMS)
    at = _instant(now, "now")
    items = _checked(new_items)
    if at not in sub.current_period:
        refuse(sub, _A.CHANGE_ITEMS, "the change must fall within the current period")
    metered = {item.price_id: item for item in sub.items if item.metered}
    items = tuple(
        replace(
            item,
            metered_since=(
                metered[item.price_id].metered_since if item.price_id in metered else at
            ),
        )
        if item.metered
        else item
        for item in items
    )
    lines: list[ItemProration] = []
    if proration_behavior is not ProrationBehavior.NONE and sub.status is _S.ACTIVE:
        lines = _prorate(sub.items, items, sub.current_period, at)
    done = _commit(sub, _A.CHANGE_ITEMS, at, sub.status, items=items)
    return replace(done, prorations=tuple(lines))


def settle_usage(sub: Subscription, now: datetime) -> Transition:
    """A canceled subscription's usage can no longer change: nothing more is due.

    Not an action of the state machine (a canceled subscription stays canceled
    and records no new fact; the trailing invoice, if any, is the event). Billing
    prices the late usage before this step clears `usage_open_until`.
    """
    if sub.status is not _S.CANCELED or sub.usage_open_until is None:
        refuse(sub, "settle usage", "only a canceled subscription with billed usage settles it")
    if _instant(now, "now") <= sub.usage_open_until:
        refuse(sub, "settle usage", f"usage may change until {utc_text(sub.usage_open_until)}")
    return Transition(replace(sub, usage_open_until=None, version=sub.version + 1), ())


def scheduled_work(sub: Subscription) -> DueWork | None:
    """The next time-driven action, whenever it falls; None if nothing is scheduled."""
    ending = DueAction.PERIOD_END_CANCELLATION if sub.cancel_at_period_end else None
    if sub.status is _S.TRIALING and sub.trial_end is not None:
        return DueWork(ending or DueAction.TRIAL_END, sub.trial_end)
    if sub.status in (_S.ACTIVE, _S.PAST_DUE):
        return DueWork(ending or DueAction.RENEWAL, sub.current_period.end)
    if sub.status is _S.PAUSED and sub.pause is not None and sub.pause.resume_at is not None:
        return DueWork(DueAction.SCHEDULED_RESUME, sub.pause.resume_at)
    settle, ended = sub.usage_open_until, sub.canceled_at
    if sub.status is _S.CANCELED and settle is not None and ended is not None and settle >= ended:
        # One second after the last instant an event could still be accepted.
        return DueWork(DueAction.USAGE_SETTLEMENT, settle + timedelta(seconds=1))
    return None


def due_work(sub: Subscription, now: datetime) -> DueWork | None:
    """The scheduled action due at or before `now`; run it, then ask again."""
    work = scheduled_work(sub)
    return work if work is not None and work.at <= _instant(now, "now") else None


def run_due(sub: Subscription, work: DueWork) -> Transition:
    """Carry out `work` at exactly its scheduled instant."""
    if work.action is DueAction.SCHEDULED_RESUME:
        return resume(sub, work.at)
    if work.action is DueAction.USAGE_SETTLEMENT:
        return settle_usage(sub, work.at)
    if sub.status is _S.TRIALING:
        return end_trial(sub, work.at)
    return renew(sub, work.at)


def _prorate(
    old: Sequence[SubscriptionItem], new: Sequence[SubscriptionItem], period: Period, at: datetime
) -> list[ItemProration]:
    before = {item.price_id: item for item in old if not item.metered}
    after = {item.price_id: item for item in new if not item.metered}
    lines: list[ItemProration] = []
    for price_id in [*before, *(p for p in after if p not in before)]:
        was, will = before.get(price_id), after.get(price_id)
        if was is not None and will is not None:
            if (was.terms, was.quantity) != (will.terms, will.quantity):
                credit, charge = prorate_change(
                    old_terms=was.terms,
                    old_quantity=was.quantity,
                    new_terms=will.terms,
                    new_quantity=will.quantity,
                    period_start=period.start,
                    period_end=period.end,
                    change_at=at,
                )
                lines += [ItemProration(was, credit), ItemProration(will, charge)]
            continue
        item = was or will
        assert item is not None
        line = prorate_partial_period(
            item.terms,
            item.quantity,
            period=period,
            used_from=at,
            used_to=period.end,
            credit=was is not None,
        )
        lines.append(ItemProration(item, line))
    return lines


def _guard(sub: Subscription, action: Action) -> None:
    if action not in TRANSITIONS[sub.status]:
        refuse(sub, action, f"{action.value} is not allowed")


def refuse(sub: Subscription, action: Action | str, why: str) -> NoReturn:
    """Raise INVALID_STATE for `action` on `sub`, saying why."""
    name = action.value if isinstance(action, Action) else action
    status = sub.status.value
    raise InvalidState(
        f"cannot {name} subscription {sub.id!r} ({status}): {why}",
        metadata={"status": status, "action": name},
        precondition_violations=[
            PreconditionViolation("STATE", f"subscriptions/{sub.id}", f"status {status}: {why}")
        ],
    )


def _commit(
    sub: Subscription,
    action: Action,
    at: datetime,
    status: SubscriptionStatus,
    **changes: Any,
) -> Transition:
    if status not in TRANSITIONS[sub.status][action]:
        raise AssertionError(f"{action} may not lead from {sub.status} to {status}")
    new = evolve(sub, status=status, version=sub.version + 1, **changes)
    fact = "canceled" if status is _S.CANCELED else _FACTS[action]
    event = SubscriptionEvent(f"subscription.{fact}", sub.id, at, sub.status, status)
    return Transition(new, (event,))


def _cancel(sub: Subscription, action: Action, at: datetime) -> Transition:
    return _commit(
        sub, action, at, _S.CANCELED, canceled_at=at, cancel_at_period_end=False, pause=None
    )


def _from(sub: Subscription, start: datetime) -> Period:
    """The period from `start` to the next anchor boundary after it."""
    return Period(start, next_boundary(sub.anchor, sub.interval, start))


def _checked(items: Sequence[SubscriptionItem]) -> tuple[SubscriptionItem, ...]:
    if not items:
        raise ValidationFailed.on("items", "a subscription needs at least one item")
    if len({item.price_id for item in items}) != len(items):
        raise ValidationFailed.on("items", "each price may appear only once")
    if len({item.terms.currency_code for item in items}) != 1:
        raise ValidationFailed.on("items", "all items must share one currency")
    return tuple(items)


def _instant(value: datetime, field: str) -> datetime:
    """`value` in UTC, truncated to the whole second periods are measured in."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed.on(field, "must be timezone-aware")
    return value.astimezone(UTC).replace(microsecond=0)
