"""Subscription-change policy rules, evaluated on plain facts about a change.

Decisions:
- A *downgrade* is a change whose items cost less per period than the
  current ones (the prices' amounts for their quantities). "Only at period
  end" is met by a change at the period's start or with proration behavior
  NONE: Accrue has no scheduled item changes, and NONE is what "at period
  end" means for money (no unused time is credited; the customer keeps what
  was paid for, the cheaper price bills from the next renewal on). Any other
  mid-period downgrade of a paid (ACTIVE or PAST_DUE) subscription is refused;
  a trial has nothing paid to give back, so it may change freely.
- *Changes per period* count the ChangeSubscription calls that committed on
  the subscription since its current period started; the refused one is not
  counted.
- *No limit below usage*: a change that lowers a metered numeric limit
  below the customer's current usage of its meter is refused (fewer seats
  than are in use); a change that leaves such a limit alone is allowed even
  when usage is already beyond it.
- *Cancel at period end*: CancelSubscription must set `at_period_end`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from accrue.kernel.errors import AccrueError, PreconditionViolation
from accrue.subscriptions.guard import PolicyRule, Violation

MAX_CHANGES_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class SubscriptionPolicy:
    tenant_id: str
    downgrade_at_period_end: bool = False
    max_changes_per_period: int = 0
    no_limit_below_usage: bool = False
    cancel_at_period_end: bool = False
    update_actor: str = ""
    update_time: datetime | None = None


class PolicyViolationError(AccrueError):
    reason = "POLICY_VIOLATION"

    def __init__(self, subject: str, violations: Sequence[Violation]) -> None:
        first = violations[0]
        super().__init__(
            f"refused by the subscription policy: {first.description}",
            metadata={
                "policy": first.rule.name,
                "policies": ",".join(v.rule.name for v in violations),
            },
            precondition_violations=[
                PreconditionViolation(v.rule.name, subject, v.description) for v in violations
            ],
        )
        self.violations = tuple(violations)


@dataclass(frozen=True, slots=True)
class Shortfall:
    """A metered limit the change would bring below current usage."""

    feature_key: str
    limit: Decimal
    usage: Decimal


@dataclass(frozen=True, slots=True)
class ChangeFacts:
    mid_period: bool
    cost_before_minor: int
    cost_after_minor: int
    proration_none: bool
    changes_this_period: int
    shortfalls: tuple[Shortfall, ...]


def change_violations(policy: SubscriptionPolicy, facts: ChangeFacts) -> list[Violation]:
    found = []
    cheaper = facts.cost_after_minor < facts.cost_before_minor
    if policy.downgrade_at_period_end and cheaper and facts.mid_period and not facts.proration_none:
        found.append(
            Violation(
                PolicyRule.DOWNGRADE_AT_PERIOD_END,
                "a downgrade mid-period must use proration behavior NONE (it then takes"
                " effect for billing at the period end)",
            )
        )
    limit = policy.max_changes_per_period
    if limit and facts.changes_this_period >= limit:
        found.append(
            Violation(
                PolicyRule.MAX_CHANGES_PER_PERIOD,
                f"the subscription was changed {facts.changes_this_period} times this period;"
                f" the policy allows {limit}",
            )
        )
    if policy.no_limit_below_usage:
        for short in facts.shortfalls:
            found.append(
                Violation(
                    PolicyRule.NO_LIMIT_BELOW_USAGE,
                    f"{short.feature_key} would be limited to {_text(short.limit)}, below"
                    f" the {_text(short.usage)} used this period",
                )
            )
    return found


def cancel_violations(policy: SubscriptionPolicy, *, at_period_end: bool) -> list[Violation]:
    if policy.cancel_at_period_end and not at_period_end:
        return [
            Violation(
                PolicyRule.CANCEL_AT_PERIOD_END,
                "subscriptions may only be canceled at the end of their period",
            )
        ]
    return []


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f")
