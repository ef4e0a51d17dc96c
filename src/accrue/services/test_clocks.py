"""Test clocks and advancing them through every piece of work that comes due."""

from __future__ import annotations

from datetime import datetime

from accrue.domain.clock import Clock
from accrue.domain.errors import NotFound
from accrue.domain.identifiers import IdGenerator
from accrue.domain.paging import Page, PageRequest, paginate
from accrue.domain.subscriptions import DueWork, Subscription, due_work
from accrue.domain.test_clocks import TestClock, advanced, target_of, whole_second
from accrue.services.events import EventRecorder
from accrue.services.ports import UnitOfWork
from accrue.services.subscription_billing import SubscriptionBilling


class TestClockService:
    __test__ = False  # not a pytest test class, whatever its name

    def __init__(
        self, clock: Clock, ids: IdGenerator, events: EventRecorder, billing: SubscriptionBilling
    ) -> None:
        self._clock = clock
        self._ids = ids
        self._events = events
        self._billing = billing

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

    def advance(self, uow: UnitOfWork, tenant_id: str, clock_id: str, to: datetime) -> TestClock:
        """Run every due step up to `to`, earliest first, then move the clock there.

        One step at a time across all of the clock's subscriptions, ordered by
        (due time, subscription id): a customer's subscriptions share its
        credit balance, so the order in which they bill must be the real one.
        """
        clock = self.get(uow, tenant_id, clock_id, for_update=True)
        target = target_of(clock, to)
        steps = 0
        while True:
            due = uow.subscriptions.due_on_clock(tenant_id, clock_id, until=target, limit=1)
            if not due:
                break
            sub = uow.subscriptions.get(tenant_id, due[0].subscription_id, for_update=True)
            assert sub is not None, "a due subscription exists"
            customer = uow.customers.get(tenant_id, sub.customer_id)
            assert customer is not None, "a subscription's customer exists"
            work = _next(sub, target)
            after = self._billing.run_step(uow, customer, sub, work)
            uow.subscriptions.update(after, expected_version=sub.version)
            steps += 1
        moved = advanced(clock, target, work_items=steps, now=self._clock.now())
        uow.test_clocks.update(moved)
        self._record(uow, "advanced", moved)
        return moved

    def _record(self, uow: UnitOfWork, change: str, clock: TestClock) -> None:
        self._events.record(
            uow,
            clock.tenant_id,
            type=f"test_clock.{change}",
            resource_id=clock.id,
            subject=clock,
        )


def _next(sub: Subscription, until: datetime) -> DueWork:
    work = due_work(sub, until)
    assert work is not None, "the repository only returns due subscriptions"
    return work
