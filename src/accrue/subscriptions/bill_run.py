"""The bill run: real-time subscriptions whose next step is due, claimed and billed as a set.

Each batch is one transaction: the claimed rows stay locked until it
commits, so concurrent workers (SKIP LOCKED on PostgreSQL) never take the
same subscription, and the subscription's version check means a period is
billed at most once even if two claims ever overlapped.

A batch is planned in memory by the same code an RPC or a test clock uses
(`SubscriptionBilling.run_due_many` -> `plan_step`) and written set-based:
one block of invoice numbers per tenant, one insert per table, one
`post_many` per tenant, the events in one insert, the subscriptions advanced
in one update. On PostgreSQL each of those statements carries its rows as
one JSONB text (`platform/db/json_rows.py`), so its text is the same for
every batch and the driver adapts one parameter, not every value.

If a batch fails, it is split in halves, each retried in its own transaction
(and split again if it fails), so one bad subscription costs about
2 x log2(batch) small transactions and never blocks the rest. A subscription
that fails on its own is logged, counted, and left due; this worker leaves it
alone for `retry_after` and then tries it again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from accrue.kernel.clock import Clock, whole_second
from accrue.ports import UnitOfWork, UnitOfWorkFactory
from accrue.subscriptions.billing import SubscriptionBilling
from accrue.subscriptions.ports import DueSubscription

log = logging.getLogger("accrue.worker")

RETRY_AFTER_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class BatchResult:
    claimed: int
    steps: int
    failed: int


class BillRun:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        billing: SubscriptionBilling,
        *,
        retry_after: float = RETRY_AFTER_SECONDS,
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._billing = billing
        self._retry_after = retry_after
        # (tenant id, subscription id) -> monotonic time before which it is not retried.
        self._held_back: dict[tuple[str, str], float] = {}

    def run_batch(self, *, limit: int) -> BatchResult:
        """Claim up to `limit` due subscriptions and bring each up to now."""
        now = whole_second(self._clock.now(), "now")
        held = self._holding()
        due: list[DueSubscription] = []
        try:
            with self._uow_factory(write=True) as uow:
                claimed = uow.subscriptions.claim_due(now=now, limit=limit + len(held))
                due = [d for d in claimed if (d.tenant_id, d.subscription_id) not in held][:limit]
                steps = self._bill(uow, due, now)
                uow.commit()
                return BatchResult(len(due), steps, 0)
        except Exception as error:  # any failure is isolated by splitting
            if not due:
                raise
            log.warning(
                "bill-run batch of %d failed (%s: %s); retrying in halves",
                len(due),
                type(error).__name__,
                error,
            )
        return self._split(due, now)

    def _split(self, due: Sequence[DueSubscription], now: datetime) -> BatchResult:
        middle = len(due) // 2
        first = self._settle(due[:middle], now)
        second = self._settle(due[middle:], now)
        return BatchResult(
            first.claimed + second.claimed, first.steps + second.steps, first.failed + second.failed
        )

    def _settle(self, due: Sequence[DueSubscription], now: datetime) -> BatchResult:
        """Bill `due` (those still due and not claimed meanwhile) in one transaction,
        splitting further if that fails; a lone failing subscription is reported."""
        if not due:
            return BatchResult(0, 0, 0)
        try:
            with self._uow_factory(write=True) as uow:
                claimed = uow.subscriptions.claim_listed(due, now=now)
                steps = self._bill(uow, claimed, now)
                uow.commit()
                return BatchResult(len(claimed), steps, 0)
        except Exception as error:  # reported below; the rest carries on
            if len(due) > 1:
                return self._split(due, now)
            item = due[0]
            self._held_back[(item.tenant_id, item.subscription_id)] = (
                time.monotonic() + self._retry_after
            )
            log.error(
                "subscription %s of tenant %s could not be billed (%s: %s); it stays due"
                " and is retried in %.0f s",
                item.subscription_id,
                item.tenant_id,
                type(error).__name__,
                error,
                self._retry_after,
                extra={
                    "tenant_id": item.tenant_id,
                    "subscription_id": item.subscription_id,
                    "error": type(error).__name__,
                },
            )
            return BatchResult(1, 0, 1)

    def _holding(self) -> set[tuple[str, str]]:
        """Subscriptions that failed recently on their own and are not retried yet."""
        moment = time.monotonic()
        for key in [k for k, until in self._held_back.items() if until <= moment]:
            del self._held_back[key]
        return set(self._held_back)

    def _bill(self, uow: UnitOfWork, due: Sequence[DueSubscription], now: datetime) -> int:
        if not due:
            return 0
        ordered = sorted(due, key=lambda d: (d.tenant_id, d.next_action_time, d.subscription_id))
        by_tenant: dict[str, list[str]] = {}
        for item in ordered:
            by_tenant.setdefault(item.tenant_id, []).append(item.subscription_id)
        subscriptions = {}
        customers = {}
        for tenant_id, ids in by_tenant.items():
            found = uow.subscriptions.get_many(tenant_id, ids)
            subscriptions.update({(tenant_id, k): v for k, v in found.items()})
            owners = sorted({sub.customer_id for sub in found.values()})
            customers.update(
                {(tenant_id, k): v for k, v in uow.customers.get_many(tenant_id, owners).items()}
            )
        pairs = []
        for item in ordered:
            sub = subscriptions[(item.tenant_id, item.subscription_id)]
            pairs.append((customers[(item.tenant_id, sub.customer_id)], sub))
        plan = self._billing.plan_due_many(pairs, until=now)
        return self._billing.store_planned(uow, pairs, plan)
