"""The bill run: real-time subscriptions whose next step is due, claimed and billed.

Each batch is one transaction: the claimed rows stay locked until it
commits, so concurrent workers (SKIP LOCKED on PostgreSQL) never take the
same subscription, and the subscription's version check means a period is
billed at most once even if two claims ever overlapped. If a batch fails, its
subscriptions are retried one per transaction so one bad subscription cannot
hold back the others; it stays due and is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from accrue.domain.clock import Clock
from accrue.domain.errors import AccrueError
from accrue.domain.test_clocks import whole_second
from accrue.services.ports import DueSubscription, UnitOfWork, UnitOfWorkFactory
from accrue.services.subscription_billing import SubscriptionBilling

log = logging.getLogger("accrue.worker")


@dataclass(frozen=True, slots=True)
class BatchResult:
    claimed: int
    steps: int
    failed: int


class BillRun:
    def __init__(
        self, uow_factory: UnitOfWorkFactory, clock: Clock, billing: SubscriptionBilling
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._billing = billing

    def run_batch(self, *, limit: int) -> BatchResult:
        """Claim up to `limit` due subscriptions and bring each up to now."""
        now = whole_second(self._clock.now(), "now")
        try:
            with self._uow_factory(write=True) as uow:
                due = uow.subscriptions.claim_due(now=now, limit=limit)
                steps = self._bill(uow, due, now)
                uow.commit()
                return BatchResult(len(due), steps, 0)
        except AccrueError as error:
            log.warning("bill-run batch failed (%s); retrying one by one", error.reason)
        return self._one_by_one(limit=limit)

    def _one_by_one(self, *, limit: int) -> BatchResult:
        now = whole_second(self._clock.now(), "now")
        with self._uow_factory(write=False) as uow:
            due = list(uow.subscriptions.claim_due(now=now, limit=limit))
        steps = failed = 0
        for item in due:
            try:
                with self._uow_factory(write=True) as uow:
                    steps += self._bill(uow, [item], now)
                    uow.commit()
            except AccrueError as error:
                failed += 1
                log.error(
                    "subscription %s of tenant %s could not be billed: %s",
                    item.subscription_id,
                    item.tenant_id,
                    error,
                )
        return BatchResult(len(due), steps, failed)

    def _bill(self, uow: UnitOfWork, due: Sequence[DueSubscription], now: datetime) -> int:
        steps = 0
        # Tenant by tenant: each tenant's counter and ledger head are then locked
        # in one order by every worker, so workers on different tenants cannot deadlock.
        for item in sorted(due, key=lambda d: (d.tenant_id, d.next_action_time, d.subscription_id)):
            sub = uow.subscriptions.get(item.tenant_id, item.subscription_id, for_update=True)
            assert sub is not None, "a claimed subscription exists"
            customer = uow.customers.get(item.tenant_id, sub.customer_id)
            assert customer is not None, "a subscription's customer exists"
            after, ran = self._billing.run_due(uow, customer, sub, until=now)
            if ran:
                uow.subscriptions.update(after, expected_version=sub.version)
            steps += ran
        return steps
