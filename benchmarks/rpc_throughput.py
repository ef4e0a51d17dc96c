"""gRPC throughput of `accrue serve` (SQLite, PostgreSQL) against a bare grpcio echo server.

Each server and each load generator is its own child process; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import grpc
from harness import (
    ECHO_METHOD,
    ECHO_PAYLOAD,
    CpuWatch,
    accrue_servers,
    context_switches,
    create_tenant,
    echo_process,
    postgres_database,
)

from accrue.billing.v1 import customer_pb2, customer_pb2_grpc

SPAWN = mp.get_context("spawn")  # a fresh interpreter: no inherited gRPC state or GIL
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
LEDGER = (  # the posting and event sequencing, counted apart
    "ledger_heads",
    "ledger_transactions",
    "ledger_entries",
    "ledger_accounts",
    "event_heads",
)


@dataclass(frozen=True)
class Load:  # what one client process does; picklable for the spawn start method
    target: str
    kind: str  # "echo" | "get" | "create"
    api_key: str
    customer_id: str
    requests: int
    warmup: int
    threads: int


@dataclass(frozen=True)
class Result:
    phase: str
    database: str
    requests: int
    seconds: float  # first measured call started .. last one finished, across client processes
    latencies: list[float]  # sorted, seconds
    errors: int
    first_error: str
    client_cpu: float  # CPU seconds of the client processes during the measured part
    server_cpu: float
    machine: float  # cores busy on average over the whole machine, from /proc/stat
    switches: int  # the server processes' threads' context switches in the measured part

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def ms(self, quantile: float) -> float:
        n = len(self.latencies)
        return self.latencies[min(n - 1, int(quantile * n))] * 1000


def _caller(load: Load) -> Callable[[], object]:
    """A zero-argument function making one RPC on its own channel (own TCP connection)."""
    channel = grpc.insecure_channel(load.target, options=[("grpc.use_local_subchannel_pool", 1)])
    metadata = (("authorization", f"Bearer {load.api_key}"),)
    if load.kind == "echo":
        echo = channel.unary_unary(ECHO_METHOD)
        return lambda: echo(ECHO_PAYLOAD, metadata=metadata, timeout=30)
    stub = customer_pb2_grpc.CustomerServiceStub(channel)
    if load.kind == "get":
        get = customer_pb2.GetCustomerRequest(id=load.customer_id)
        return lambda: stub.GetCustomer(get, metadata=metadata, timeout=30)

    def create() -> object:  # a fresh request_id per call, as a well-behaved client sends
        customer = customer_pb2.Customer(display_name="Bench Ltd", currency_code="USD")
        request_id = str(uuid.uuid4())
        request = customer_pb2.CreateCustomerRequest(customer=customer, request_id=request_id)
        return stub.CreateCustomer(request, metadata=metadata, timeout=30)

    return create


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (i < total % parts) for i in range(parts)]


def _describe(exc: Exception) -> str:
    if isinstance(exc, grpc.RpcError):
        return f"{exc.code().name}: {exc.details()}"  # type: ignore[attr-defined]
    return repr(exc)[:300]


def _client_process(load: Load, barrier: object, out: mp.Queue) -> None:  # type: ignore[type-arg]
    callers = [_caller(load) for _ in range(load.threads)]
    results: list[tuple[list[float], int, str]] = []

    def run(call: Callable[[], object], count: int) -> None:
        latencies, errors, first = [], 0, ""
        for _ in range(count):
            started = time.perf_counter()
            try:
                call()
            except Exception as exc:  # any failure counts; the first one is reported
                errors, first = errors + 1, first or _describe(exc)
            latencies.append(time.perf_counter() - started)
        results.append((latencies, errors, first))

    def burst(count: int) -> None:
        shares = zip(callers, _split(count, load.threads), strict=True)
        workers = [threading.Thread(target=run, args=pair) for pair in shares]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    burst(load.warmup)
    for latencies, _errors, _first in results:
        latencies.clear()  # warm-up latencies are dropped; its errors still count
    barrier.wait()  # type: ignore[attr-defined]
    cpu, started = time.process_time(), time.monotonic()  # monotonic is system-wide on Linux
    burst(load.requests)
    ended, cpu = time.monotonic(), time.process_time() - cpu
    latencies, errors = [x for r in results for x in r[0]], sum(r[1] for r in results)
    out.put((started, ended, latencies, errors, next((r[2] for r in results if r[2]), ""), cpu))


def drive(phase: str, database: str, server_pids: list[int], load: Load, procs: int) -> Result:
    """Warm up, then run `load.requests` RPCs from `procs` client processes; print and return."""
    barrier, out = SPAWN.Barrier(procs + 1), SPAWN.Queue()
    splits = [_split(n, procs) for n in (load.requests, load.warmup, load.threads)]
    shares = zip(*splits, strict=True)
    loads = [replace(load, requests=n, warmup=w, threads=t) for n, w, t in shares]
    children = [SPAWN.Process(target=_client_process, args=(x, barrier, out)) for x in loads]
    for child in children:
        child.start()
    barrier.wait(timeout=300)  # every client process has warmed up
    watch = CpuWatch({"server": lambda: server_pids})
    watch.start()
    switches = sum(map(context_switches, server_pids))
    reports = [out.get(timeout=900) for _ in children]
    cpu = watch.stop()
    switches = sum(map(context_switches, server_pids)) - switches
    for child in children:
        child.join()
    r = Result(
        phase,
        database,
        load.requests,
        seconds=max(x[1] for x in reports) - min(x[0] for x in reports),
        latencies=sorted(t for x in reports for t in x[2]),
        errors=sum(x[3] for x in reports),
        first_error=next((x[4] for x in reports if x[4]), ""),
        client_cpu=sum(x[5] for x in reports),
        server_cpu=cpu["server"],
        machine=cpu["machine busy"],
        switches=switches,
    )
    print(
        f"  {phase:<15} {database:<10} {r.rps:6.0f} rpc/s  p50 {r.ms(0.5):6.1f} ms"
        f"  p99 {r.ms(0.99):7.1f} ms  errors {r.errors}  (CPU cores busy: clients"
        f" {r.client_cpu / r.seconds:.2f}, server {r.server_cpu / r.seconds:.2f},"
        f" machine {r.machine:.2f})",
        flush=True,
    )
    if r.first_error:
        print(f"    first error: {r.first_error}", flush=True)
    return r


def bench_echo(phase: str, args: argparse.Namespace) -> Result:
    with echo_process(SPAWN) as (pid, target):
        load = Load(target, "echo", "acc_unused", "", args.requests, args.warmup, args.concurrency)
        return drive(phase, "-", [pid], load, args.client_procs)


def bench_accrue(
    database: str, url: str, workdir: Path, args: argparse.Namespace, *, processes: int = 1
) -> list[Result]:
    results = []
    key = create_tenant(url, name=f"bench-{processes}")
    with accrue_servers(url, workdir, processes=processes) as (pids, target):
        load = Load(target, "create", key, "", args.requests, args.warmup, args.concurrency)
        first = _caller(load)()  # the customer that GetCustomer reads
        label = database if processes == 1 else f"{database} x{processes}"
        for phase, kind in (("GetCustomer", "get"), ("CreateCustomer", "create")):
            load = replace(load, kind=kind, customer_id=first.id)  # type: ignore[attr-defined]
            results.append(drive(phase, label, pids, load, args.client_procs))
    if args.asyncio_bound and processes == 1:  # same tenant and customer, same database
        results += bench_asyncio_bound(database, url, args, first.id, key)  # type: ignore[attr-defined]
    return results


def bench_asyncio_bound(
    database: str, url: str, args: argparse.Namespace, customer_id: str, api_key: str
) -> list[Result]:
    """GetCustomer and CreateCustomer against asyncio_bound.serve: what an asyncio server
    running each call inline could at best give (see asyncio_bound.py)."""
    from asyncio_bound import asyncio_bound_process

    results = []
    with asyncio_bound_process(SPAWN, url) as (pid, target):
        load = Load(
            target, "get", api_key, customer_id, args.requests, args.warmup, args.concurrency
        )
        for phase, kind in (("GetCustomer", "get"), ("CreateCustomer", "create")):
            load = replace(load, kind=kind)
            results.append(drive(phase, f"{database} aio", [pid], load, args.client_procs))
    return results


def statement_counts(database: str, url: str) -> list[str]:
    """Statements and round trips per call of each hot path, counted in-process."""
    from statements import count_hot_paths

    return [
        f"{path:<15} {database:<10} {counted.statements:4d} {counted.touching(*LEDGER):7d}"
        f" {counted.round_trips:12d}"
        for path, counted in count_hot_paths(url).items()
    ]


def _observation_cost(calls: int = 200_000) -> float:
    """Microseconds one call's observation (begin + end, exemplar included) adds in-process."""
    from prometheus_client import CollectorRegistry

    from accrue.metrics.rpc import RpcMetrics

    rpc = RpcMetrics(CollectorRegistry())
    method, trace_id = (
        "accrue.billing.v1.CustomerService/GetCustomer",
        "0af7651916cd43dd8448eb211c80319c",
    )
    rpc.prepare([method], ["grpc"])
    started = time.perf_counter()
    for _ in range(calls):
        rpc.begin(method, "grpc").end("OK", trace_id, 0.0012)
    return (time.perf_counter() - started) / calls * 1e6


def _scrape_cost() -> float:
    """Milliseconds one scrape of a fresh server's registry takes (in-process)."""
    from prometheus_client.openmetrics.exposition import generate_latest

    from accrue.bootstrap import build_application
    from accrue.config import Settings

    with tempfile.TemporaryDirectory(prefix="accrue_bench_") as tmp:
        app = build_application(Settings(database_url=f"sqlite:///{Path(tmp) / 'cost.db'}"))
        try:
            slot = app.metrics.rpc.begin("accrue.billing.v1.CustomerService/GetCustomer", "grpc")
            slot.end("OK", "0af7651916cd43dd8448eb211c80319c", 0.002)
            generate_latest(app.metrics.registry)
            started = time.perf_counter()
            for _ in range(20):
                generate_latest(app.metrics.registry)
            return (time.perf_counter() - started) / 20 * 1000
        finally:
            app.close()


def _scrape_every_second(port: int, stop: threading.Event) -> None:
    """What Prometheus does while the server works (OpenMetrics, with exemplars)."""
    import urllib.request

    accept = {"Accept": "application/openmetrics-text; version=1.0.0"}
    while not stop.wait(1.0):
        request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers=accept)
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


def bench_metrics_cost(args: argparse.Namespace) -> int:
    """GetCustomer (the cheapest Accrue RPC, so the observation's largest share) on SQLite
    with metrics off and on, alternated (off, on, on, off) so drift hits both; scraped
    every second while on. Goal: metrics cost at most 5 % of throughput."""
    print(f"metrics on vs off: GetCustomer, SQLite, {args.requests} measured RPCs per run")
    print(f"  observation in the hot path: {_observation_cost():.2f} us per call (in-process)")
    print(f"  one scrape (OpenMetrics, after GetCustomer calls): {_scrape_cost():.1f} ms")
    runs: dict[str, list[Result]] = {"off": [], "on": []}
    saved = {k: os.environ.get(k) for k in ("ACCRUE_METRICS_ENABLED", "ACCRUE_METRICS_PORT")}
    with tempfile.TemporaryDirectory(prefix="accrue_bench_") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        key = create_tenant(url)
        try:
            # ABBA order, so a linear drift of the shared machine hits both alike.
            for mode in ("off", "on", "on", "off") * (1 if args.quick else 2):
                port = _free_port()
                os.environ["ACCRUE_METRICS_ENABLED"] = "true" if mode == "on" else "false"
                os.environ["ACCRUE_METRICS_PORT"] = str(port)
                stop = threading.Event()
                with accrue_servers(url, Path(tmp), processes=1) as (pids, target):
                    load = Load(target, "create", key, "", 1, 1, 1)
                    first = _caller(load)()
                    load = Load(
                        target,
                        "get",
                        key,
                        first.id,
                        args.requests,
                        args.warmup,
                        args.concurrency,  # type: ignore[attr-defined]
                    )
                    scraper = threading.Thread(target=_scrape_every_second, args=(port, stop))
                    if mode == "on":
                        scraper.start()
                    try:
                        runs[mode].append(
                            drive(f"metrics {mode}", "SQLite", pids, load, args.client_procs)
                        )
                    finally:
                        stop.set()
                        if scraper.is_alive():
                            scraper.join(5)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    off = sum(r.rps for r in runs["off"]) / len(runs["off"])
    on = sum(r.rps for r in runs["on"]) / len(runs["on"])
    cpu_off = sum(r.server_cpu / r.requests for r in runs["off"]) / len(runs["off"]) * 1e6
    cpu_on = sum(r.server_cpu / r.requests for r in runs["on"]) / len(runs["on"]) * 1e6
    cost = 1 - on / off
    print(
        f"metrics off {off:.0f} rpc/s, on {on:.0f} rpc/s; server CPU per call"
        f" off {cpu_off:.0f} us, on {cpu_on:.0f} us"
    )
    verdict = "MET" if cost <= 0.05 else "NOT MET"
    print(f"goal: metrics cost <= 5% of throughput: {cost:.1%} -> {verdict}")
    errors = sum(r.errors for rs in runs.values() for r in rs)
    print(f"RPC errors: {errors}")
    return 1 if errors else 0


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="measured RPCs per phase")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent callers")
    parser.add_argument("--client-procs", type=int, default=1, help="processes for the callers")
    parser.add_argument("--warmup", type=int, help="warm-up RPCs per phase (default requests/10)")
    parser.add_argument("--quick", action="store_true", help="CI smoke size: 300 requests")
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="also run `accrue serve --processes N` (1 = not)",
    )
    parser.add_argument(
        "--metrics-cost", action="store_true", help="only: GetCustomer with metrics off vs on"
    )
    parser.add_argument(
        "--asyncio-bound",
        action="store_true",
        help="also: the same calls on grpc.aio, each run inline (benchmarks/asyncio_bound.py)",
    )
    args = parser.parse_args()
    args.requests = 300 if args.quick else args.requests
    if args.warmup is None:
        args.warmup = max(args.concurrency * 4, args.requests // 10)
    args.client_procs = max(1, min(args.client_procs, args.concurrency))
    if args.metrics_cost:
        return bench_metrics_cost(args)
    began = time.monotonic()
    print(
        f"setup: {os.cpu_count()} CPU cores shared by clients and servers (load average"
        f" {os.getloadavg()[0]:.2f}); each server in its own process; {args.concurrency} callers"
        f" (threads, sync stubs, a channel each) in {args.client_procs} client process(es);"
        f" {args.requests} measured RPCs per phase after {args.warmup} warm-up",
        flush=True,
    )
    results = [bench_echo("Echo", args)]
    several = [1, args.processes] if args.processes > 1 else [1]
    with tempfile.TemporaryDirectory(prefix="accrue_bench_") as tmp:
        sqlite_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        for n in several:
            results += bench_accrue("SQLite", sqlite_url, Path(tmp), args, processes=n)
        admin = os.environ.get("ACCRUE_BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL)
        with postgres_database(admin) as url:
            for n in several if url else []:
                results += bench_accrue("PostgreSQL", url, Path(tmp), args, processes=n)
            counts = statement_counts("SQLite", sqlite_url)
            counts += statement_counts("PostgreSQL", url) if url else []
    results.append(bench_echo("Echo (again)", args))  # the machine is shared: watch for drift
    echo = sum(r.rps for r in results if r.phase.startswith("Echo")) / 2
    print(f"\nratios are to the mean of the two echo runs, {echo:.0f} rpc/s")
    print(
        f"{'phase':<15} {'database':<15} {'rpc/s':>7} {'p50 ms':>7} {'p99 ms':>8}"
        f" {'vs echo':>8} {'errors':>7} {'server CPU us/call':>19} {'switches/call':>14}"
    )
    for r in results:
        print(
            f"{r.phase:<15} {r.database:<15} {r.rps:7.0f} {r.ms(0.5):7.1f} {r.ms(0.99):8.1f}"
            f" {r.rps / echo:8.0%} {r.errors:7d} {r.server_cpu / r.requests * 1e6:19.0f}"
            f" {r.switches / r.requests:14.1f}"
        )
    for r in results:
        if " x" in r.database:
            single = next(
                x.rps for x in results if (x.phase, x.database) == (r.phase, r.database.split()[0])
            )
            print(f"{r.phase} {r.database} against 1 process: {r.rps / single:.2f}x")
        if r.database.endswith(" aio"):
            threaded = next(
                x for x in results if (x.phase, x.database) == (r.phase, r.database.split()[0])
            )
            print(
                f"{r.phase} {r.database} against the threaded server: {r.rps / threaded.rps:.2f}x"
                f" rpc/s, {r.server_cpu / threaded.server_cpu:.2f}x server CPU per call"
            )
    for phase, goal in (("GetCustomer", 0.60), ("CreateCustomer", 0.35)):
        got = next(r.rps for r in results if (r.phase, r.database) == (phase, "SQLite")) / echo
        print(
            f"goal: {phase} >= {goal:.0%} of echo (SQLite): {got:.0%} ->"
            f" {'MET' if got >= goal else 'NOT MET'}"
        )
    print("\nstatements per call (in-process through the Invoker, the server's code path):")
    print(f"{'path':<15} {'database':<10} {'SQL':>4} {'ledger':>7} {'round trips':>12}")
    print("\n".join(counts))
    print("(SQL: statements without BEGIN/COMMIT; ledger: of them, the posting and event head;")
    print(" round trips: everything sent, transaction control included)")
    errors = sum(r.errors for r in results)
    print(f"RPC errors: {errors}; took {time.monotonic() - began:.0f} s")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
