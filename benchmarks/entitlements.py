"""CheckEntitlement latency under 16 callers through `accrue serve` (SQLite, PostgreSQL),
next to GetCustomer (the cheapest RPC) under the same load.

Each server and each load generator is its own process; see benchmarks/README.md.
Goal (issue 16): CheckEntitlement p99 <= 5 ms with 16 callers, on PostgreSQL.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import grpc
from harness import (
    ECHO_METHOD,
    ECHO_PAYLOAD,
    accrue_servers,
    create_tenant,
    echo_process,
    postgres_database,
)

from accrue.billing.v1 import (
    catalog_pb2,
    catalog_pb2_grpc,
    customer_pb2,
    customer_pb2_grpc,
    entitlement_pb2,
    entitlement_pb2_grpc,
    subscription_pb2,
    subscription_pb2_grpc,
)
from accrue.billing.v1.money_pb2 import Money

SPAWN = mp.get_context("spawn")
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
FEATURES = ("sso", "seats", "audit-log")  # audit-log exists but is granted to no one


@dataclass(frozen=True)
class Load:  # picklable: what one client process does
    target: str
    api_key: str
    kind: str  # "check" | "customer" | "echo"
    customers: tuple[str, ...]
    requests: int
    warmup: int
    threads: int
    seed: int


def _call(load: Load, rng: random.Random) -> Any:
    channel = grpc.insecure_channel(load.target, options=[("grpc.use_local_subchannel_pool", 1)])
    metadata = (("authorization", f"Bearer {load.api_key}"),)
    if load.kind == "echo":
        echo = channel.unary_unary(ECHO_METHOD)
        return lambda: echo(ECHO_PAYLOAD, metadata=metadata, timeout=30)
    if load.kind == "customer":
        customers = customer_pb2_grpc.CustomerServiceStub(channel)
        return lambda: customers.GetCustomer(
            customer_pb2.GetCustomerRequest(id=rng.choice(load.customers)),
            metadata=metadata,
            timeout=30,
        )
    stub = entitlement_pb2_grpc.EntitlementServiceStub(channel)
    return lambda: stub.CheckEntitlement(
        entitlement_pb2.CheckEntitlementRequest(
            customer_id=rng.choice(load.customers),
            feature_key=rng.choice(FEATURES),
            quantity="1" if rng.random() < 0.5 else "",
        ),
        metadata=metadata,
        timeout=30,
    )


def _client(load: Load, barrier: Any, out: Any) -> None:
    rngs = [random.Random(load.seed * 100 + i) for i in range(load.threads)]
    calls = [_call(load, rng) for rng in rngs]
    shares = [
        load.requests // load.threads + (i < load.requests % load.threads)
        for i in range(load.threads)
    ]
    warm = [load.warmup // load.threads + 1 for _ in range(load.threads)]
    results: list[tuple[list[float], int, str]] = []

    def run(call: Any, count: int, keep: bool) -> None:
        latencies, errors, first = [], 0, ""
        for _ in range(count):
            started = time.perf_counter()
            try:
                call()
            except grpc.RpcError as exc:
                errors, first = errors + 1, first or f"{exc.code().name}: {exc.details()}"  # type: ignore[attr-defined]
            latencies.append(time.perf_counter() - started)
        if keep:
            results.append((latencies, errors, first))

    def burst(counts: list[int], keep: bool) -> None:
        threads = [
            threading.Thread(target=run, args=(c, n, keep))
            for c, n in zip(calls, counts, strict=True)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    burst(warm, keep=False)
    barrier.wait()
    started = time.monotonic()
    burst(shares, keep=True)
    ended = time.monotonic()
    latencies = [x for r in results for x in r[0]]
    errors = sum(r[1] for r in results)
    out.put((started, ended, latencies, errors, next((r[2] for r in results if r[2]), "")))


def drive(phase: str, database: str, load: Load, procs: int) -> dict[str, Any]:
    barrier, out = SPAWN.Barrier(procs + 1), SPAWN.Queue()
    loads = [
        replace(
            load,
            requests=load.requests // procs + (i < load.requests % procs),
            threads=load.threads // procs + (i < load.threads % procs),
            warmup=load.warmup // procs,
            seed=i,
        )
        for i in range(procs)
    ]
    children = [SPAWN.Process(target=_client, args=(x, barrier, out)) for x in loads]
    for child in children:
        child.start()
    barrier.wait(timeout=300)
    reports = [out.get(timeout=900) for _ in children]
    for child in children:
        child.join()
    seconds = max(r[1] for r in reports) - min(r[0] for r in reports)
    latencies = sorted(x for r in reports for x in r[2])
    errors = sum(r[3] for r in reports)

    def ms(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    row = {
        "phase": phase,
        "database": database,
        "rps": load.requests / seconds,
        "p50": ms(0.5),
        "p99": ms(0.99),
        "errors": errors,
    }
    print(
        f"  {phase:<21} {database:<10} {row['rps']:6.0f} rpc/s  p50 {row['p50']:6.2f} ms"
        f"  p99 {row['p99']:6.2f} ms  errors {errors}",
        flush=True,
    )
    first = next((r[4] for r in reports if r[4]), "")
    if first:
        print(f"    first error: {first}", flush=True)
    return row


def arrange(target: str, api_key: str, customers: int) -> tuple[str, ...]:
    """A Team plan (per-seat price) granting SSO and 2 seats per seat; `customers` subscribers."""
    channel = grpc.insecure_channel(target)
    md = (("authorization", f"Bearer {api_key}"),)
    catalog = catalog_pb2_grpc.CatalogServiceStub(channel)
    people = customer_pb2_grpc.CustomerServiceStub(channel)
    subs = subscription_pb2_grpc.SubscriptionServiceStub(channel)
    ents = entitlement_pb2_grpc.EntitlementServiceStub(channel)
    product = catalog.CreateProduct(
        catalog_pb2.CreateProductRequest(product=catalog_pb2.Product(display_name="Team")),
        metadata=md,
    )
    price = catalog.CreatePrice(
        catalog_pb2.CreatePriceRequest(
            price=catalog_pb2.Price(
                product_id=product.id,
                currency_code="USD",
                pricing_scheme=catalog_pb2.PRICING_SCHEME_PER_UNIT,
                unit_amount=Money(amount_minor=1000, currency_code="USD"),
                recurring=catalog_pb2.Recurring(
                    interval_unit=catalog_pb2.INTERVAL_UNIT_MONTH, interval_count=1
                ),
            )
        ),
        metadata=md,
    )
    for key, kind, value in (
        ("sso", entitlement_pb2.FEATURE_TYPE_BOOLEAN, {"enabled": True}),
        ("seats", entitlement_pb2.FEATURE_TYPE_NUMERIC, {"limit": "2"}),
        ("audit-log", entitlement_pb2.FEATURE_TYPE_BOOLEAN, None),
    ):
        feature = ents.CreateFeature(
            entitlement_pb2.CreateFeatureRequest(
                feature=entitlement_pb2.Feature(
                    key=key,
                    display_name=key,
                    type=kind,
                    per_unit=kind == entitlement_pb2.FEATURE_TYPE_NUMERIC,
                )
            ),
            metadata=md,
        )
        if value is not None:
            ents.AttachFeature(
                entitlement_pb2.AttachFeatureRequest(
                    feature_id=feature.id, product_id=product.id, **value
                ),
                metadata=md,
            )
    ids = []
    for n in range(customers):
        customer = people.CreateCustomer(
            customer_pb2.CreateCustomerRequest(
                customer=customer_pb2.Customer(display_name=f"C{n}", currency_code="USD"),
                request_id=str(uuid.uuid4()),
            ),
            metadata=md,
        )
        subs.CreateSubscription(
            subscription_pb2.CreateSubscriptionRequest(
                customer_id=customer.id,
                items=[subscription_pb2.SubscriptionItem(price_id=price.id, quantity=1 + n % 5)],
                request_id=str(uuid.uuid4()),
            ),
            metadata=md,
        )
        ids.append(customer.id)
    channel.close()
    return tuple(ids)


def in_process(
    database: str, url: str, api_key: str, customers: tuple[str, ...], calls: int
) -> None:
    """The use case alone, one thread, warm cache: what the server spends per check
    (a read unit of work and the one revalidating query) without gRPC or queueing."""
    from accrue.entitlements.resolver import EntitlementResolver
    from accrue.entitlements.service import EntitlementService
    from accrue.event_log.service import EventRecorder
    from accrue.kernel.ids import IdGenerator
    from accrue.platform.clock import SystemClock
    from accrue.platform.db.engine import build_engine
    from accrue.tenancy.model import hash_api_key
    from accrue.unit_of_work import SqlUnitOfWorkFactory

    engine = build_engine(url, sqlite_synchronous="FULL", pool_size=2)
    uows = SqlUnitOfWorkFactory(engine)
    clock = SystemClock()
    ids = IdGenerator(clock)
    service = EntitlementService(
        clock, ids, EventRecorder(clock, ids, lambda: ""), EntitlementResolver(), None
    )
    with uows(write=False) as uow:
        tenant_id = uow.tenants.tenant_for_key_hash(hash_api_key(api_key))
    assert tenant_id is not None
    rng = random.Random(7)
    pairs = [(rng.choice(customers), rng.choice(FEATURES)) for _ in range(calls)]
    timings = []
    for n, (customer_id, key) in enumerate(pairs * 2):
        started = time.perf_counter()
        with uows(write=False) as uow:
            service.check(uow, tenant_id, customer_id, key, quantity="")
        if n >= calls:  # the first pass warms the cache
            timings.append(time.perf_counter() - started)
    engine.dispose()
    timings.sort()
    p50, p99 = (timings[int(q * len(timings))] * 1e6 for q in (0.5, 0.99))
    print(
        f"  {'check in-process x1':<21} {database:<10} p50 {p50:6.0f} us  p99 {p99:6.0f} us"
        " (use case + unit of work, warm cache)",
        flush=True,
    )


def bench(database: str, url: str, workdir: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    key = create_tenant(url, name=f"bench-entitlements-{database}")
    rows = []
    with accrue_servers(url, workdir, processes=args.processes) as (_pids, target):
        customers = arrange(target, key, args.customers)
        load = Load(
            target, key, "check", customers, args.requests, args.warmup, args.concurrency, 0
        )
        phases = [
            ("CheckEntitlement", "check", args.concurrency),
            ("GetCustomer", "customer", args.concurrency),
            ("CheckEntitlement", "check", args.concurrency),
            ("CheckEntitlement", "check", 1),  # the floor: one caller, nothing queued
            ("GetCustomer", "customer", 1),
        ]
        for phase, kind, callers in phases:
            procs = min(args.client_procs, callers)
            row = drive(
                f"{phase} x{callers}", database, replace(load, kind=kind, threads=callers), procs
            )
            rows.append({**row, "callers": callers})
    in_process(database, url, key, customers, min(args.requests, 2000))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000, help="measured RPCs per phase")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent callers")
    parser.add_argument("--client-procs", type=int, default=2, help="processes for the callers")
    parser.add_argument("--customers", type=int, default=200, help="subscribed customers")
    parser.add_argument("--processes", type=int, default=1, help="accrue serve --processes")
    parser.add_argument("--warmup", type=int, help="warm-up RPCs per phase (default requests/10)")
    parser.add_argument("--quick", action="store_true", help="CI smoke: SQLite only, 300 requests")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.customers = 300, 20
    if args.warmup is None:
        args.warmup = max(args.concurrency * 4, args.requests // 10)
    args.client_procs = max(1, min(args.client_procs, args.concurrency))
    print(
        f"setup: {os.cpu_count()} CPU cores shared by clients and server (load average"
        f" {os.getloadavg()[0]:.2f}); {args.concurrency} callers in {args.client_procs} client"
        f" process(es); accrue serve --processes {args.processes}; {args.customers} customers;"
        f" {args.requests} measured RPCs per phase"
        f" after {args.warmup} warm-up; CheckEntitlement on random (customer, feature) pairs",
        flush=True,
    )
    rows: list[dict[str, Any]] = []
    # The ceiling: a bare grpcio server that does nothing, under the same callers. No
    # server on this machine answers 16 callers faster than this.
    with echo_process(SPAWN) as (_pid, target):
        echo = Load(target, "acc_unused", "echo", (), args.requests, args.warmup, 0, 0)
        ceiling = [
            {
                **drive(f"Echo x{n}", "bare grpcio", replace(echo, threads=n), min(procs, n)),
                "callers": n,
            }
            for n, procs in ((args.concurrency, args.client_procs), (1, 1))
        ]
    with tempfile.TemporaryDirectory(prefix="accrue_bench_") as tmp:
        rows += bench("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", Path(tmp), args)
        if not args.quick:
            admin = os.environ.get("ACCRUE_BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL)
            with postgres_database(admin) as url:
                if url:
                    rows += bench("PostgreSQL", url, Path(tmp), args)
    errors = sum(r["errors"] for r in rows + ceiling)
    checks = [r for r in rows if r["phase"].startswith("CheckEntitlement") and r["callers"] > 1]
    goal_rows = [r for r in checks if r["database"] == "PostgreSQL"] or checks
    best = min(r["p99"] for r in goal_rows)
    where = goal_rows[0]["database"]
    verdict = "MET" if best <= 5.0 else "NOT MET"
    print(
        f"goal: CheckEntitlement p99 <= 5 ms under {args.concurrency} callers ({where}, best of"
        f" {len(goal_rows)} runs): {best:.2f} ms -> {verdict}"
    )
    floor = ceiling[0]["p99"]
    print(
        f"ceiling: a bare grpcio echo server under the same {args.concurrency} callers has p99"
        f" {floor:.2f} ms ({ceiling[0]['rps']:.0f} rpc/s); CheckEntitlement's p99 is"
        f" {best / floor:.1f}x that. With one caller: echo p99 {ceiling[1]['p99']:.2f} ms."
    )
    # Closed-loop callers: mean latency = callers / throughput (Little's law), and
    # p99 >= mean. So a p99 within the goal needs at least this rate.
    needed = args.concurrency / 0.005
    print(
        f"floor: {args.concurrency} closed-loop callers with p99 <= 5 ms need at least"
        f" {needed:,.0f} rpc/s (mean latency = callers / rate); the bare echo server managed"
        f" {ceiling[0]['rps']:,.0f} rpc/s in this run ({ceiling[0]['rps'] / needed:.0%} of it)"
    )
    print(f"RPC errors: {errors}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
