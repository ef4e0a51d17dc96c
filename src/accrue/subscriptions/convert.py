"""Subscription messages <-> model."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from google.protobuf.message import Message

from accrue.billing.v1 import policy_pb2, subscription_pb2
from accrue.catalog.convert import INTERVAL_TO_PB
from accrue.events.v1 import events_pb2
from accrue.invoicing.convert import COLLECTION_TO_PB, line_to_pb
from accrue.kernel.calendar import boundary
from accrue.platform.transport.convert import timestamp
from accrue.subscriptions.guard import PolicyRule, Violation
from accrue.subscriptions.model import ProrationBehavior, Subscription, SubscriptionStatus
from accrue.subscriptions.service import ItemRequest

SUBSCRIPTION_STATUS_TO_PB = {
    SubscriptionStatus.INCOMPLETE: subscription_pb2.SUBSCRIPTION_STATUS_INCOMPLETE,
    SubscriptionStatus.TRIALING: subscription_pb2.SUBSCRIPTION_STATUS_TRIALING,
    SubscriptionStatus.ACTIVE: subscription_pb2.SUBSCRIPTION_STATUS_ACTIVE,
    SubscriptionStatus.PAST_DUE: subscription_pb2.SUBSCRIPTION_STATUS_PAST_DUE,
    SubscriptionStatus.PAUSED: subscription_pb2.SUBSCRIPTION_STATUS_PAUSED,
    SubscriptionStatus.CANCELED: subscription_pb2.SUBSCRIPTION_STATUS_CANCELED,
    SubscriptionStatus.UNPAID: subscription_pb2.SUBSCRIPTION_STATUS_UNPAID,
}


SUBSCRIPTION_STATUS_FROM_PB = {v: k for k, v in SUBSCRIPTION_STATUS_TO_PB.items()}


PRORATION_FROM_PB = {
    subscription_pb2.PRORATION_BEHAVIOR_UNSPECIFIED: ProrationBehavior.CREATE_PRORATIONS,
    subscription_pb2.PRORATION_BEHAVIOR_CREATE_PRORATIONS: ProrationBehavior.CREATE_PRORATIONS,
    subscription_pb2.PRORATION_BEHAVIOR_ALWAYS_INVOICE: ProrationBehavior.ALWAYS_INVOICE,
    subscription_pb2.PRORATION_BEHAVIOR_NONE: ProrationBehavior.NONE,
}


def items_from_pb(items: Iterable[subscription_pb2.SubscriptionItem]) -> tuple[ItemRequest, ...]:
    return tuple(ItemRequest(i.price_id, i.quantity) for i in items)


def subscription_to_pb(sub: Subscription) -> subscription_pb2.Subscription:
    message = subscription_pb2.Subscription(
        id=sub.id,
        customer_id=sub.customer_id,
        status=SUBSCRIPTION_STATUS_TO_PB[sub.status],
        items=[
            subscription_pb2.SubscriptionItem(price_id=i.price_id, quantity=i.quantity)
            for i in sub.items
        ],
        currency_code=sub.currency_code,
        interval_unit=INTERVAL_TO_PB[sub.interval.unit],
        interval_count=sub.interval.count,
        billing_anchor_time=timestamp(boundary(sub.anchor, sub.interval, 0)),
        time_zone=sub.anchor.time_zone,
        current_period_start=timestamp(sub.current_period.start),
        current_period_end=timestamp(sub.current_period.end),
        cancel_at_period_end=sub.cancel_at_period_end,
        test_clock_id=sub.test_clock_id,
        latest_invoice_id=sub.latest_invoice_id,
        pending_lines=[line_to_pb(line, sub.currency_code) for line in sub.pending_lines],
        metadata=sub.metadata,
        version=sub.version,
        create_time=timestamp(sub.create_time),
        update_time=timestamp(sub.update_time or sub.create_time),
        collection_method=COLLECTION_TO_PB[sub.collection_method],
    )
    if sub.trial_end is not None:
        message.trial_end.CopyFrom(timestamp(sub.trial_end))
    if sub.canceled_at is not None:
        message.canceled_time.CopyFrom(timestamp(sub.canceled_at))
    if sub.pause is not None:
        message.pause_time.CopyFrom(timestamp(sub.pause.started_at))
        if sub.pause.resume_at is not None:
            message.resume_time.CopyFrom(timestamp(sub.pause.resume_at))
    return message


# The event payloads of this area's subjects, gathered by `accrue.payloads`.
EVENT_PAYLOADS: tuple[tuple[type, Callable[[Any], Message]], ...] = (
    (Subscription, lambda s: events_pb2.SubscriptionChanged(subscription=subscription_to_pb(s))),
)


_RULE_TO_PB = {
    PolicyRule.DOWNGRADE_AT_PERIOD_END: policy_pb2.POLICY_RULE_DOWNGRADE_AT_PERIOD_END,
    PolicyRule.MAX_CHANGES_PER_PERIOD: policy_pb2.POLICY_RULE_MAX_CHANGES_PER_PERIOD,
    PolicyRule.NO_LIMIT_BELOW_USAGE: policy_pb2.POLICY_RULE_NO_LIMIT_BELOW_USAGE,
    PolicyRule.CANCEL_AT_PERIOD_END: policy_pb2.POLICY_RULE_CANCEL_AT_PERIOD_END,
}


def violations_to_pb(violations: Sequence[Violation]) -> list[policy_pb2.PolicyViolation]:
    return [
        policy_pb2.PolicyViolation(rule=_RULE_TO_PB[v.rule], description=v.description)
        for v in violations
    ]
