"""Ledger posting throughput (SQLite, PostgreSQL) against raw INSERTs of the same rows.

Three figures per database, each next to the raw rate of the same ledger rows written with
plain SQLAlchemy Core in the same batching; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing as mp
import os
import secrets
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
from harness import accrue_servers, postgres_database
from sqlalchemy import Engine, event, func, insert, select

from accrue import schema as t
from accrue.billing.v1 import ledger_pb2, ledger_pb2_grpc
from accrue.billing.v1.money_pb2 import Money
from accrue.bootstrap import Application, build_application
from accrue.config import Settings
from accrue.kernel.errors import ConcurrentModification
from accrue.ledger.model import AccountRef, Direction, Entry, PostingRequest
from accrue.platform.db.engine import build_engine

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
BATCH = 500  # transactions per unit of work in (b)
WARMUP_PER_THREAD = 2  # single postings each caller makes before the clock starts
MAX_RETRIES = 20  # per call, for ABORTED / ConcurrentModification (counted, not errors)
RECEIVABLE = AccountRef("accounts_receivable", "USD")
REVENUE = AccountRef("revenue", "USD")
BANK = AccountRef("bank", "USD")
GOALS = (  # PostgreSQL; informational, never fail the run
    ("b", 20_000, "entries/s batched (post_many, 500 per unit of work)"),
    ("a", 600, "single postings/s through the RPC (CreateAdjustment)"),
    ("c", 300, "postings/s on one hot pair of accounts"),
)


Settle = Callable[[], None]  # called between a phase's warm-up and its timed part


def analyzer(engine: Engine) -> Settle:
    """ANALYZE the tables: fresh tables have no planner statistics (see benchmarks/README.md)."""

    def settle() -> None:
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()

    return settle


class Statements:
    """Statements an engine sends (an executemany counts once: it is one call)."""

    def __init__(self, engine: Engine) -> None:
        self.calls = 0
        self._lock = threading.Lock()
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: object) -> None:
        with self._lock:
            self.calls += 1


# --- measuring ----------------------------------------------------------------------------


def _machine_busy_jiffies() -> int:
    cpu = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(cpu) - cpu[3] - cpu[4]  # everything but idle and iowait


def _process_jiffies(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


@dataclass
class Run:
    """One timed burst: `count` operations from first start to last end."""

    count: int
    seconds: float
    latencies: list[float] = field(default_factory=list)  # sorted, seconds; single postings
    errors: int = 0
    retries: int = 0
    first_error: str = ""
    cores: dict[str, float] = field(default_factory=dict)  # CPU seconds per wall second
    note: str = ""

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def ms(self, quantile: float) -> float:
        n = len(self.latencies)
        return self.latencies[min(n - 1, int(quantile * n))] * 1000 if n else 0.0

    def describe(self) -> str:
        parts = []
        if self.latencies:
            parts.append(f"p50 {self.ms(0.5):.1f} ms, p99 {self.ms(0.99):.1f} ms")
        if self.note:
            parts.append(self.note)
        parts.append(f"errors {self.errors}, retries {self.retries}")
        parts.append("cores busy: " + ", ".join(f"{k} {v:.2f}" for k, v in self.cores.items()))
        return "; ".join(parts)


class CpuMeter:
    """CPU cores busy during a phase: the whole machine, this process, and watched children
    (each name a group of processes, summed)."""

    def __init__(self, children: dict[str, list[int]] | None = None) -> None:
        self._children = children or {}
        self._tick = os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> CpuMeter:
        self._start = (
            time.monotonic(),
            _machine_busy_jiffies(),
            time.process_time(),
            {k: sum(map(_process_jiffies, pids)) for k, pids in self._children.items()},
        )
        return self

    def __exit__(self, *_exc: object) -> None:
        wall, machine, own, children = self._start
        wall = max(time.monotonic() - wall, 1e-9)
        self.cores = {
            "machine": (_machine_busy_jiffies() - machine) / self._tick / wall,
            "this process": (time.process_time() - own) / wall,
        }
        for name, pids in self._children.items():
            used = sum(map(_process_jiffies, pids)) - children[name]
            self.cores[name] = used / self._tick / wall


def hammer(
    count: int, workers: list[Callable[[int], None]]
) -> tuple[float, list[float], int, int, str]:
    """Run operations 0..count-1 on one thread per worker, all starting together.

    A worker returns normally, raises `Retry` (counted, the same index is tried again, up to
    MAX_RETRIES) or raises anything else (an error). Returns (seconds, sorted latencies,
    errors, retries, first error).
    """
    threads = len(workers)
    start = threading.Barrier(threads + 1)
    results: list[tuple[list[float], int, int, str]] = []

    def run(worker: Callable[[int], None], indices: range) -> None:
        latencies: list[float] = []
        errors = retries = 0
        first = ""
        start.wait()
        for index in indices:
            began = time.perf_counter()
            for attempt in range(MAX_RETRIES + 1):
                try:
                    worker(index)
                    break
                except Retry as exc:
                    retries += 1
                    if attempt == MAX_RETRIES:
                        errors, first = errors + 1, first or f"gave up after retries: {exc}"
                    else:
                        time.sleep(0.005 * (attempt + 1))
                except Exception as exc:  # every failure counts; the first is reported
                    errors, first = errors + 1, first or _describe(exc)
                    break
            latencies.append(time.perf_counter() - began)
        results.append((latencies, errors, retries, first))

    pool = [
        threading.Thread(target=run, args=(w, range(i, count, threads)), daemon=True)
        for i, w in enumerate(workers)
    ]
    for thread in pool:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in pool:
        thread.join()
    seconds = time.perf_counter() - began
    return (
        seconds,
        sorted(x for r in results for x in r[0]),
        sum(r[1] for r in results),
        sum(r[2] for r in results),
        next((r[3] for r in results if r[3]), ""),
    )


class Retry(Exception):
    """A transient conflict; the operation is retried."""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, grpc.RpcError):
        return f"{exc.code().name}: {exc.details()}"  # type: ignore[attr-defined]
    return " ".join(repr(exc).split())[:300]


def timed(
    count: int, workers: list[Callable[[int], None]], children: dict[str, list[int]] | None = None
) -> Run:
    with CpuMeter(children) as meter:
        seconds, latencies, errors, retries, first = hammer(count, workers)
    return Run(count, seconds, latencies, errors, retries, first, meter.cores)


# --- raw INSERTs of the same rows ---------------------------------------------------------


class RawWriter:
    """Plain Core executemany of ledger_transactions + ledger_entries rows, nothing else.

    The rows go into the real tables (same indexes, constraints and table size) under a
    tenant of their own, so Accrue's tenants stay verifiable. Rows are built before the clock
    starts: this is the database's (and driver's) rate for those rows, the ceiling for Accrue.
    """

    def __init__(self, url: str, tenant_id: str, pool_size: int) -> None:
        self.engine: Engine = build_engine(url, pool_size=pool_size)
        self._tenant_id = tenant_id
        self._sequence = itertools.count(1)
        # SQLite takes one writer at a time: queue them in-process, as Accrue does, rather
        # than letting them poll SQLite's busy handler.
        self._gate: AbstractContextManager[Any] = (
            threading.Lock() if self.engine.dialect.name == "sqlite" else nullcontext()
        )

    def rows(
        self, accounts: list[tuple[str, str]], reason: str
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """One transaction row and its entry rows: (account id, direction) pairs, 2 entries."""
        sequence = next(self._sequence)
        tx_id = f"ltx_{secrets.token_hex(13).upper()}"
        now = datetime.now(UTC)
        tx = {
            "tenant_id": self._tenant_id,
            "id": tx_id,
            "sequence": sequence,
            "source_type": "bench.raw",
            "source_id": f"raw-{sequence}",
            "description": "benchmark",
            "reason": reason,
            "resource_type": "",
            "resource_id": "",
            "reverses_transaction_id": "",
            "trace_id": "",
            "post_time": now,
            "previous_hash": secrets.token_hex(32),
            "hash": secrets.token_hex(32),
        }
        amount = 100 + sequence % 9000
        entries = [
            {
                "tenant_id": self._tenant_id,
                "transaction_id": tx_id,
                "position": position,
                "account_id": account_id,
                "currency_code": "USD",
                "amount_minor": amount if direction == "debit" else -amount,
            }
            for position, (account_id, direction) in enumerate(accounts)
        ]
        return tx, entries

    def write(self, txs: list[dict[str, Any]], entries: list[dict[str, Any]]) -> None:
        with self._gate, self.engine.connect() as plain:
            conn = plain.execution_options(sqlite_begin="IMMEDIATE")  # as Accrue's writers
            with conn.begin():
                conn.execute(insert(t.ledger_transactions), txs)
                conn.execute(insert(t.ledger_entries), entries)

    def close(self) -> None:
        self.engine.dispose()


def raw_single(
    raw: RawWriter, count: int, threads: int, pair: tuple[str, str], settle: Settle
) -> Run:
    """`count` single-transaction commits (1 transaction + 2 entries) from `threads` threads."""
    accounts = [(pair[0], "debit"), (pair[1], "credit")]
    prepared = [raw.rows(accounts, "benchmark") for _ in range(count + threads * WARMUP_PER_THREAD)]
    for tx, entries in prepared[count:]:  # warm-up: connections open, statements cached
        raw.write([tx], entries)
    settle()

    def work(i: int) -> None:
        tx, entries = prepared[i]
        raw.write([tx], entries)

    return timed(count, [work] * threads)


def raw_batches(raw: RawWriter, transactions: int, customers: int, settle: Settle) -> Run:
    """`transactions` in commits of BATCH transactions, one thread; counted in entries."""
    prepared = [
        raw.rows([(_receivable(i, customers).id, "debit"), (REVENUE.id, "credit")], "")
        for i in range(transactions + BATCH)
    ]
    warm = prepared[transactions:]
    raw.write([x[0] for x in warm], [e for x in warm for e in x[1]])
    batches = [prepared[i : i + BATCH] for i in range(0, transactions, BATCH)]
    settle()
    with CpuMeter() as meter:
        began = time.perf_counter()
        for batch in batches:
            raw.write([x[0] for x in batch], [e for x in batch for e in x[1]])
        seconds = time.perf_counter() - began
    return Run(transactions * 2, seconds, cores=meter.cores)


# --- Accrue -------------------------------------------------------------------------------


def _receivable(i: int, customers: int) -> AccountRef:
    return AccountRef("accounts_receivable", "USD", f"cus_{i % customers}")


def _posting(source_type: str, i: int, debit: AccountRef, credit: AccountRef) -> PostingRequest:
    amount = 100 + i % 9000
    return PostingRequest(
        entries=(Entry(debit, Direction.DEBIT, amount), Entry(credit, Direction.CREDIT, amount)),
        source_type=source_type,
        source_id=f"{source_type}-{i}",
        description="benchmark",
    )


def accrue_batches(
    app: Application,
    tenant_id: str,
    transactions: int,
    customers: int,
    settle: Settle,
    statements: Statements,
) -> Run:
    """post_many in units of work of BATCH transactions, one thread; counted in entries."""
    requests = [
        _posting("bench.batch", i, _receivable(i, customers), REVENUE)
        for i in range(transactions + BATCH)
    ]
    post_batch(app, tenant_id, requests[transactions:])  # warm-up, on accounts the run uses
    batches = [requests[i : i + BATCH] for i in range(0, transactions, BATCH)]
    settle()
    sent = statements.calls
    with CpuMeter() as meter:
        began = time.perf_counter()
        for batch in batches:
            post_batch(app, tenant_id, batch)
        seconds = time.perf_counter() - began
    per_batch = (statements.calls - sent) / max(1, len(batches))
    note = f"{per_batch:.1f} statements + commit per unit of work"
    return Run(transactions * 2, seconds, cores=meter.cores, note=note)


def post_batch(app: Application, tenant_id: str, batch: list[PostingRequest]) -> None:
    with app.uow_factory(write=True) as uow:
        app.ledger.post_many(uow, tenant_id, batch)
        uow.commit()


def accrue_hot(
    app: Application,
    tenant_id: str,
    count: int,
    threads: int,
    settle: Settle,
    statements: Statements,
) -> Run:
    """`count` postings on the same two accounts, one unit of work each, from `threads`."""
    requests = [
        _posting("bench.hot", i, BANK, REVENUE) for i in range(count + threads * WARMUP_PER_THREAD)
    ]
    for request in requests[count:]:  # warm-up
        post_one(app, tenant_id, request)
    settle()
    sent = statements.calls

    def work(i: int) -> None:
        post_one(app, tenant_id, requests[i])

    run = timed(count, [work] * threads)
    run.note = f"{(statements.calls - sent) / count:.1f} statements + commit per posting"
    return run


# When each in-process posting committed (monotonic), by source id, for the lag figure.
COMMITTED: dict[str, float] = {}


def sequencer_process(url: str, tenant_id: str, stop: Any, out: Any) -> None:
    """A sequencer in a process of its own, as `accrue worker` runs one, and the lag
    sampler beside it: every 20 ms, which of the tenant's transactions were numbered
    since the last look, with the (system-wide) monotonic time of that look. Neither
    shares a GIL with the 16 posting threads, so the figure is the sequencer's, not
    the benchmark process's scheduling."""
    app = build_application(Settings(database_url=url, db_pool_size=4))
    app.start_background(listen=False)
    out.send("ready")
    x = t.ledger_transactions.c
    seen: list[tuple[str, float]] = []
    last = 0
    try:
        while not stop.wait(0.02):
            query = (
                select(x.sequence, x.source_id)
                .where(x.tenant_id == tenant_id, x.sequence > last)
                .order_by(x.sequence)
            )
            with app.engine.connect() as conn:
                rows = conn.execute(query).all()
            now = time.monotonic()
            seen += [(row.source_id, now) for row in rows]
            if rows:
                last = rows[-1].sequence
    finally:
        app.close()
        out.send(seen)
        out.close()


class LagSampler:
    """Commit-to-numbered lag of one tenant's postings, an upper bound at 20 ms
    resolution, measured by `sequencer_process` in a spawned child."""

    def __init__(self, url: str, tenant_id: str) -> None:
        spawn = mp.get_context("spawn")
        self._stop = spawn.Event()
        self._recv, send = spawn.Pipe(duplex=False)
        self._child = spawn.Process(
            target=sequencer_process, args=(url, tenant_id, self._stop, send), daemon=True
        )
        self._child.start()
        send.close()
        # The figure is a running sequencer's lag, not its start-up: wait for it.
        if not self._recv.poll(120) or self._recv.recv() != "ready":
            raise RuntimeError("the sequencer process did not start")
        self._tenant_id = tenant_id
        self.samples: list[float] = []

    def stop(self, engine: Engine, *, timeout: float = 60.0) -> None:
        """Stop once every posting of the tenant is numbered (the last ones' lag counts)."""
        x = t.ledger_transactions.c
        unnumbered = (
            select(func.count())
            .select_from(t.ledger_transactions)
            .where(x.tenant_id == self._tenant_id, x.sequence.is_(None))
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if conn.execute(unnumbered).scalar_one() == 0:
                    break
            time.sleep(0.05)
        time.sleep(0.05)  # one more look by the sampler
        self._stop.set()
        seen: list[tuple[str, float]] = self._recv.recv()
        self._child.join(timeout=30)
        self.samples = [at - COMMITTED[source] for source, at in seen if source in COMMITTED]

    def describe(self) -> str:
        if not self.samples:
            return "no samples (numbered at commit)"
        ordered = sorted(self.samples)
        p50 = ordered[len(ordered) // 2]
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return (
            f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms over {len(ordered)} postings"
            " (sequencer in a process of its own)"
        )


def post_one(app: Application, tenant_id: str, request: PostingRequest) -> None:
    try:
        with app.uow_factory(write=True) as uow:
            app.ledger.post(uow, tenant_id, request)
            uow.commit()
        COMMITTED[request.source_id] = time.monotonic()
    except ConcurrentModification as exc:
        raise Retry(str(exc)) from exc


def _entry_pb(account: AccountRef, direction: int, amount: int) -> ledger_pb2.LedgerEntry:
    return ledger_pb2.LedgerEntry(
        account_id=account.id,
        direction=direction,  # type: ignore[arg-type]
        amount=Money(amount_minor=amount, currency_code=account.currency_code),
    )


def rpc_adjustments(
    target: str,
    api_key: str,
    count: int,
    warmup: int,
    threads: int,
    server_pids: list[int],
    settle: Settle,
) -> Run:
    """CreateAdjustment from `threads` callers, each with its own channel; request_id per call.

    A channel each also means a connection each, so with several server processes the
    kernel spreads the callers over them (SO_REUSEPORT balances connections, not calls)."""
    metadata = (("authorization", f"Bearer {api_key}"),)
    channels: list[grpc.Channel] = []

    def make_worker() -> Callable[[int], None]:
        channel = grpc.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
        channels.append(channel)
        stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        request_ids: dict[int, str] = {}  # a retry reuses its request_id, as a client should

        def work(i: int) -> None:
            amount = 100 + i % 9000
            request = ledger_pb2.CreateAdjustmentRequest(
                entries=[
                    _entry_pb(RECEIVABLE, ledger_pb2.ENTRY_DIRECTION_DEBIT, amount),
                    _entry_pb(REVENUE, ledger_pb2.ENTRY_DIRECTION_CREDIT, amount),
                ],
                reason="benchmark",
                request_id=request_ids.setdefault(i, str(uuid.uuid4())),
            )
            try:
                stub.CreateAdjustment(request, metadata=metadata, timeout=30)
            except grpc.RpcError as exc:
                if exc.code() is grpc.StatusCode.ABORTED:  # type: ignore[attr-defined]
                    raise Retry(_describe(exc)) from exc
                raise
            request_ids.pop(i, None)

        return work

    try:
        workers = [make_worker() for _ in range(threads)]  # the warm-up connects them
        warm = timed(warmup, workers)
        settle()
        run = timed(count, workers, {"server": server_pids})
    finally:
        for channel in channels:
            channel.close()
    run.errors += warm.errors
    run.retries += warm.retries
    run.first_error = run.first_error or warm.first_error
    return run


# --- one database -------------------------------------------------------------------------


@dataclass
class Figure:
    database: str
    key: str  # "a" | "b" | "c"
    name: str
    unit: str
    accrue: Run
    raw: Run
    processes: int = 1  # (a): `accrue serve --processes N`

    @property
    def ratio(self) -> float:
        return self.accrue.rate / self.raw.rate if self.raw.rate else 0.0


@dataclass
class Check:
    database: str
    what: str
    intact: bool
    expected: int
    checked: int
    accounts: int
    events: int
    seconds: float
    detail: str

    @property
    def ok(self) -> bool:
        return self.intact and self.checked == self.expected == self.events


def _line(label: str, run: Run, unit: str) -> None:
    print(f"  {label:<44} {run.rate:9,.0f} {unit:<11} ({run.describe()})", flush=True)
    if run.first_error:
        print(f"    first error: {run.first_error}", flush=True)


def bench_database(
    database: str, url: str, workdir: Path, args: argparse.Namespace
) -> tuple[list[Figure], list[Check]]:
    print(f"\n{database}:", flush=True)
    began = time.monotonic()
    app = build_application(Settings(database_url=url, db_pool_size=max(16, args.concurrency)))
    several = [args.processes] if args.processes > 1 else []
    names = ["a", *(f"a{n}" for n in several), "b", "c", "raw"]
    tenants = {name: app.tenants.create_tenant(f"bench-{name}") for name in names}
    raw = RawWriter(url, tenants["raw"].tenant.id, pool_size=max(16, args.concurrency))
    settle = analyzer(app.engine)
    statements = Statements(app.engine)
    print(f"  migrated and 4 tenants created in {time.monotonic() - began:.1f} s", flush=True)
    figures: list[Figure] = []
    expected: dict[str, int] = {}
    try:
        # a. CreateAdjustment through `accrue serve`, one transaction per call.
        pair = (RECEIVABLE.id, REVENUE.id)
        raw_a = raw_single(raw, args.postings, args.concurrency, pair, settle)
        _line(f"a. raw: 1 tx + 2 entries per commit, {args.concurrency} thr", raw_a, "tx/s")
        warmup = max(args.concurrency * WARMUP_PER_THREAD, args.postings // 10)
        for processes in [1, *several]:  # `accrue serve --processes N` against one process
            key = "a" if processes == 1 else f"a{processes}"
            with accrue_servers(url, workdir, processes=processes) as (pids, target):
                run_a = rpc_adjustments(
                    target,
                    tenants[key].api_key,
                    args.postings,
                    warmup,
                    args.concurrency,
                    pids,
                    settle,
                )
            label = "" if processes == 1 else f" x{processes} processes"
            _line(
                f"a. Accrue: CreateAdjustment RPC{label}, {args.concurrency} callers",
                run_a,
                "postings/s",
            )
            name = "RPC CreateAdjustment" + ("" if processes == 1 else f" x{processes}")
            figures.append(Figure(database, "a", name, "postings/s", run_a, raw_a, processes))
            expected[key] = args.postings + warmup - run_a.errors

        # b. post_many, BATCH transactions per unit of work, over many accounts.
        customers = max(1, args.transactions // 2)
        raw_b = raw_batches(raw, args.transactions, customers, settle)
        _line(f"b. raw: {BATCH} tx + {2 * BATCH} entries per commit", raw_b, "entries/s")
        run_b = accrue_batches(
            app, tenants["b"].tenant.id, args.transactions, customers, settle, statements
        )
        _line(f"b. Accrue: post_many, {BATCH} per unit of work", run_b, "entries/s")
        figures.append(Figure(database, "b", "post_many x500, entries", "entries/s", run_b, raw_b))
        expected["b"] = args.transactions + BATCH

        # A sequencer in another process (as `accrue worker` runs one; its statements
        # are not counted here) numbers postings during (c); its lag is sampled there.
        lag = None
        if app.sequencer is not None and app.sequencer.numbers_after_commit:
            # (a) and (b) left a backlog (no sequencer ran here): numbering it is the
            # sequencer's catch-up rate; (c) then starts from a sequenced ledger.
            with app.engine.connect() as conn:
                backlog = conn.execute(
                    select(func.count())
                    .select_from(t.ledger_transactions)
                    .where(t.ledger_transactions.c.sequence.is_(None))
                ).scalar_one()
            began_drain = time.perf_counter()
            app.sequencer.drain(timeout=300)
            took = time.perf_counter() - began_drain
            print(
                f"  sequencer catch-up: {backlog:,} transactions of (b) numbered in"
                f" {took:.1f} s ({backlog / took:,.0f} tx/s, one sequencer)",
                flush=True,
            )
            lag = LagSampler(url, tenants["c"].tenant.id)
        # c. One hot pair of accounts, one unit of work per posting, in-process threads.
        raw_c = raw_single(raw, args.postings, args.concurrency, (BANK.id, REVENUE.id), settle)
        _line(f"c. raw: 1 tx + 2 entries per commit, {args.concurrency} thr", raw_c, "tx/s")
        run_c = accrue_hot(
            app, tenants["c"].tenant.id, args.postings, args.concurrency, settle, statements
        )
        _line(f"c. Accrue: post, hot accounts, {args.concurrency} threads", run_c, "postings/s")
        figures.append(Figure(database, "c", "hot accounts, post", "postings/s", run_c, raw_c))
        expected["c"] = args.postings + args.concurrency * WARMUP_PER_THREAD - run_c.errors
        if lag is not None:
            lag.stop(app.engine)
            print(f"  sequencing lag during c. (commit to numbered): {lag.describe()}")
        if app.sequencer is not None:
            app.sequencer.drain(timeout=300)

        verified = [("a", "a. RPC"), *((f"a{n}", f"a. RPC x{n}") for n in several)]
        verified += [("b", "b. batches"), ("c", "c. hot")]
        checks = [
            verify(app, database, tenants[key].tenant.id, what, expected[key])
            for key, what in verified
        ]
    finally:
        raw.close()
        app.close()
    print(f"  {database} took {time.monotonic() - began:.0f} s", flush=True)
    return figures, checks


def verify(app: Application, database: str, tenant_id: str, what: str, expected: int) -> Check:
    """LedgerService.verify on the tenant, plus one posted event per transaction."""
    began = time.perf_counter()
    with app.uow_factory(write=False) as uow:
        result = app.ledger.verify(uow, tenant_id)
        events = uow._conn.execute(  # a read the ports do not offer; benchmark-only
            select(func.count())
            .select_from(t.events)
            .where(t.events.c.tenant_id == tenant_id)
            .where(t.events.c.type == "ledger.transaction_posted")
        ).scalar_one()
    seconds = time.perf_counter() - began
    detail = ""
    if result.first_break is not None:
        detail = f"first break at {result.first_break.sequence}: {result.first_break.problem}"
    if result.mismatches:
        detail += f" {len(result.mismatches)} balance mismatches, first {result.mismatches[0]}"
    check = Check(
        database,
        what,
        result.intact,
        expected,
        result.transactions_checked,
        result.accounts_checked,
        events,
        seconds,
        detail.strip(),
    )
    print(
        f"  verify {what:<11} intact={check.intact} transactions {check.checked:,}"
        f" (expected {expected:,}), accounts {check.accounts:,}, posted events {events:,}"
        f" [{seconds:.1f} s]{' ' + check.detail if check.detail else ''}",
        flush=True,
    )
    return check


# --- main ---------------------------------------------------------------------------------


def report(figures: list[Figure], checks: list[Check], postgres: bool) -> None:
    print("\nratio = Accrue's rate / the raw INSERT rate of the same rows, same database and run")
    print(
        f"{'database':<11} {'figure':<26} {'Accrue':>9} {'raw':>9} {'unit':<11}"
        f" {'ratio':>6} {'errors':>6} {'retries':>7}"
    )
    for f in figures:
        unit = f.unit if f.key == "b" else "postings/s"
        print(
            f"{f.database:<11} {f.key}. {f.name:<23} {f.accrue.rate:9,.0f} {f.raw.rate:9,.0f}"
            f" {unit:<11} {f.ratio:6.1%} {f.accrue.errors + f.raw.errors:6d}"
            f" {f.accrue.retries:7d}"
        )
    for key, goal, what in GOALS:
        got = [f for f in figures if f.database == "PostgreSQL" and f.key == key]
        if not got:
            state = "skipped (PostgreSQL unreachable)" if not postgres else "not measured"
            print(f"goal (PostgreSQL) {key}. >= {goal:,} {what}: {state}")
        for f in got:  # (a) once per number of server processes
            met = "MET" if f.accrue.rate >= goal else "NOT MET"
            also = f" (x{f.processes})" if f.processes > 1 else ""
            rate = f.accrue.rate
            print(f"goal (PostgreSQL) {key}. >= {goal:,} {what}{also}: {rate:,.0f} -> {met}")
    for c in checks:
        state = "OK" if c.ok else "BROKEN"
        print(
            f"ledger {c.database:<10} {c.what:<11} {state}: verify intact={c.intact},"
            f" {c.checked:,}/{c.expected:,} transactions, {c.events:,} posted events"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--transactions", type=int, help="transactions posted in (b) (default 20000; quick 1000)"
    )
    parser.add_argument(
        "--postings", type=int, help="single postings in (a) and (c) (default 2000; quick 200)"
    )
    parser.add_argument("--concurrency", type=int, default=16, help="callers in (a) and (c)")
    parser.add_argument("--quick", action="store_true", help="CI smoke size, under 20 s")
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="(a) again against `accrue serve --processes N` (1 = not; quick: not)",
    )
    args = parser.parse_args()
    args.processes = 1 if args.quick else args.processes
    args.transactions = args.transactions or (1000 if args.quick else 20_000)
    args.postings = args.postings or (200 if args.quick else 2000)
    args.concurrency = max(1, args.concurrency)
    began = time.monotonic()
    print(
        f"setup: {os.cpu_count()} CPU cores shared by everything (load average"
        f" {os.getloadavg()[0]:.2f}); ANALYZE after each warm-up\n"
        f"  a. {args.postings} CreateAdjustment calls (request_id each) from {args.concurrency}"
        " callers (threads, a channel each) against `accrue serve` in a child process"
        f"{f', then with --processes {args.processes}' if args.processes > 1 else ''}\n"
        f"  b. {args.transactions} transactions in-process via post_many, {BATCH} per unit of"
        f" work, over {max(1, args.transactions // 2)} receivable accounts\n"
        f"  c. {args.postings} postings in-process from {args.concurrency} threads, one unit of"
        " work each, all on bank:USD / revenue:USD\n"
        "  raw: plain Core executemany of the same ledger_transactions + ledger_entries rows"
        " into a tenant of its own, same batching and threads",
        flush=True,
    )
    figures: list[Figure] = []
    checks: list[Check] = []
    postgres = False
    with tempfile.TemporaryDirectory(prefix="accrue_bench_") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        found = bench_database("SQLite", url, Path(tmp), args)
        figures += found[0]
        checks += found[1]
        admin = os.environ.get("ACCRUE_BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL)
        with postgres_database(admin) as pg_url:
            if pg_url:
                postgres = True
                found = bench_database("PostgreSQL", pg_url, Path(tmp), args)
                figures += found[0]
                checks += found[1]
    report(figures, checks, postgres)
    errors = sum(f.accrue.errors + f.raw.errors for f in figures)
    broken = sum(not c.ok for c in checks)
    print(f"errors: {errors}; broken ledgers: {broken}; took {time.monotonic() - began:.0f} s")
    return 1 if errors or broken else 0


if __name__ == "__main__":
    sys.exit(main())
