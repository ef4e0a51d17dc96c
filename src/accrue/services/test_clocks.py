"""Test clocks and advancing them through every piece of work that comes due."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from accrue.domain.clock import Clock
from accrue.domain.errors import NotFound
from accrue.domain.identifiers import IdGenerator
from accrue.domain.paging import Page, PageRequest, paginate
from accrue.domain.subscriptions import DueWork, Subscription, due_work
from accrue.domain.test_clocks import TestClock, advanced, target_of, whole_second
from accrue.services.collections import Collections
from accrue.services.events import EventRecorder
from accrue.services.ports import UnitOfWork, UnitOfWorkFactory
from accrue.services.subscription_billing import SubscriptionBilling


class TestClockService:
    __test__ = False  # not a pytest test class, whatever its name

    def __init__(
        self,
        *,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        events: EventRecorder,
        billing: SubscriptionBilling,
        collections: Collections,
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._ids = ids
        self._events = events
        self._billing = billing
        self._collections = collections

    def create(
        self, uow: UnitOfWork, tenant_id: str, *, display_name: str, frozen_time: datetime
    ) -> TestClock:
        now = self._clock.now()
        clock = TestClock(
            id=self._ids.new("clock"),
            tenant_id=tenant_id,
            display_name=display_name,
            frozen_time=whole_second(frozen_time, "test_clock.frozen_time"),
            work_items_run=0,
            create_time=now,
            update_time=now,
        )
        uow.test_clocks.add(clock)
        self._record(uow, "created", clock)
        return clock

    def get(
        self, uow: UnitOfWork, tenant_id: str, clock_id: str, *, for_update: bool = False
    ) -> TestClock:
        clock = uow.test_clocks.get(tenant_id, clock_id, for_update=for_update)
        if clock is None:
            raise NotFound("test_clock", clock_id)
        return clock

    def list_clocks(self, uow: UnitOfWork, tenant_id: str, page: PageRequest) -> Page[TestClock]:
        return paginate(uow.test_clocks.list(tenant_id, page), page)

    def run_until(self, tenant_id: str, clock_id: str, to: datetime) -> int:
        """Run every piece of work due on the clock up to `to`, earliest first.

        One step at a time across the clock's subscriptions and invoices,
        ordered by (due time, id), collection attempts before subscription
        steps at the same instant: a customer's subscriptions share its
        credit balance and its dunning, so the order must be the real one.
        Each step commits on its own and moves the clock to its instant, so
        a collection can call the PSP outside any transaction and a failure
        part-way leaves the clock at the last step done; running again
        continues from there. Returns the number of steps run.
        """
        steps = 0
        while True:
            collect: tuple[str, datetime] | None = None
            with self._uow(write=True) as uow:
                clock = self.get(uow, tenant_id, clock_id, for_update=True)
                target = target_of(clock, to)
                sub = uow.subscriptions.due_on_clock(tenant_id, clock_id, until=target, limit=1)
                bill = uow.invoices.collections_on_clock(tenant_id, clock_id, until=target, limit=1)
                if not sub and not bill:
                    return steps
                if bill and (not sub or bill[0].due_time <= sub[0].next_action_time):
                    at = max(bill[0].due_time, clock.frozen_time)
                    collect = (bill[0].id, at)
                else:
                    at = max(sub[0].next_action_time, clock.frozen_time)
                    self._run_step(uow, tenant_id, sub[0].subscription_id, target)
                uow.test_clocks.update(_stepped(clock, at))
                uow.commit()
            if collect is not None:
                # After the clock's transaction ends: the attempt calls the PSP.
                self._collections.collect(tenant_id, collect[0], due_by=collect[1])
            steps += 1

    def finish_advance(
        self, uow: UnitOfWork, tenant_id: str, clock_id: str, to: datetime
    ) -> TestClock:
        """Move the clock to `to` once `run_until` found nothing more due."""
        clock = self.get(uow, tenant_id, clock_id, for_update=True)
        moved = advanced(clock, to, work_items=0, now=self._clock.now())
        uow.test_clocks.update(moved)
        self._record(uow, "advanced", moved)
        return moved

    def _run_step(self, uow: UnitOfWork, tenant_id: str, sub_id: str, target: datetime) -> None:
        sub = uow.subscriptions.get(tenant_id, sub_id, for_update=True)
        assert sub is not None, "a due subscription exists"
        customer = uow.customers.get(tenant_id, sub.customer_id)
        assert customer is not None, "a subscription's customer exists"
        after = self._billing.run_step(uow, customer, sub, _next(sub, target))
        uow.subscriptions.update(after, expected_version=sub.version)

    def _record(self, uow: UnitOfWork, change: str, clock: TestClock) -> None:
        self._events.record(
            uow,
            clock.tenant_id,
            type=f"test_clock.{change}",
            resource_id=clock.id,
            subject=clock,
        )


def _stepped(clock: TestClock, at: datetime) -> TestClock:
    return replace(clock, frozen_time=at, work_items_run=clock.work_items_run + 1)


def _next(sub: Subscription, until: datetime) -> DueWork:
    work = due_work(sub, until)
    assert work is not None, "the repository only returns due subscriptions"
    return work
