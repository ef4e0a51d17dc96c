"""What the policy use cases need from the outside world, as protocols."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from accrue.domain.subscriptions import ProrationBehavior, Subscription
from accrue.policies.model import SubscriptionPolicy, Violation


class PolicyStore(Protocol):
    def get_policy(self, tenant_id: str) -> SubscriptionPolicy | None: ...
    def put_policy(self, policy: SubscriptionPolicy) -> None: ...
    def count_changes(self, tenant_id: str, subscription_id: str, *, since: datetime) -> int: ...
    def record_change(
        self, tenant_id: str, subscription_id: str, *, change_id: str, at: datetime
    ) -> None: ...


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
