"""Bill-run throughput: N subscriptions due at once, billed by K `accrue worker --once` processes.

Next to it, in the same run and database, the raw rate of plain INSERTs of the rows those
renewals wrote; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import pstats
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness import machine_busy_seconds, postgres_database
from sqlalchemy import Engine, func, insert, select

from accrue import schema as t
from accrue.bootstrap import Application, build_application
from accrue.catalog.mapping import price_row, product_row
from accrue.catalog.model import Price, PriceTerms, PricingScheme, Product, Recurring
from accrue.config import Settings
from accrue.customers.mapping import customer_row
from accrue.customers.model import Customer
from accrue.kernel.calendar import BillingInterval, IntervalUnit, anchor_from
from accrue.kernel.ids import IdGenerator
from accrue.kernel.lifecycle import LifecycleState
from accrue.platform.clock import SystemClock
from accrue.subscriptions.model import SubscriptionItem, create_subscription, start

# Private, but it is the one place a Subscription becomes a row; see README (bill_run.py).
from accrue.subscriptions.repository import _subscription_row

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
ACCRUE = str(Path(sys.executable).with_name("accrue"))
GOAL_COUNT, GOAL_SECONDS = 200_000, 120.0  # PostgreSQL; informational, never fails the run
GOAL_RATIO = 0.5  # of the raw INSERT rate of the same rows, same run; informational
SEED_BATCH = 2000  # customers + subscriptions per executemany
RAW_BATCH = 1000  # renewals' rows per raw commit
CYCLE = "subscription_cycle"
# What one renewal writes besides its invoice, line and ledger transaction.
RENEWAL_EVENTS = (
    "invoice.created",
    "invoice.finalized",
    "ledger.transaction_posted",
    "subscription.renewed",
)
MONTHLY = Recurring(IntervalUnit.MONTH, 1)
TERMS = PriceTerms("USD", PricingScheme.PER_UNIT, unit_amount_minor=1999, recurring=MONTHLY)


# --- measuring ----------------------------------------------------------------------------


def _machine_busy_seconds() -> float:
    return machine_busy_seconds()[0]  # all but idle and iowait


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def settle(engine: Engine, tables: tuple[str, ...]) -> None:
    """ANALYZE `tables` (PostgreSQL), which bulk loading left without planner statistics.

    Only tables that have rows: statistics of an empty table say "empty" until the next
    ANALYZE, so plans cached while it grows (foreign-key checks, prepared statements) keep
    scanning it whole. See benchmarks/README.md.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.exec_driver_sql(f"ANALYZE {', '.join(tables)}")
            conn.commit()


# Written by renewals; their planner statistics go stale as they grow from nothing.
WRITTEN = (
    "invoices",
    "invoice_lines",
    "ledger_transactions",
    "ledger_entries",
    "ledger_accounts",
    "events",
    "subscriptions",
)
FIRST_ANALYZE = 100  # renewals; then again each time the count has doubled


@contextmanager
def analyzing(engine: Engine, enabled: bool) -> Iterator[list[str]]:
    """ANALYZE the tables renewals write as they grow (PostgreSQL), as autovacuum would.

    Without it, plans that the workers' connections cache while those tables are nearly
    empty (prepared statements, foreign-key checks) keep reading a whole tenant's rows
    through a (tenant_id, ...) index as the tables grow, until something re-analyzes them;
    this server may run without autovacuum. The tables are analyzed after FIRST_ANALYZE
    renewals and whenever the count has doubled since. Yields a list that ends up holding
    one line saying what happened.
    """
    said: list[str] = []
    if engine.dialect.name != "postgresql":
        yield said
        return
    with engine.connect() as conn:
        autovacuum = conn.exec_driver_sql("SHOW autovacuum").scalar_one()
    if not enabled:
        said.append(f"no ANALYZE while the workers ran (--no-analyze; autovacuum {autovacuum})")
        yield said
        return
    stop = threading.Event()
    runs: list[float] = []
    posted = select(func.coalesce(func.sum(t.ledger_heads.c.last_sequence), 0))
    with engine.connect() as conn:
        baseline = conn.execute(posted).scalar_one()

    def loop() -> None:
        due = FIRST_ANALYZE
        while not stop.wait(0.5):
            with engine.connect() as conn:
                done = conn.execute(posted).scalar_one() - baseline
            if done >= due:
                began = time.perf_counter()
                settle(engine, WRITTEN)
                runs.append(time.perf_counter() - began)
                due = 2 * done

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield said
    finally:
        stop.set()
        thread.join()
        said.append(
            f"ANALYZE of the {len(WRITTEN)} tables renewals write after {FIRST_ANALYZE}"
            f" renewals and at each doubling (autovacuum {autovacuum} on this server):"
            f" {len(runs)} runs, {sum(runs):.1f} s in all"
        )


# --- seeding ------------------------------------------------------------------------------


@dataclass
class Seeded:
    tenant_ids: list[str]
    count: int
    seconds: float
    now: datetime  # every seeded subscription's period ended before this


def seed(app: Application, count: int, tenants: int) -> Seeded:
    """`count` ACTIVE monthly subscriptions (a customer each) whose first period has ended.

    Each row is a domain Subscription from create_subscription + start, encoded by the
    repository's own row function, and written with Core executemany in SEED_BATCH chunks.
    Starts are 40 days ago, spread over an hour, so exactly one renewal is due for each.
    """
    began = time.perf_counter()
    ids = IdGenerator(SystemClock())
    now = datetime.now(UTC).replace(microsecond=0)
    tenant_ids = [app.tenants.create_tenant(f"bench-{i}").tenant.id for i in range(tenants)]
    prices: dict[str, str] = {}
    with app.engine.begin() as conn:
        for tenant_id in tenant_ids:
            product = Product(
                ids.new("prod"), tenant_id, "Seat", "", LifecycleState.ACTIVE, {}, now, now
            )
            price = Price(
                ids.new("price"),
                tenant_id,
                product.id,
                TERMS,
                "monthly seat",
                LifecycleState.ACTIVE,
                True,
                {},
                now,
                now,
            )
            conn.execute(insert(t.products), product_row(product))
            conn.execute(insert(t.prices), price_row(price))
            prices[tenant_id] = price.id
    # Customers first, then ANALYZE, then subscriptions: the foreign-key check from each
    # subscription to its customer is planned once per connection, and a plan made while
    # customers was small scans it whole for every row (quadratic on PostgreSQL).
    owners: list[tuple[str, str, datetime]] = []  # (tenant id, customer id, start)
    for first in range(0, count, SEED_BATCH):
        customers: list[dict[str, Any]] = []
        for i in range(first, min(count, first + SEED_BATCH)):
            tenant_id = tenant_ids[i % tenants]
            began_at = now - timedelta(days=40, seconds=i % 3600)
            customer = Customer(
                id=ids.new("cus"),
                tenant_id=tenant_id,
                display_name=f"Customer {i}",
                email=f"c{i}@example.com",
                currency_code="USD",
                billing_address=None,
                tax_location=None,
                time_zone="UTC",
                metadata={},
                payment_methods=(),
                default_payment_method_id="",
                state=LifecycleState.ACTIVE,
                create_time=began_at,
                update_time=began_at,
            )
            customers.append(customer_row(customer))
            owners.append((tenant_id, customer.id, began_at))
        with app.engine.begin() as conn:
            conn.execute(insert(t.customers), customers)
    settle(app.engine, ("tenants", "products", "prices", "customers"))
    interval = BillingInterval(IntervalUnit.MONTH, 1)
    for first in range(0, count, SEED_BATCH):
        subscriptions: list[dict[str, Any]] = []
        for i in range(first, min(count, first + SEED_BATCH)):
            tenant_id, customer_id, began_at = owners[i]
            item = SubscriptionItem(prices[tenant_id], TERMS, quantity=1 + i % 3)
            created = create_subscription(
                id=ids.new("sub"),
                tenant_id=tenant_id,
                customer_id=customer_id,
                items=[item],
                anchor=anchor_from(began_at, "UTC"),
                interval=interval,
                now=began_at,
            )
            sub = start(created, began_at).subscription
            assert sub.current_period.end <= now, "seeded to be due now"
            subscriptions.append(_subscription_row(sub))
        with app.engine.begin() as conn:
            conn.execute(insert(t.subscriptions), subscriptions)
    settle(app.engine, ("subscriptions",))
    return Seeded(tenant_ids, count, time.perf_counter() - began, now)


# --- the workers --------------------------------------------------------------------------


@dataclass
class Workers:
    count: int
    seconds: float  # first spawn to last exit
    startup: float  # first spawn to last READY
    steps: int
    cpu: float  # the workers' CPU seconds
    machine: float  # whole machine's busy CPU seconds (includes the database server)
    fallbacks: int  # "retrying in halves" warnings (a failed batch split)
    errors: list[str] = field(default_factory=list)


def run_workers(
    url: str, count: int, batch_size: int, workdir: Path, timeout: float, profile: Path | None
) -> Workers:
    """K `accrue worker --once` processes at once; returns when every one has exited."""
    env = {**os.environ, "ACCRUE_DATABASE_URL": url, "ACCRUE_LOG_LEVEL": "WARNING"}
    command = ["worker", "--once", "--batch-size", str(batch_size)]
    lines: dict[int, list[tuple[float, str]]] = {i: [] for i in range(count)}
    cpu, machine = _children_cpu_seconds(), _machine_busy_seconds()
    began = time.perf_counter()
    processes: list[subprocess.Popen[str]] = []
    logs = [workdir / f"worker{i}.log" for i in range(count)]
    for i in range(count):
        argv = [ACCRUE, *command]
        if profile is not None and i == 0:
            argv = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "accrue.cli"]
            argv += command
        with logs[i].open("w") as log:
            processes.append(
                subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
            )

    def read(i: int, process: subprocess.Popen[str]) -> None:
        for line in process.stdout or ():
            lines[i].append((time.perf_counter(), line.strip()))

    readers = [
        threading.Thread(target=read, args=(i, p), daemon=True) for i, p in enumerate(processes)
    ]
    for reader in readers:
        reader.start()
    errors: list[str] = []
    deadline = began + timeout
    for i, process in enumerate(processes):
        try:
            process.wait(max(0.1, deadline - time.perf_counter()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            errors.append(f"worker {i} killed after the {timeout:.0f} s timeout")
    seconds = time.perf_counter() - began
    for reader in readers:
        reader.join(5)
    cpu, machine = _children_cpu_seconds() - cpu, _machine_busy_seconds() - machine
    steps = 0
    ready: list[float] = []
    for i, process in enumerate(processes):
        done = [int(m.group(1)) for _, x in lines[i] if (m := re.match(r"DONE steps=(\d+)", x))]
        ready += [at for at, x in lines[i] if x == "READY worker"]
        steps += sum(done)
        if process.returncode != 0 or not done:
            tail = " | ".join(logs[i].read_text().splitlines()[-5:])
            errors.append(f"worker {i} exited with {process.returncode}: {tail[-600:]}")
    fallbacks = sum(log.read_text().count("retrying in halves") for log in logs)
    startup = (max(ready) - began) if ready else 0.0
    return Workers(count, seconds, startup, steps, cpu, machine, fallbacks, errors)


# --- checks -------------------------------------------------------------------------------


@dataclass
class Totals:
    """What the checks count, over the benchmark's tenants."""

    ledger_transactions: int
    events: Counter[str]


def totals(engine: Engine, tenant_ids: list[str]) -> Totals:
    with engine.connect() as conn:
        lt = t.ledger_transactions.c
        ledger = conn.execute(
            select(func.count())
            .select_from(t.ledger_transactions)
            .where(lt.tenant_id.in_(tenant_ids))
        ).scalar_one()
        e = t.events.c
        events = Counter(
            {
                row.type: row.n
                for row in conn.execute(
                    select(e.type, func.count().label("n"))
                    .where(e.tenant_id.in_(tenant_ids))
                    .group_by(e.type)
                )
            }
        )
    return Totals(ledger, events)


@dataclass
class Check:
    what: str
    ok: bool
    detail: str


def check(
    app: Application, seeded: Seeded, before: Totals, workers: Workers
) -> tuple[list[Check], float]:
    """Every subscription renewed exactly once, with its ledger transaction and events."""
    began = time.perf_counter()
    n = seeded.count
    tenants = seeded.tenant_ids
    checks: list[Check] = []
    i, s = t.invoices.c, t.subscriptions.c
    with app.engine.connect() as conn:
        cycle = (i.tenant_id.in_(tenants)) & (i.billing_reason == CYCLE)
        invoices = conn.execute(select(func.count()).where(cycle)).scalar_one()
        renewed = conn.execute(
            select(func.count(func.distinct(i.subscription_id))).where(cycle)
        ).scalar_one()
        doubled = conn.execute(
            select(func.count()).select_from(
                select(i.subscription_id)
                .where(cycle)
                .group_by(i.tenant_id, i.subscription_id, i.period_start)
                .having(func.count() > 1)
                .subquery()
            )
        ).scalar_one()
        still_due = conn.execute(
            select(func.count()).where(s.tenant_id.in_(tenants), s.next_action_time <= seeded.now)
        ).scalar_one()
        numbers = {
            row.tenant_id: (row.n, row.distinct, row.top)
            for row in conn.execute(
                select(
                    i.tenant_id,
                    func.count().label("n"),
                    func.count(func.distinct(i.number)).label("distinct"),
                    func.max(i.number).label("top"),
                )
                .where(i.tenant_id.in_(tenants))
                .group_by(i.tenant_id)
            )
        }
    after = totals(app.engine, tenants)
    checks.append(
        Check(
            "renewed once",
            invoices == n == renewed and doubled == 0 and still_due == 0,
            f"{invoices:,} {CYCLE} invoices for {renewed:,} subscriptions (expected {n:,}),"
            f" {doubled} doubled periods, {still_due} still due",
        )
    )
    gapless = all(
        count == distinct and top == f"INV-{count:06d}" for count, distinct, top in numbers.values()
    )
    checks.append(Check("numbers", gapless, "invoice numbers INV-000001..n in every tenant"))
    grew = after.ledger_transactions - before.ledger_transactions
    checks.append(Check("ledger", grew == n, f"ledger transactions grew by {grew:,}"))
    added = {k: after.events[k] - before.events[k] for k in RENEWAL_EVENTS}
    other = sum(after.events.values()) - sum(before.events.values()) - sum(added.values())
    checks.append(
        Check(
            "events",
            all(v == n for v in added.values()) and other == 0,
            ", ".join(f"{k} +{v:,}" for k, v in added.items()) + f", other +{other:,}",
        )
    )
    checks.append(Check("steps", workers.steps == n, f"workers reported {workers.steps:,} steps"))
    for tenant_id in tenants:
        with app.uow_factory(write=False) as uow:
            result = app.ledger.verify(uow, tenant_id)
        posted = totals(app.engine, [tenant_id]).ledger_transactions
        checks.append(
            Check(
                "verify",
                result.intact and result.transactions_checked == posted,
                f"{tenant_id}: intact={result.intact},"
                f" {result.transactions_checked:,}/{posted:,} transactions checked",
            )
        )
    return checks, time.perf_counter() - began


# --- raw INSERTs of the same rows ---------------------------------------------------------


@dataclass
class Sample:
    """The rows one renewal wrote, as dicts ready to be copied."""

    invoice: dict[str, Any]
    lines: list[dict[str, Any]]
    transaction: dict[str, Any]
    entries: list[dict[str, Any]]
    events: list[dict[str, Any]]

    @property
    def rows(self) -> int:
        return 2 + len(self.lines) + len(self.entries) + len(self.events)


def samples(engine: Engine, tenant_id: str, size: int) -> list[Sample]:
    """Up to `size` renewals of `tenant_id` with every row they wrote."""
    i, ln, tx, en, ev = (
        t.invoices.c,
        t.invoice_lines.c,
        t.ledger_transactions.c,
        t.ledger_entries.c,
        t.events.c,
    )
    with engine.connect() as conn:
        invoices = [
            dict(r._mapping)
            for r in conn.execute(
                select(t.invoices)
                .where(i.tenant_id == tenant_id, i.billing_reason == CYCLE)
                .order_by(i.id)
                .limit(size)
            )
        ]
        ids = [x["id"] for x in invoices]
        tx_ids = [x["ledger_transaction_id"] for x in invoices]
        sub_ids = [x["subscription_id"] for x in invoices]
        where = {"tenant_id": tenant_id}

        def rows(table: Any, column: Any, keys: list[str]) -> list[dict[str, Any]]:
            query = select(table).where(table.c.tenant_id == where["tenant_id"], column.in_(keys))
            return [dict(r._mapping) for r in conn.execute(query)]

        lines = rows(t.invoice_lines, ln.invoice_id, ids)
        transactions = {x["id"]: x for x in rows(t.ledger_transactions, tx.id, tx_ids)}
        entries = rows(t.ledger_entries, en.transaction_id, tx_ids)
        events = rows(t.events, ev.resource_id, ids + tx_ids + sub_ids)
    by_invoice: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_invoice.setdefault(line["invoice_id"], []).append(line)
    by_tx: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_tx.setdefault(entry["transaction_id"], []).append(entry)
    by_resource: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        if event["type"] in RENEWAL_EVENTS:
            by_resource.setdefault(event["resource_id"], []).append(event)
    return [
        Sample(
            invoice,
            by_invoice[invoice["id"]],
            transactions[invoice["ledger_transaction_id"]],
            by_tx[invoice["ledger_transaction_id"]],
            by_resource[invoice["id"]]
            + by_resource[invoice["ledger_transaction_id"]]
            + [e for e in by_resource[invoice["subscription_id"]] if e["type"] in RENEWAL_EVENTS],
        )
        for invoice in invoices
    ]


@dataclass
class Raw:
    renewals: int
    rows: int
    seconds: float
    cpu: float  # this process's CPU seconds

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def renewals_per_second(self) -> float:
        return self.renewals / self.seconds if self.seconds else 0.0


Batch = tuple[list[dict[str, Any]], ...]  # invoices, lines, transactions, entries, events


def raw_batches(engine: Engine, tenant_id: str, count: int) -> tuple[list[Batch], int]:
    """`count` renewals' rows cloned from real ones under fresh ids, in RAW_BATCH chunks.

    They go into the same tables and tenant (after the checks), with ledger and event
    sequences above the tenant's heads and invoice numbers RAW-n, so every constraint
    holds. Returns the batches and their row count.
    """
    taken = samples(engine, tenant_id, min(count, 1000))
    with engine.connect() as conn:
        tx_seq = conn.execute(
            select(func.max(t.ledger_transactions.c.sequence)).where(
                t.ledger_transactions.c.tenant_id == tenant_id
            )
        ).scalar_one()
        ev_seq = conn.execute(
            select(func.max(t.events.c.sequence)).where(t.events.c.tenant_id == tenant_id)
        ).scalar_one()
    batches: list[Batch] = []
    rows = 0
    for first in range(0, count, RAW_BATCH):
        batch: Batch = ([], [], [], [], [])
        for n in range(first, min(count, first + RAW_BATCH)):
            sample = taken[n % len(taken)]
            invoice_id, tx_id = f"in_RAW{n:020d}", f"ltx_RAW{n:020d}"
            renamed = {sample.invoice["id"]: invoice_id, sample.transaction["id"]: tx_id}
            tx_seq += 1
            batch[0].append(
                {
                    **sample.invoice,
                    "id": invoice_id,
                    "number": f"RAW-{n:09d}",
                    "ledger_transaction_id": tx_id,
                }
            )
            batch[1].extend({**line, "invoice_id": invoice_id} for line in sample.lines)
            batch[2].append(
                {
                    **sample.transaction,
                    "id": tx_id,
                    "sequence": tx_seq,
                    "source_id": invoice_id,
                    "resource_id": invoice_id,
                }
            )
            batch[3].extend({**entry, "transaction_id": tx_id} for entry in sample.entries)
            for event in sample.events:
                ev_seq += 1
                batch[4].append(
                    {
                        **event,
                        "sequence": ev_seq,
                        "id": f"evt_RAW{ev_seq:020d}",
                        "resource_id": renamed.get(event["resource_id"], event["resource_id"]),
                    }
                )
            rows += sample.rows
        batches.append(batch)
    return batches, rows


RAW_TABLES = (t.invoices, t.invoice_lines, t.ledger_transactions, t.ledger_entries, t.events)


def raw_insert(engine: Engine, batches: list[Batch], threads: int) -> float:
    """Write `batches` (one commit each) from `threads` threads; returns the wall seconds."""
    # SQLite takes one writer at a time: queue in-process, as Accrue's writers do.
    gate = threading.Lock() if engine.dialect.name == "sqlite" else None
    queue = iter(batches)
    take = threading.Lock()

    def write() -> None:
        while True:
            with take:
                batch = next(queue, None)
            if batch is None:
                return
            with gate or _nothing(), engine.connect() as plain:
                conn = plain.execution_options(sqlite_begin="IMMEDIATE")
                with conn.begin():
                    for table, rows in zip(RAW_TABLES, batch, strict=True):
                        conn.execute(insert(table), rows)

    pool = [threading.Thread(target=write) for _ in range(threads)]
    began = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return time.perf_counter() - began


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def raw_run(app: Application, tenant_id: str, count: int, threads: int) -> Raw:
    batches, rows = raw_batches(app.engine, tenant_id, count)
    settle(app.engine, tuple(table.name for table in RAW_TABLES))
    cpu = time.process_time()
    seconds = raw_insert(app.engine, batches, threads)
    return Raw(count, rows, seconds, time.process_time() - cpu)


# --- main ---------------------------------------------------------------------------------


@dataclass
class Scaling:
    """The same number of renewals billed by one worker, then by two (fresh tenants each)."""

    count: int
    one: Workers
    two: Workers
    ok: bool

    @property
    def speedup(self) -> float:
        return self.one.seconds / self.two.seconds if self.two.seconds else 0.0


def scaling(app: Application, url: str, workdir: Path, args: argparse.Namespace) -> Scaling:
    """1 worker, then 2, each over its own `--scaling-count` freshly seeded subscriptions."""
    rounds: list[Workers] = []
    ok = True
    for workers in (1, 2):
        seeded = seed(app, args.scaling_count, args.tenants)
        before = totals(app.engine, seeded.tenant_ids)
        with analyzing(app.engine, not args.no_analyze):
            done = run_workers(url, workers, args.batch_size, workdir, args.timeout, None)
        checks, _ = check(app, seeded, before, done)
        failed = [c for c in checks if not c.ok]
        ok = ok and not failed and not done.errors
        print(
            f"  scaling: {workers} worker(s), {args.scaling_count:,} renewals:"
            f" {done.seconds:.1f} s, {args.scaling_count / done.seconds:,.0f} renewals/s;"
            f" cores busy: workers {done.cpu / done.seconds:.2f},"
            f" machine {done.machine / done.seconds:.2f};"
            f" checks {'OK' if not failed else 'FAILED: ' + '; '.join(c.detail for c in failed)}",
            flush=True,
        )
        rounds.append(done)
    result = Scaling(args.scaling_count, rounds[0], rounds[1], ok)
    print(f"  scaling: 2 workers / 1 worker = {result.speedup:.2f}x", flush=True)
    return result


@dataclass
class Result:
    database: str
    seeded: Seeded
    workers: Workers
    raw: Raw | None
    checks: list[Check]
    scaling: Scaling | None = None

    @property
    def rate(self) -> float:
        return self.seeded.count / self.workers.seconds if self.workers.seconds else 0.0

    @property
    def ok(self) -> bool:
        scaled = self.scaling is None or self.scaling.ok
        return scaled and not self.workers.errors and all(c.ok for c in self.checks)


def bench(database: str, url: str, workdir: Path, args: argparse.Namespace) -> Result:
    print(f"\n{database}:", flush=True)
    app = build_application(Settings(database_url=url, db_pool_size=max(4, args.workers)))
    try:
        scaled = scaling(app, url, workdir, args) if args.scaling_count else None
        seeded = seed(app, args.count, args.tenants)
        print(
            f"  seeded {seeded.count:,} due subscriptions (+ customers) in {len(seeded.tenant_ids)}"
            f" tenant(s) in {seeded.seconds:.1f} s"
            f" ({seeded.count / seeded.seconds:,.0f}/s, ANALYZE included)",
            flush=True,
        )
        before = totals(app.engine, seeded.tenant_ids)
        profile = workdir / "worker0.prof" if args.profile else None
        with analyzing(app.engine, not args.no_analyze) as analyzed:
            workers = run_workers(
                url, args.workers, args.batch_size, workdir, args.timeout, profile
            )
        print(
            f"  {args.workers} x `accrue worker --once --batch-size {args.batch_size}`:"
            f" {workers.seconds:.1f} s wall ({workers.startup:.1f} s until the last was READY),"
            f" {workers.steps:,} steps, {seeded.count / workers.seconds:,.0f} renewals/s;"
            f" cores busy: workers {workers.cpu / workers.seconds:.2f},"
            f" machine {workers.machine / workers.seconds:.2f};"
            f" batch fallbacks {workers.fallbacks}",
            flush=True,
        )
        for line in analyzed:
            print(f"  {line}", flush=True)
        for error in workers.errors:
            print(f"  ERROR {error}", flush=True)
        checks, seconds = check(app, seeded, before, workers)
        for c in checks:
            print(f"  check {c.what:<12} {'OK' if c.ok else 'FAILED'}: {c.detail}", flush=True)
        print(f"  checks took {seconds:.1f} s", flush=True)
        raw = None
        if checks[0].ok:
            raw = raw_run(app, seeded.tenant_ids[0], seeded.count, args.workers)
            print(
                f"  raw: {raw.renewals:,} renewals' rows ({raw.rows:,} rows,"
                f" {raw.rows / raw.renewals:.1f} per renewal) in {RAW_BATCH}-renewal commits"
                f" from {args.workers} thread(s): {raw.seconds:.1f} s,"
                f" {raw.rows_per_second:,.0f} rows/s = {raw.renewals_per_second:,.0f} renewals/s;"
                f" this process {raw.cpu / raw.seconds:.2f} cores",
                flush=True,
            )
        if profile is not None and profile.exists():
            print("  worker 0 profile, top functions by own time:", flush=True)
            stats = pstats.Stats(str(profile), stream=sys.stdout)
            stats.sort_stats("tottime").print_stats(15)
    finally:
        app.close()
    return Result(database, seeded, workers, raw, checks, scaled)


def report(result: Result) -> None:
    raw = result.raw
    ratio = result.rate / raw.renewals_per_second if raw and raw.renewals_per_second else 0.0
    print(
        "\nratio = renewals/s through the workers / renewals' worth of rows/s as raw INSERTs"
        "\n        (same database and run)"
    )
    print(
        f"{'database':<11} {'subscriptions':>13} {'workers':>7} {'wall s':>8} {'renewals/s':>10}"
        f" {'raw rows/s':>10} {'raw ren/s':>9} {'ratio':>6}"
    )
    print(
        f"{result.database:<11} {result.seeded.count:13,} {result.workers.count:7d}"
        f" {result.workers.seconds:8.1f} {result.rate:10,.0f}"
        f" {raw.rows_per_second if raw else 0:10,.0f} {raw.renewals_per_second if raw else 0:9,.0f}"
        f" {ratio:6.1%}"
    )
    if result.scaling is not None:
        scaled = result.scaling
        print(
            f"scaling on one tenant ({scaled.count:,} renewals):"
            f" 1 worker {scaled.one.seconds:.1f} s,"
            f" 2 workers {scaled.two.seconds:.1f} s -> {scaled.speedup:.2f}x"
            f" ({'two beat one' if scaled.speedup > 1 else 'two do NOT beat one'})"
        )
    verdict = "MET" if ratio >= GOAL_RATIO else "NOT MET"
    print(f"ratio goal >= {GOAL_RATIO:.0%} of raw: {ratio:.1%} -> {verdict}")
    goal = f"goal (PostgreSQL) {GOAL_COUNT:,} renewals in <= {GOAL_SECONDS:.0f} s:"
    if result.database != "PostgreSQL":
        print(f"{goal} not measured ({result.database})")
    elif result.seeded.count < GOAL_COUNT:
        projected = GOAL_COUNT / result.rate if result.rate else float("inf")
        print(
            f"{goal} not measured at {result.seeded.count:,}"
            f" (at this rate {projected:,.0f} s -> would be"
            f" {'MET' if projected <= GOAL_SECONDS else 'NOT MET'})"
        )
    else:
        met = result.workers.seconds <= GOAL_SECONDS and result.ok
        print(f"{goal} {result.workers.seconds:,.1f} s -> {'MET' if met else 'NOT MET'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, help="subscriptions due (default 200000; quick 2000)")
    parser.add_argument(
        "--database",
        choices=("postgresql", "sqlite"),
        help="where to run (default postgresql; quick sqlite)",
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 2, help="worker processes (cores)"
    )
    parser.add_argument("--batch-size", type=int, default=100, help="the workers' --batch-size")
    parser.add_argument("--tenants", type=int, default=1, help="tenants the subscriptions span")
    parser.add_argument(
        "--scaling-count",
        type=int,
        default=None,
        help="first bill this many fresh renewals with 1 worker, then as many with 2, and"
        " report the speed-up (default min(count, 20000); 0 to skip; quick 0)",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds before workers die")
    parser.add_argument(
        "--no-analyze", action="store_true", help="no ANALYZE while the workers run (PostgreSQL)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run worker 0 under cProfile and print its top functions (use with --workers 1"
        " on SQLite, where the other workers hold the database lock)",
    )
    parser.add_argument("--quick", action="store_true", help="CI smoke: SQLite, 2000, < 20 s")
    args = parser.parse_args()
    args.count = max(1, args.count or (2000 if args.quick else GOAL_COUNT))
    args.database = args.database or ("sqlite" if args.quick else "postgresql")
    args.workers = max(1, args.workers)
    args.tenants = max(1, min(args.tenants, args.count))
    if args.scaling_count is None:
        args.scaling_count = 0 if args.quick else min(args.count, 20_000)
    began = time.monotonic()
    print(
        f"setup: {os.cpu_count()} CPU cores shared by everything (load average"
        f" {os.getloadavg()[0]:.2f})\n"
        f"  {args.count:,} ACTIVE monthly subscriptions, each with its own customer and one"
        f" renewal due now, over {args.tenants} tenant(s), bulk-inserted; then"
        f" {args.workers} `accrue worker --once` processes bill them\n"
        "  raw: the same number of renewals' rows (invoice, lines, ledger transaction, entries,"
        " events) cloned from real ones, plain Core executemany",
        flush=True,
    )
    result: Result | None = None
    with tempfile.TemporaryDirectory(prefix="accrue_bench_") as tmp:
        if args.database == "sqlite":
            result = bench("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", Path(tmp), args)
        else:
            admin = os.environ.get("ACCRUE_BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL)
            with postgres_database(admin) as pg_url:
                if pg_url:
                    result = bench("PostgreSQL", pg_url, Path(tmp), args)
    if result is None:
        print(f"nothing measured; took {time.monotonic() - began:.0f} s")
        return 0
    report(result)
    failed = len(result.workers.errors) + sum(not c.ok for c in result.checks)
    print(f"errors: {failed}; took {time.monotonic() - began:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
