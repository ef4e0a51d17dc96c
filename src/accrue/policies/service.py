"""The SubscriptionPolicyService use cases: read and change a tenant's policy.

Every change records who made it and when on the policy and as a
`subscription_policy.updated` event in the same transaction: the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypeVar

from accrue.event_log.ports import EventSink
from accrue.kernel.clock import Clock
from accrue.kernel.errors import ValidationFailed
from accrue.policies.model import MAX_CHANGES_LIMIT, SubscriptionPolicy
from accrue.policies.ports import PolicyUnitOfWork


@dataclass(frozen=True, slots=True)
class PolicyChanges:
    """Only the fields named in the update mask are set."""

    downgrade_at_period_end: bool | None = None
    max_changes_per_period: int | None = None
    no_limit_below_usage: bool | None = None
    cancel_at_period_end: bool | None = None


class PolicyService:
    def __init__(self, clock: Clock, events: EventSink) -> None:
        self._clock = clock
        self._events = events

    def get(self, uow: PolicyUnitOfWork, tenant_id: str) -> SubscriptionPolicy:
        return uow.policies.get_policy(tenant_id) or SubscriptionPolicy(tenant_id)

    def update(
        self, uow: PolicyUnitOfWork, tenant_id: str, changes: PolicyChanges, *, actor: str
    ) -> SubscriptionPolicy:
        limit = changes.max_changes_per_period
        if limit is not None and not 0 <= limit <= MAX_CHANGES_LIMIT:
            raise ValidationFailed.on(
                "policy.max_changes_per_period", f"must be 0 to {MAX_CHANGES_LIMIT:,}"
            )
        policy = self.get(uow, tenant_id)
        updated = replace(
            policy,
            downgrade_at_period_end=_pick(
                changes.downgrade_at_period_end, policy.downgrade_at_period_end
            ),
            max_changes_per_period=_pick(limit, policy.max_changes_per_period),
            no_limit_below_usage=_pick(changes.no_limit_below_usage, policy.no_limit_below_usage),
            cancel_at_period_end=_pick(changes.cancel_at_period_end, policy.cancel_at_period_end),
            update_actor=actor,
            update_time=self._clock.now(),
        )
        uow.policies.put_policy(updated)
        self._events.record(
            uow,
            tenant_id,
            type="subscription_policy.updated",
            resource_id=tenant_id,
            subject=updated,
        )
        return updated


T = TypeVar("T")


def _pick(value: T | None, current: T) -> T:
    return current if value is None else value
