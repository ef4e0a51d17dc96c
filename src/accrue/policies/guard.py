"""The tenant's subscription policy, applied where subscriptions change.

SubscriptionService calls this guard with the subscription before and after
a planned change (the same plan a preview shows), so a preview lists exactly
the violations the commit would refuse with.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from accrue.entitlements.model import ZERO, ItemFact, SubscriptionFact, resolve
from accrue.entitlements.ports import MeterUsageReader
from accrue.entitlements.resolver import EntitlementResolver
from accrue.kernel.ids import IdGenerator
from accrue.policies.model import (
    ChangeFacts,
    PolicyViolationError,
    Shortfall,
    SubscriptionPolicy,
    cancel_violations,
    change_violations,
)
from accrue.subscriptions.guard import Violation
from accrue.subscriptions.model import (
    ProrationBehavior,
    Subscription,
    SubscriptionItem,
    SubscriptionStatus,
)

_PAID = frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE})


class PolicyGuard:
    def __init__(
        self, ids: IdGenerator, resolver: EntitlementResolver, usage: MeterUsageReader
    ) -> None:
        self._ids = ids
        self._resolver = resolver
        self._usage = usage

    def change_violations(
        self,
        uow: Any,
        *,
        before: Subscription,
        after: Subscription,
        at: datetime,
        behavior: ProrationBehavior,
    ) -> tuple[Violation, ...]:
        policy: SubscriptionPolicy | None = uow.policies.get_policy(before.tenant_id)
        if policy is None:
            return ()
        counted = 0
        if policy.max_changes_per_period:
            counted = uow.policies.count_changes(
                before.tenant_id, before.id, since=before.current_period.start
            )
        facts = ChangeFacts(
            # A trial has no paid time to give back: changing it is never "mid-period".
            mid_period=at > before.current_period.start and before.status in _PAID,
            cost_before_minor=_cost(before.items),
            cost_after_minor=_cost(after.items),
            proration_none=behavior is ProrationBehavior.NONE,
            changes_this_period=counted,
            shortfalls=self._shortfalls(uow, before, after) if policy.no_limit_below_usage else (),
        )
        return tuple(change_violations(policy, facts))

    def enforce_change(
        self,
        uow: Any,
        *,
        before: Subscription,
        after: Subscription,
        at: datetime,
        behavior: ProrationBehavior,
    ) -> None:
        violations = self.change_violations(
            uow, before=before, after=after, at=at, behavior=behavior
        )
        if violations:
            raise PolicyViolationError(f"subscriptions/{before.id}", violations)
        uow.policies.record_change(
            before.tenant_id, before.id, change_id=self._ids.new("sbc"), at=at
        )

    def enforce_cancel(self, uow: Any, sub: Subscription, *, at_period_end: bool) -> None:
        policy: SubscriptionPolicy | None = uow.policies.get_policy(sub.tenant_id)
        if policy is None:
            return
        violations = cancel_violations(policy, at_period_end=at_period_end)
        if violations:
            raise PolicyViolationError(f"subscriptions/{sub.id}", violations)

    def _shortfalls(
        self, uow: Any, before: Subscription, after: Subscription
    ) -> tuple[Shortfall, ...]:
        """Metered limits the change lowers below the customer's current usage."""
        store = uow.entitlements
        resolved = self._resolver.resolve(store, before.tenant_id, before.customer_id)
        products = store.product_ids(before.tenant_id, [item.price_id for item in after.items])
        changed = [
            fact
            if fact.id != before.id
            else replace(
                fact,
                status=after.status,
                items=tuple(
                    ItemFact(i.price_id, products.get(i.price_id, ""), i.quantity)
                    for i in after.items
                ),
            )
            for fact in resolved.facts
        ]
        if before.id not in {fact.id for fact in resolved.facts}:
            changed.append(_fact(after, products))
        planned = resolve(resolved.catalog, changed)
        found = []
        for key, current in sorted(resolved.entitlements.items()):
            feature = current.feature
            if not feature.metered or current.limit is None:
                continue
            new = planned.get(key)
            limit = new.limit if new is not None and new.limit is not None else ZERO
            if limit >= current.limit:
                continue
            usage = self._read_usage(uow, before, feature.meter_id)
            if usage > limit:
                found.append(Shortfall(key, limit, usage))
        return tuple(found)

    def _read_usage(self, uow: Any, sub: Subscription, meter_id: str) -> Decimal:
        return self._usage.current_period_usage(
            uow, tenant_id=sub.tenant_id, customer_id=sub.customer_id, meter_id=meter_id
        )


def _cost(items: tuple[SubscriptionItem, ...]) -> int:
    """What the items cost for one period, in minor units (one currency per subscription)."""
    return sum(item.terms.amount_for(item.quantity).amount_minor for item in items)


def _fact(sub: Subscription, products: dict[str, str] | Any) -> SubscriptionFact:
    return SubscriptionFact(
        id=sub.id,
        status=sub.status,
        period_start=sub.current_period.start,
        period_end=sub.current_period.end,
        items=tuple(
            ItemFact(i.price_id, products.get(i.price_id, ""), i.quantity) for i in sub.items
        ),
    )
