"""Test clocks and advancing them through every piece of work that comes due.

An advance is asynchronous: `start_advance` only marks the clock ADVANCING
with its target (durably, in the request's transaction), and a
`TestClockRunner` - a thread of `accrue serve` and of `accrue worker` - claims
advancing clocks and runs their work in batches (`advance_batch`), each batch
committing the work and the clock's progress together, so a restart resumes
where the last commit left it and nothing runs twice.

A batch is, in time order on the clock:
- the next collection attempt, when one is due no later than every
  subscription step: it calls the PSP, so it runs outside any transaction
  (`Collections.collect` commits before and after the call);
- otherwise every subscription step due before the next collection attempt,
  planned in memory and written set-based by the bill run's code
  (`SubscriptionBilling.plan_due_many` / `issue_planned`). The window ends at
  the first step whose invoice is charged automatically (its collection must
  run before any later step of that customer) and is capped at
  `BATCH_STEPS` steps and `BATCH_SUBSCRIPTIONS` subscriptions.
If a batch of steps fails, its steps are retried one at a time, so the clock
stops exactly at the step that failed: it becomes FAILED with that step's
typed error and time, `frozen_time` at the last step done.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta

from accrue.customers.model import Customer
from accrue.event_log.ports import HasEvents
from accrue.event_log.service import EventRecorder
from accrue.invoicing.model import CollectionMethod
from accrue.kernel.clock import Clock, whole_second
from accrue.kernel.errors import AccrueError, ConcurrentModification, NotFound
from accrue.kernel.ids import IdGenerator
from accrue.kernel.paging import Page, PageRequest, paginate
from accrue.payments.collections import Collections
from accrue.ports import UnitOfWork, UnitOfWorkFactory
from accrue.subscriptions.billing import DuePlan, SubscriptionBilling
from accrue.subscriptions.model import DueWork, Subscription, due_work
from accrue.test_clocks.model import (
    ClockFailure,
    ClockState,
    TestClock,
    failed,
    finished,
    progressed,
    start_advance,
)
from accrue.test_clocks.ports import ClocksUnitOfWork

log = logging.getLogger("accrue.test_clocks")

BATCH_STEPS = 2000
BATCH_SUBSCRIPTIONS = 500
# After a batch of steps fails: how many steps run one at a time before batching again.
SINGLE_STEPS_AFTER_FAILURE = 100
WAIT_LIMIT_SECONDS = 60.0
_SECOND = timedelta(seconds=1)


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
        batch_steps: int | None = None,
    ) -> None:
        self._uow = uow_factory
        self._batch_steps = batch_steps
        self._clock = clock
        self._ids = ids
        self._events = events
        self._billing = billing
        self._collections = collections
        # Set when an advance starts in this process, so its runner wakes at once.
        self.wakeup = threading.Event()
        self._changed = threading.Condition()

    def create(
        self, uow: ClocksUnitOfWork, tenant_id: str, *, display_name: str, frozen_time: datetime
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
        self, uow: ClocksUnitOfWork, tenant_id: str, clock_id: str, *, for_update: bool = False
    ) -> TestClock:
        clock = uow.test_clocks.get(tenant_id, clock_id, for_update=for_update)
        if clock is None:
            raise NotFound("test_clock", clock_id)
        return clock

    def list_clocks(
        self, uow: ClocksUnitOfWork, tenant_id: str, page: PageRequest
    ) -> Page[TestClock]:
        return paginate(uow.test_clocks.list(tenant_id, page), page)

    # -- starting and waiting ------------------------------------------------

    def start_advance(
        self, uow: ClocksUnitOfWork, tenant_id: str, clock_id: str, to: datetime
    ) -> TestClock:
        """Mark the clock ADVANCING towards `to`; the runner does the work."""
        clock = self.get(uow, tenant_id, clock_id, for_update=True)
        moving = start_advance(clock, to, now=self._clock.now())
        uow.test_clocks.update(moving)
        return moving

    def claim_advancing(self, *, limit: int) -> list[tuple[str, str]]:
        """Clocks with an advance to run that no other runner holds right now."""
        with self._uow(write=False) as uow:  # idle runners take no write lock
            if not uow.test_clocks.claim_advancing(limit=1, lock=False):
                return []
        with self._uow(write=True) as uow:
            claimed = list(uow.test_clocks.claim_advancing(limit=limit))
            uow.commit()
        return claimed

    def poke(self) -> None:
        """An advance was committed: wake this process's runner."""
        self.wakeup.set()

    def wait(self, tenant_id: str, clock_id: str, *, timeout: float) -> TestClock:
        """The clock once it is no longer ADVANCING, or as it is after `timeout` seconds."""
        deadline = time.monotonic() + min(timeout, WAIT_LIMIT_SECONDS)
        while True:
            with self._uow(write=False) as uow:
                clock = self.get(uow, tenant_id, clock_id)
            left = deadline - time.monotonic()
            if clock.state is not ClockState.ADVANCING or left <= 0:
                return clock
            with self._changed:
                self._changed.wait(min(left, 0.1))

    # -- the background work -------------------------------------------------

    def advance_batch(self, tenant_id: str, clock_id: str) -> bool:
        """Run the next batch of the clock's advance; False once it is not advancing."""
        collect: tuple[str, datetime] | None = None
        bound: datetime
        with self._uow(write=True) as uow:
            clock = uow.test_clocks.get(tenant_id, clock_id, for_update=True)
            if clock is None or clock.state is not ClockState.ADVANCING:
                return False
            assert clock.target_time is not None, "an advancing clock has a target"
            target = clock.target_time
            sub = uow.subscriptions.due_on_clock(tenant_id, clock_id, until=target, limit=1)
            bill = uow.invoices.collections_on_clock(tenant_id, clock_id, until=target, limit=1)
            if not sub and not bill:
                done = finished(clock, now=self._clock.now())
                uow.test_clocks.update(done)
                self._record(uow, "advanced", done)
                self._record(uow, "ready", done)
                uow.commit()
                self._notify()
                return False
            if bill and (not sub or bill[0].due_time <= sub[0].next_action_time):
                at = max(bill[0].due_time, clock.frozen_time)
                collect = (bill[0].id, at)
                # The clock is at the attempt's instant before it runs: it is its "now".
                uow.test_clocks.update(progressed(clock, reached=at, work_items=1))
                uow.commit()
            else:
                bound = target if not bill else bill[0].due_time - _SECOND
                try:
                    steps, reached = self._run_batch(uow, clock, bound)
                    uow.test_clocks.update(progressed(clock, reached=reached, work_items=steps))
                    uow.commit()
                    self._notify()
                    return True
                except Exception as error:  # retried step by step below
                    log.info(
                        "test clock %s: batch failed (%s: %s); running its steps one at a time",
                        clock_id,
                        type(error).__name__,
                        error,
                    )
        if collect is not None:
            return self._collect(tenant_id, clock_id, *collect)
        return self._single_steps(tenant_id, clock_id)

    def _collect(self, tenant_id: str, clock_id: str, invoice_id: str, at: datetime) -> bool:
        try:
            # Outside the clock's transaction: the attempt calls the PSP.
            self._collections.collect(tenant_id, invoice_id, due_by=at)
        except AccrueError as error:
            if isinstance(error, ConcurrentModification):
                return True
            self._fail(tenant_id, clock_id, error, at)
            return False
        self._notify()
        return True

    def _single_steps(self, tenant_id: str, clock_id: str) -> bool:
        """Steps one per transaction (the old way), up to the one that fails."""
        for _ in range(SINGLE_STEPS_AFTER_FAILURE):
            at: datetime | None = None
            try:
                with self._uow(write=True) as uow:
                    clock = uow.test_clocks.get(tenant_id, clock_id, for_update=True)
                    if clock is None or clock.state is not ClockState.ADVANCING:
                        return False
                    assert clock.target_time is not None, "an advancing clock has a target"
                    target = clock.target_time
                    sub = uow.subscriptions.due_on_clock(tenant_id, clock_id, until=target, limit=1)
                    bill = uow.invoices.collections_on_clock(
                        tenant_id, clock_id, until=target, limit=1
                    )
                    if not sub or (bill and bill[0].due_time <= sub[0].next_action_time):
                        return True  # a collection or the end: the batch path handles it
                    at = max(sub[0].next_action_time, clock.frozen_time)
                    self._run_step(uow, tenant_id, sub[0].subscription_id, target)
                    uow.test_clocks.update(progressed(clock, reached=at, work_items=1))
                    uow.commit()
            except AccrueError as error:
                if isinstance(error, ConcurrentModification) or at is None:
                    raise
                self._fail(tenant_id, clock_id, error, at)
                return False
            self._notify()
        return True

    def _run_batch(
        self, uow: UnitOfWork, clock: TestClock, bound: datetime
    ) -> tuple[int, datetime]:
        """Every subscription step due at or before `bound` (narrowed as the module
        says), planned and written as a set; the step count and the time reached."""
        tenant_id = clock.tenant_id
        due = uow.subscriptions.due_on_clock(
            tenant_id, clock.id, until=bound, limit=BATCH_SUBSCRIPTIONS + 1
        )
        if len(due) > BATCH_SUBSCRIPTIONS:
            # Stop before the first subscription left out (or at the batch's first instant).
            first_left_out = due[BATCH_SUBSCRIPTIONS].next_action_time
            bound = max(first_left_out - _SECOND, due[0].next_action_time)
            due = [d for d in due[:BATCH_SUBSCRIPTIONS] if d.next_action_time <= bound]
        subscriptions = uow.subscriptions.get_many(tenant_id, [d.subscription_id for d in due])
        owners = sorted({s.customer_id for s in subscriptions.values()})
        customers = uow.customers.get_many(tenant_id, owners)
        pairs = []
        for item in due:
            sub = subscriptions[item.subscription_id]
            pairs.append((customers[sub.customer_id], sub))
        plan, bound = self._plan_window(pairs, due[0].next_action_time, bound)
        cut = _cut(plan, self._batch_steps or BATCH_STEPS)
        if cut is not None and cut < bound:
            bound = cut
            plan = self._billing.plan_due_many(pairs, until=bound)
        steps = self._billing.store_planned(uow, pairs, plan)
        return steps, max(bound, clock.frozen_time)

    def _plan_window(
        self, pairs: list[tuple[Customer, Subscription]], start: datetime, bound: datetime
    ) -> tuple[DuePlan, datetime]:
        """The steps from `start` up to `bound`, planned over a window that grows (x4)
        until it holds about half a batch: planning years ahead only to cut the plan
        down to one batch would cost more than the batch itself. The plan and where
        its window ends."""
        batch = self._batch_steps or BATCH_STEPS
        span = timedelta(days=max(1, batch // max(1, len(pairs))))
        while True:
            until = min(bound, start + span)
            plan = self._billing.plan_due_many(pairs, until=until)
            if until >= bound or sum(len(steps) for _, steps in plan.planned) >= batch // 2:
                return plan, until
            span *= 4

    def _fail(self, tenant_id: str, clock_id: str, error: AccrueError, at: datetime) -> None:
        log.warning(
            "test clock %s of tenant %s stopped at %s: %s (%s)",
            clock_id,
            tenant_id,
            at.isoformat(),
            error.reason,
            error.message,
        )
        with self._uow(write=True) as uow:
            clock = uow.test_clocks.get(tenant_id, clock_id, for_update=True)
            if clock is None or clock.state is not ClockState.ADVANCING:
                return
            stopped = failed(
                clock, ClockFailure(error.reason, error.message, at), now=self._clock.now()
            )
            uow.test_clocks.update(stopped)
            self._record(uow, "failed", stopped)
            uow.commit()
        self._notify()

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _run_step(self, uow: UnitOfWork, tenant_id: str, sub_id: str, target: datetime) -> None:
        sub = uow.subscriptions.get(tenant_id, sub_id, for_update=True)
        assert sub is not None, "a due subscription exists"
        customer = uow.customers.get(tenant_id, sub.customer_id)
        assert customer is not None, "a subscription's customer exists"
        after = self._billing.run_step(uow, customer, sub, _next(sub, target))
        uow.subscriptions.update(after, expected_version=sub.version)

    def _record(self, uow: HasEvents, change: str, clock: TestClock) -> None:
        self._events.record(
            uow,
            clock.tenant_id,
            type=f"test_clock.{change}",
            resource_id=clock.id,
            subject=clock,
        )


class TestClockRunner:
    """Runs advancing clocks in a background thread until stopped.

    Any number of runners (processes) may run side by side: each claims clocks
    with SKIP LOCKED and every batch locks its clock's row, so two runners on
    one clock take turns batch by batch and never run a step twice.
    """

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(
        self,
        clocks: TestClockService,
        *,
        poll_seconds: float = 1.0,
        batches_per_turn: int = 20,
    ) -> None:
        self._clocks = clocks
        self._poll = poll_seconds
        self._batches = batches_per_turn
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def clocks(self) -> TestClockService:
        return self._clocks

    def run_once(self, *, limit: int = 10) -> int:
        """One turn over the advancing clocks; the number of batches run."""
        batches = 0
        for tenant_id, clock_id in self._clocks.claim_advancing(limit=limit):
            for _ in range(self._batches):
                if self._stop.is_set():
                    return batches
                batches += 1
                if not self._clocks.advance_batch(tenant_id, clock_id):
                    break
        return batches

    def run_until_idle(self) -> None:
        while self.run_once():
            pass

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="test-clocks", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._clocks.wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        backoff = self._poll
        while not self._stop.is_set():
            self._clocks.wakeup.clear()
            try:
                ran = self.run_once()
                backoff = self._poll
            except Exception:  # logged; retried after a pause
                log.exception("test clock runner pass failed")
                ran = 0
                backoff = min(backoff * 2, 30.0)
            if not ran:
                self._clocks.wakeup.wait(backoff)


def _cut(plan: DuePlan, batch_steps: int) -> datetime | None:
    """Where a planned window must end: at its first automatically collected invoice
    (collections run before later steps) or after `batch_steps` steps."""
    cut: datetime | None = None
    for draft, at in plan.drafts:
        if draft.collection_method is CollectionMethod.CHARGE_AUTOMATICALLY:
            cut = at if cut is None else min(cut, at)
    times: list[datetime] = []
    for _, steps in plan.planned:
        for transition in steps:
            moment = transition.subscription.update_time
            assert moment is not None, "a planned step stamps its time"
            times.append(moment)
    times.sort()
    if len(times) > batch_steps:
        capped = times[batch_steps - 1]
        cut = capped if cut is None else min(cut, capped)
    return cut


def _next(sub: Subscription, until: datetime) -> DueWork:
    work = due_work(sub, until)
    assert work is not None, "the repository only returns due subscriptions"
    return work
