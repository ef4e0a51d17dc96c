"""The hook through which a tenant's policy may refuse a subscription change.

The subscriptions area owns this interface and the vocabulary of refusals it
reports (`PolicyRule`, `Violation`); the policies area implements it. So the
subscription use cases call policies without importing them, and the allowed
order of areas stays one way: subscriptions <- entitlements <- policies.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from accrue.subscriptions.model import ProrationBehavior, Subscription


class PolicyRule(enum.Enum):
    DOWNGRADE_AT_PERIOD_END = "downgrade_at_period_end"
    MAX_CHANGES_PER_PERIOD = "max_changes_per_period"
    NO_LIMIT_BELOW_USAGE = "no_limit_below_usage"
    CANCEL_AT_PERIOD_END = "cancel_at_period_end"


@dataclass(frozen=True, slots=True)
class Violation:
    rule: PolicyRule
    description: str


class SubscriptionGuard(Protocol):
    """The hook SubscriptionService calls so the tenant's policy can refuse a change."""

    def change_violations(
        self,
        uow: Any,
        *,
        before: Subscription,
        after: Subscription,
        at: datetime,
        behavior: ProrationBehavior,
    ) -> tuple[Violation, ...]:
        """The rules the change would break (what a preview reports)."""
        ...

    def enforce_change(
        self,
        uow: Any,
        *,
        before: Subscription,
        after: Subscription,
        at: datetime,
        behavior: ProrationBehavior,
    ) -> None:
        """Refuse a change that breaks a rule; otherwise count it."""
        ...

    def enforce_cancel(self, uow: Any, sub: Subscription, *, at_period_end: bool) -> None: ...


class Unguarded:
    """No policy: every change and cancellation is allowed (and nothing is counted)."""

    def change_violations(
        self,
        uow: Any,
        *,
        before: Subscription,
        after: Subscription,
        at: datetime,
        behavior: ProrationBehavior,
    ) -> tuple[Violation, ...]:
        return ()

    def enforce_change(
        self,
        uow: Any,
        *,
        before: Subscription,
        after: Subscription,
        at: datetime,
        behavior: ProrationBehavior,
    ) -> None:
        return None

    def enforce_cancel(self, uow: Any, sub: Subscription, *, at_period_end: bool) -> None:
        return None
