"""Subscription use cases, each owning its transaction.

A mutation runs in one unit of work through the platform's `MutationRunner`,
which stores the encoded response with the change, so a retry with the same
request_id is answered with the same bytes; reads run in a read-only unit of
work. The caller converts the returned value itself, outside the transaction.
`SubscriptionService` holds the steps, each inside the unit of work it is given.
"""

from __future__ import annotations

from datetime import datetime

from accrue.kernel.paging import Page, PageRequest
from accrue.platform.idempotency import MutationRunner, Outcome, Replay
from accrue.subscriptions.first_charge import FirstCharge
from accrue.subscriptions.model import Subscription, SubscriptionStatus
from accrue.subscriptions.ports import SubscriptionsUnitOfWorkFactory
from accrue.subscriptions.service import (
    ChangeResult,
    ItemChange,
    NewSubscription,
    SubscriptionService,
)


class SubscriptionUseCases:
    def __init__(
        self,
        uow_factory: SubscriptionsUnitOfWorkFactory,
        runner: MutationRunner,
        subscriptions: SubscriptionService,
        first_charge: FirstCharge | None = None,
    ) -> None:
        self._uow = uow_factory
        self._runner = runner
        self._subs = subscriptions
        self._first_charge = first_charge

    def create_subscription(
        self, tenant_id: str, new: NewSubscription, replay: Replay[Subscription]
    ) -> Outcome[Subscription]:
        return self._runner.run(
            replay.identity, lambda uow: self._subs.create(uow, tenant_id, new), replay.encode
        )

    @property
    def charges_first_invoice(self) -> bool:
        """Whether an INCOMPLETE subscription's first invoice is charged right after creation."""
        return self._first_charge is not None

    def collect_first_charge(self, tenant_id: str, subscription_id: str) -> Subscription:
        """Charge an INCOMPLETE subscription's first invoice, after its creation committed,
        and read the subscription as that left it.

        Called for a created subscription (fresh or replayed) that was INCOMPLETE:
        a retry of the request finds the attempt made and answers the outcome.
        """
        if self._first_charge is not None:
            self._first_charge.collect_first(tenant_id, subscription_id)
        return self.get_subscription(tenant_id, subscription_id)

    def get_subscription(self, tenant_id: str, subscription_id: str) -> Subscription:
        with self._uow(write=False) as uow:
            return self._subs.get(uow, tenant_id, subscription_id)

    def list_subscriptions(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        customer_id: str,
        status: SubscriptionStatus | None,
    ) -> Page[Subscription]:
        with self._uow(write=False) as uow:
            return self._subs.list_subscriptions(
                uow, tenant_id, page, customer_id=customer_id, status=status
            )

    def change_subscription(
        self, tenant_id: str, change: ItemChange, replay: Replay[ChangeResult]
    ) -> Outcome[ChangeResult]:
        return self._runner.run(
            replay.identity, lambda uow: self._subs.change(uow, tenant_id, change), replay.encode
        )

    def preview_change(self, tenant_id: str, change: ItemChange) -> ChangeResult:
        with self._uow(write=False) as uow:
            return self._subs.preview_change(uow, tenant_id, change)

    def pause_subscription(
        self,
        tenant_id: str,
        subscription_id: str,
        resume_at: datetime | None,
        replay: Replay[Subscription],
    ) -> Outcome[Subscription]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._subs.pause(uow, tenant_id, subscription_id, resume_at),
            replay.encode,
        )

    def resume_subscription(
        self, tenant_id: str, subscription_id: str, replay: Replay[Subscription]
    ) -> Outcome[Subscription]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._subs.resume(uow, tenant_id, subscription_id),
            replay.encode,
        )

    def cancel_subscription(
        self,
        tenant_id: str,
        subscription_id: str,
        *,
        at_period_end: bool,
        prorate: bool,
        replay: Replay[Subscription],
    ) -> Outcome[Subscription]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._subs.cancel(
                uow, tenant_id, subscription_id, at_period_end=at_period_end, prorate=prorate
            ),
            replay.encode,
        )

    def reactivate_subscription(
        self, tenant_id: str, subscription_id: str, replay: Replay[Subscription]
    ) -> Outcome[Subscription]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._subs.reactivate(uow, tenant_id, subscription_id),
            replay.encode,
        )
