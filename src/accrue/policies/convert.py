"""Subscription policies between the v1 contract and the model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.message import Message

from accrue.billing.v1 import policy_pb2 as pb
from accrue.events.v1 import events_pb2
from accrue.platform.transport.convert import timestamp
from accrue.policies.model import SubscriptionPolicy
from accrue.policies.service import PolicyChanges

POLICY_UPDATABLE = frozenset(
    {
        "downgrade_at_period_end",
        "max_changes_per_period",
        "no_limit_below_usage",
        "cancel_at_period_end",
    }
)


def policy_changes_from_pb(message: pb.SubscriptionPolicy, fields: frozenset[str]) -> PolicyChanges:
    def pick(name: str) -> object:
        return getattr(message, name) if name in fields else None

    return PolicyChanges(**{name: pick(name) for name in POLICY_UPDATABLE})  # type: ignore[arg-type]


def policy_to_pb(policy: SubscriptionPolicy) -> pb.SubscriptionPolicy:
    message = pb.SubscriptionPolicy(
        downgrade_at_period_end=policy.downgrade_at_period_end,
        max_changes_per_period=policy.max_changes_per_period,
        no_limit_below_usage=policy.no_limit_below_usage,
        cancel_at_period_end=policy.cancel_at_period_end,
        update_actor=policy.update_actor,
    )
    if policy.update_time is not None:
        message.update_time.CopyFrom(timestamp(policy.update_time))
    return message


def policy_event(policy: SubscriptionPolicy) -> events_pb2.SubscriptionPolicyChanged:
    return events_pb2.SubscriptionPolicyChanged(policy=policy_to_pb(policy))


EVENT_PAYLOADS: tuple[tuple[type, Callable[[Any], Message]], ...] = (
    (SubscriptionPolicy, policy_event),
)
