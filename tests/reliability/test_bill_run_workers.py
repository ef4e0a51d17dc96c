"""Four `accrue worker --once` processes racing over one PostgreSQL database bill each period once.

About 400 subscriptions over several tenants are written straight into the database with
their periods already over: some one period, some two or three, so a worker must bill several
periods of one subscription in a row (the API cannot make these: a backdated start bills its
past periods itself). Four workers with `--batch-size 20` start together. Afterwards every
period that came due has exactly one invoice and none is missing (each subscription's
invoice periods are the calendar's, contiguous, up to now), every tenant's invoice numbers
are gapless from INV-000001, its ledger verifies and its events are gapless.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import select

from accrue import schema as t
from accrue.bootstrap import Application, build_application
from accrue.catalog.model import Price, PriceTerms, PricingScheme, Product, Recurring
from accrue.config import Settings
from accrue.customers.model import Customer
from accrue.kernel.calendar import BillingInterval, IntervalUnit, anchor_from
from accrue.kernel.ids import IdGenerator
from accrue.kernel.lifecycle import LifecycleState
from accrue.subscriptions.model import (
    Subscription,
    SubscriptionItem,
    create_subscription,
    renew,
    start,
)

pytestmark = pytest.mark.timeout(120)

TENANTS = 4
SUBSCRIPTIONS = 400
WORKERS = 4
BATCH = 20
POISON_TEST_SUBSCRIPTIONS = 160
WORKERS_SECONDS = 60  # from the gate opening to the last worker's exit
ZONES = ("UTC", "America/New_York", "Europe/Berlin", "Asia/Tokyo")
TERMS = PriceTerms(
    "USD",
    PricingScheme.PER_UNIT,
    unit_amount_minor=1250,
    recurring=Recurring(IntervalUnit.MONTH, 1),
)
CYCLE = "subscription_cycle"
Periods = list[tuple[datetime, datetime]]


@dataclass(frozen=True)
class Seeded:
    subscription: Subscription
    overdue: int  # periods over at seeding: renewals the workers must bill


def _seed(
    app: Application, now: datetime, count: int = SUBSCRIPTIONS
) -> tuple[list[str], list[Seeded]]:
    """`count` active monthly subscriptions over TENANTS tenants, 1 to 3 periods over.

    Started 35, 65 or 95 days ago (plus up to 10 hours, so due times interleave across
    tenants): boundaries then fall at least 3 days before and 24 days after now whatever
    the month lengths and time zone, so the number of due renewals is exactly 1, 2 or 3.
    """
    ids = IdGenerator(app.clock)
    tenants = [app.tenants.create_tenant(f"bill-run-{n}").tenant.id for n in range(TENANTS)]
    seeded: list[Seeded] = []
    with app.uow_factory(write=True) as uow:
        prices = {}
        for tenant_id in tenants:
            product = Product(
                ids.new("prod"), tenant_id, "Seat", "", LifecycleState.ACTIVE, {}, now, now
            )
            price = Price(
                ids.new("price"),
                tenant_id,
                product.id,
                TERMS,
                "",
                LifecycleState.ACTIVE,
                True,
                {},
                now,
                now,
            )
            uow.products.add(product)
            uow.prices.add(price)
            prices[tenant_id] = price.id
        for n in range(count):
            tenant_id, overdue = tenants[n % TENANTS], 1 + n % 3
            zone = ZONES[(n // TENANTS) % len(ZONES)]
            began = now - timedelta(days=30 * overdue + 5, hours=n % 11)
            customer = Customer(
                id=ids.new("cus"),
                tenant_id=tenant_id,
                display_name=f"Customer {n}",
                email=f"c{n}@example.com",
                currency_code="USD",
                billing_address=None,
                tax_location=None,
                time_zone=zone,
                metadata={},
                payment_methods=(),
                default_payment_method_id="",
                state=LifecycleState.ACTIVE,
                create_time=began,
                update_time=began,
            )
            uow.customers.add(customer)
            sub = create_subscription(
                id=ids.new("sub"),
                tenant_id=tenant_id,
                customer_id=customer.id,
                items=[SubscriptionItem(prices[tenant_id], TERMS, quantity=1 + n % 4)],
                anchor=anchor_from(began, zone),
                interval=BillingInterval(IntervalUnit.MONTH),
                now=began,
            )
            sub = start(sub, began).subscription
            uow.subscriptions.add(sub)
            seeded.append(Seeded(sub, overdue))
        uow.commit()
    return tenants, seeded


def _due_periods(sub: Subscription, until: datetime) -> Periods:
    """The periods renewals up to `until` start, in order, as the domain computes them."""
    periods: Periods = []
    while sub.current_period.end <= until:
        sub = renew(sub, sub.current_period.end).subscription
        periods.append((sub.current_period.start, sub.current_period.end))
    return periods


def _start_workers(url: str, logs: Path) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "ACCRUE_DATABASE_URL": url, "ACCRUE_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "accrue.cli", "worker", "--once", "--batch-size", str(BATCH)]
    processes = []
    for n in range(WORKERS):
        with (logs / f"w{n}.out").open("wb") as out, (logs / f"w{n}.err").open("wb") as err:
            processes.append(subprocess.Popen(command, env=env, stdout=out, stderr=err))
    return processes


def _wait_ready(logs: Path, processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready = [(logs / f"w{n}.out").read_text().count("READY worker") for n in range(WORKERS)]
        if all(ready):
            return
        if any(p.poll() is not None for p in processes):
            break
        time.sleep(0.05)
    tails = [(logs / f"w{n}.err").read_text()[-1000:] for n in range(WORKERS)]
    raise AssertionError(f"not every worker printed READY: {tails}")


def _wait_exited(processes: list[subprocess.Popen[bytes]], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise AssertionError(f"workers still running after {seconds:.0f} s") from None


def test_four_workers_bill_every_due_period_exactly_once(postgres_url: str, tmp_path: Path) -> None:
    app = build_application(Settings(database_url=postgres_url, log_level="WARNING"))
    try:
        now = datetime.now(UTC).replace(microsecond=0)
        tenants, seeded = _seed(app, now)
        expected = {s.subscription.id: _due_periods(s.subscription, now) for s in seeded}
        assert [len(expected[s.subscription.id]) for s in seeded] == [s.overdue for s in seeded]
        total = sum(s.overdue for s in seeded)

        # A gate: invoice numbers cannot be taken until it opens, so every worker claims a
        # batch and then waits, and all four bill at the same time rather than in turn.
        processes: list[subprocess.Popen[bytes]] = []
        try:
            with app.engine.connect() as gate:
                gate.exec_driver_sql("LOCK TABLE document_counters IN EXCLUSIVE MODE")
                processes = _start_workers(postgres_url, tmp_path)
                _wait_ready(tmp_path, processes)
                time.sleep(1.0)  # let them claim
                gate.rollback()
            _wait_exited(processes, WORKERS_SECONDS)
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        outputs = [(tmp_path / f"w{n}.out").read_text() for n in range(WORKERS)]
        errors = [(tmp_path / f"w{n}.err").read_text() for n in range(WORKERS)]
        for process, output, error in zip(processes, outputs, errors, strict=True):
            assert process.returncode == 0, error[-2000:]
            assert "DONE steps=" in output, error[-2000:]
        steps = [int(m) for out in outputs for m in re.findall(r"DONE steps=(\d+)", out)]
        assert sum(steps) == total, (steps, total)
        # Whether a batch failed and was retried in halves is not asserted: it is allowed.
        print(f"steps per worker {steps}; batches retried in halves:", end=" ")
        print(sum(e.count("retrying in halves") for e in errors))

        i, s = t.invoices.c, t.subscriptions.c
        with app.engine.connect() as conn:
            invoices = conn.execute(
                select(
                    i.tenant_id, i.subscription_id, i.period_start, i.period_end, i.number
                ).where(i.billing_reason == CYCLE)
            ).all()
            subscriptions = {
                row.id: row
                for row in conn.execute(
                    select(s.id, s.period_start, s.period_end, s.next_action_time, s.version)
                )
            }
            other = conn.execute(select(i.id).where(i.billing_reason != CYCLE)).all()
            e = t.events.c
            events = conn.execute(select(e.tenant_id, e.sequence, e.type)).all()
        assert other == []

        # Every due period billed once, none missing, none extra: the calendar's periods.
        billed: dict[str, Periods] = defaultdict(list)
        for row in invoices:
            billed[row.subscription_id].append((row.period_start, row.period_end))
        assert len(invoices) == total
        for seed in seeded:
            sub_id = seed.subscription.id
            assert sorted(billed[sub_id]) == expected[sub_id], sub_id
            periods = sorted(billed[sub_id])
            assert periods[0][0] == seed.subscription.current_period.end
            assert all(a[1] == b[0] for a, b in pairwise(periods))
            row = subscriptions[sub_id]
            assert (row.period_start, row.period_end) == periods[-1]
            assert row.next_action_time == row.period_end > now
            assert row.version == seed.subscription.version + seed.overdue

        # Invoice numbers per tenant: INV-000001..n, no gap, no repeat.
        numbers: dict[str, list[str]] = defaultdict(list)
        for row in invoices:
            numbers[row.tenant_id].append(row.number)
        assert sorted(numbers) == sorted(tenants)
        for tenant_id, issued in numbers.items():
            assert sorted(issued) == [f"INV-{n:06d}" for n in range(1, len(issued) + 1)], tenant_id

        # The ledger: one finalisation per invoice, the chain intact, balances matching.
        for tenant_id in tenants:
            with app.uow_factory(write=False) as uow:
                result = app.ledger.verify(uow, tenant_id)
            assert result.intact, (tenant_id, result.first_break, result.mismatches[:3])
            assert result.transactions_checked == len(numbers[tenant_id])

        # Events: gapless sequences per tenant, four per renewal and nothing else.
        by_tenant: dict[str, list[int]] = defaultdict(list)
        for row in events:
            by_tenant[row.tenant_id].append(row.sequence)
        for tenant_id, sequences in by_tenant.items():
            assert sorted(sequences) == list(range(1, len(sequences) + 1)), tenant_id
        assert Counter(row.type for row in events) == {
            "invoice.created": total,
            "invoice.finalized": total,
            "ledger.transaction_posted": total,
            "subscription.renewed": total,
        }
    finally:
        app.close()


def test_a_poisoned_subscription_is_reported_and_the_rest_billed_once(
    postgres_url: str, tmp_path: Path
) -> None:
    """One subscription whose renewal cannot be planned (its amount overflows) sits in a batch.

    The four workers bill every other due period exactly once; the poisoned one is logged
    with its id, counted as a failure and left due, unchanged. Once its data is repaired, a
    later run bills it, and nothing is billed twice.
    """
    app = build_application(Settings(database_url=postgres_url, log_level="WARNING"))
    try:
        now = datetime.now(UTC).replace(microsecond=0)
        tenants, seeded = _seed(app, now, POISON_TEST_SUBSCRIPTIONS)
        poisoned = seeded[BATCH + BATCH // 2].subscription  # inside the second batch
        with app.uow_factory(write=True) as uow:
            sub = uow.subscriptions.get(poisoned.tenant_id, poisoned.id)
            assert sub is not None
            items = tuple(replace(item, quantity=10**15) for item in sub.items)
            uow.subscriptions.update(replace(sub, items=items), expected_version=sub.version)
            uow.commit()
        expected = {s.subscription.id: _due_periods(s.subscription, now) for s in seeded}
        total = sum(len(periods) for periods in expected.values())
        owed = len(expected[poisoned.id])

        first = _run_workers(postgres_url, tmp_path / "first")
        assert sum(first.steps) == total - owed, first.steps
        assert sum(first.failed) >= 1
        assert poisoned.id in first.log and "could not be billed" in first.log
        assert "AmountOutOfRange" in first.log
        billed = _billed(app)
        assert poisoned.id not in billed
        with app.engine.connect() as conn:
            s = t.subscriptions.c
            row = conn.execute(
                select(s.version, s.next_action_time).where(s.id == poisoned.id)
            ).one()
        assert row.version == poisoned.version
        assert row.next_action_time == poisoned.current_period.end <= now

        # Repaired, it is billed by the next run, and only it.
        with app.uow_factory(write=True) as uow:
            sub = uow.subscriptions.get(poisoned.tenant_id, poisoned.id)
            assert sub is not None
            uow.subscriptions.update(
                replace(sub, items=poisoned.items), expected_version=sub.version
            )
            uow.commit()
        second = _run_workers(postgres_url, tmp_path / "second")
        assert sum(second.steps) == owed and sum(second.failed) == 0, second

        billed = _billed(app)
        assert sum(len(periods) for periods in billed.values()) == total
        for sub_id, periods in expected.items():
            assert sorted(billed[sub_id]) == periods, sub_id
        _assert_books(app, tenants, total)
    finally:
        app.close()


@dataclass(frozen=True)
class Run:
    steps: list[int]
    failed: list[int]
    log: str


def _run_workers(url: str, logs: Path) -> Run:
    logs.mkdir()
    processes = _start_workers(url, logs)
    try:
        _wait_exited(processes, WORKERS_SECONDS)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    outputs = [(logs / f"w{n}.out").read_text() for n in range(WORKERS)]
    errors = "".join((logs / f"w{n}.err").read_text() for n in range(WORKERS))
    for process in processes:
        assert process.returncode == 0, errors[-2000:]
    done = [re.search(r"DONE steps=(\d+) .* failed=(\d+)", out) for out in outputs]
    assert all(done), (outputs, errors[-2000:])
    return Run([int(m.group(1)) for m in done if m], [int(m.group(2)) for m in done if m], errors)


def _billed(app: Application) -> dict[str, Periods]:
    i = t.invoices.c
    billed: dict[str, Periods] = defaultdict(list)
    with app.engine.connect() as conn:
        for row in conn.execute(
            select(i.subscription_id, i.period_start, i.period_end).where(i.billing_reason == CYCLE)
        ):
            billed[row.subscription_id].append((row.period_start, row.period_end))
    return billed


def _assert_books(app: Application, tenants: list[str], total: int) -> None:
    """Numbers gapless per tenant, ledgers intact, events gapless and four per renewal."""
    i, e = t.invoices.c, t.events.c
    with app.engine.connect() as conn:
        invoices = conn.execute(select(i.tenant_id, i.number)).all()
        events = conn.execute(select(e.tenant_id, e.sequence, e.type)).all()
    numbers: dict[str, list[str]] = defaultdict(list)
    for row in invoices:
        numbers[row.tenant_id].append(row.number)
    assert len(invoices) == total
    for tenant_id in tenants:
        issued = numbers[tenant_id]
        assert sorted(issued) == [f"INV-{n:06d}" for n in range(1, len(issued) + 1)], tenant_id
        with app.uow_factory(write=False) as uow:
            result = app.ledger.verify(uow, tenant_id)
        assert result.intact, (tenant_id, result.first_break, result.mismatches[:3])
        assert result.transactions_checked == len(issued)
    by_tenant: dict[str, list[int]] = defaultdict(list)
    for row in events:
        by_tenant[row.tenant_id].append(row.sequence)
    for tenant_id, sequences in by_tenant.items():
        assert sorted(sequences) == list(range(1, len(sequences) + 1)), tenant_id
    assert Counter(row.type for row in events) == {
        "invoice.created": total,
        "invoice.finalized": total,
        "ledger.transaction_posted": total,
        "subscription.renewed": total,
    }
