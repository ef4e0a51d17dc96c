"""Usage ingestion through the real gRPC server against a raw COPY, and GetCustomerUsage p99.

One run, one database (PostgreSQL from ACCRUE_BENCH_POSTGRES_URL; SQLite with
--quick when it is unset): (1) 16 callers send IngestUsage batches of 500 to
`accrue serve` (every event inserted, its hourly rollup updated, in the batch's
transaction): events/s, as a ratio of (2) a raw COPY of the same rows into a
copy of the events table, and the CPU each part of the machine spent per event;
(1) and (2) once per `--processes` value (default: 1 server process, then 2);
(3) a customer on a test clock with --seed-events events over a 30-day period
that starts and ends mid-hour (raw rows seeded in bulk, rollups built by the
ingestion code), then GetCustomerUsage p50/p99.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
from google.protobuf import timestamp_pb2
from harness import CpuWatch, accrue_servers, create_tenant, database_backends, postgres_database
from sqlalchemy import create_engine, text

from accrue.billing.v1 import catalog_pb2 as cat
from accrue.billing.v1 import (
    catalog_pb2_grpc,
    customer_pb2_grpc,
    subscription_pb2_grpc,
    test_clock_pb2_grpc,
    usage_pb2_grpc,
)
from accrue.billing.v1 import customer_pb2 as cus
from accrue.billing.v1 import subscription_pb2 as sub
from accrue.billing.v1 import test_clock_pb2 as clk
from accrue.billing.v1 import usage_pb2 as use
from accrue.billing.v1.money_pb2 import Money
from accrue.usage.model import Reading, fingerprint
from accrue.usage.ports import NewEvent
from accrue.usage.repository import SqlUsageStore

GOAL_EVENTS_PER_SECOND = 10_000
GOAL_P99_MS = 20.0
PERIOD_START = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)  # mid-hour: raw edges are read


def _stamp(value: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=160_000, help="events ingested")
    parser.add_argument("--callers", type=int, default=16)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--processes",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 2],
        help="accrue serve --processes for each ingestion phase, comma-separated (default 1,2)",
    )
    parser.add_argument("--seed-events", type=int, default=1_000_000)
    parser.add_argument("--reads", type=int, default=500, help="GetCustomerUsage calls")
    parser.add_argument("--quick", action="store_true", help="CI smoke: small counts")
    args = parser.parse_args()
    if args.quick:
        args.events, args.seed_events, args.reads = 8_000, 20_000, 50
    admin = os.environ.get("ACCRUE_BENCH_POSTGRES_URL", "")
    with tempfile.TemporaryDirectory() as tmp:
        if admin:
            with postgres_database(admin) as url:
                if url is not None:
                    return _run(url, Path(tmp), args)
        if not args.quick:
            print("set ACCRUE_BENCH_POSTGRES_URL (or use --quick for a SQLite smoke run)")
            return 2
        return _run(f"sqlite:///{Path(tmp) / 'bench.db'}", Path(tmp), args)


def _run(url: str, workdir: Path, args: argparse.Namespace) -> int:
    key = create_tenant(url, "usage-bench")
    meta = (("authorization", f"Bearer {key}"),)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        tenant_id = conn.execute(text("SELECT id FROM tenants WHERE name = 'usage-bench'")).scalar()
    print(f"database: {engine.dialect.name}; {args.callers} callers, batches of {args.batch}")
    meter_id = ""
    rates: dict[int, float] = {}
    for processes in args.processes:
        with accrue_servers(url, workdir, processes=processes) as (server_pids, target):
            channel = grpc.insecure_channel(target)
            meter_id = meter_id or _meter(channel, meta)
            customers = customer_pb2_grpc.CustomerServiceStub(channel)
            owners = [
                customers.CreateCustomer(
                    cus.CreateCustomerRequest(
                        customer=cus.Customer(display_name=f"c{i}", currency_code="USD")
                    ),
                    metadata=meta,
                ).id
                for i in range(args.callers)
            ]
            channel.close()
            groups = {"server": lambda pids=server_pids: pids, "callers": lambda: [os.getpid()]}
            if engine.dialect.name == "postgresql":
                groups["PostgreSQL"] = lambda: database_backends(url)
            watch = CpuWatch(groups)
            rate, rows, cpu = _ingest(target, meta, meter_id, owners, args, watch, f"p{processes}")
        copy_rate = _copy(engine, rows, f"bench_copy_{processes}")
        rates[processes] = rate
        print(
            f"ingestion, accrue serve --processes {processes}: {rate:,.0f} events/s through gRPC"
            f" (goal >= {GOAL_EVENTS_PER_SECOND:,}); raw COPY of the same rows:"
            f" {copy_rate:,.0f} rows/s; ratio {rate / copy_rate:.3f}"
        )
        per_event = {
            name: 1e6 * seconds / len(rows)
            for name, seconds in cpu.items()
            if name not in ("machine busy", "cores")
        }
        print(
            "  CPU per event: "
            + ", ".join(f"{name} {micros:.0f} us" for name, micros in per_event.items())
            + f"; {cpu['machine busy']:.2f} of {cpu['cores']:.0f} cores busy"
            f" (CPU-bound ceiling at this cost: {1e6 * cpu['cores'] / sum(per_event.values()):,.0f}"
            " events/s)"
        )
    if len(rates) > 1:
        first, *_, last = rates
        print(f"--processes {last} against {first}: {rates[last] / rates[first]:.2f}x")
    with accrue_servers(url, workdir, processes=1) as (_pids, target):
        channel = grpc.insecure_channel(target)
        usage = usage_pb2_grpc.UsageServiceStub(channel)
        customer_id = _clocked_customer(channel, meta)
        seeded = time.perf_counter()
        _seed(engine, tenant_id, customer_id, meter_id, args.seed_events)
        seconds = time.perf_counter() - seeded
        print(f"seeded {args.seed_events:,} events and their rollups in {seconds:.1f} s")
        latencies = []
        request = use.GetCustomerUsageRequest(customer_id=customer_id, meter_id=meter_id)
        answer = usage.GetCustomerUsage(request, metadata=meta)
        total = sum(int(a.event_count) for a in answer.aggregates)
        assert total == args.seed_events, (total, args.seed_events)
        for _ in range(args.reads):
            began = time.perf_counter()
            usage.GetCustomerUsage(request, metadata=meta)
            latencies.append((time.perf_counter() - began) * 1000)
        latencies.sort()
        p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
        print(
            f"GetCustomerUsage over {args.seed_events:,} events ({len(answer.aggregates)} groups):"
            f" p50 {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms"
            f" (goal <= {GOAL_P99_MS:.0f})"
        )
        channel.close()
    engine.dispose()
    return 0


def _meter(channel: grpc.Channel, meta: tuple[tuple[str, str], ...]) -> str:
    meter = usage_pb2_grpc.UsageServiceStub(channel).CreateMeter(
        use.CreateMeterRequest(
            meter=use.Meter(
                display_name="Tokens",
                aggregation=use.METER_AGGREGATION_SUM,
                value_property="tokens",
                dimension_keys=["model"],
            )
        ),
        metadata=meta,
    )
    return str(meter.id)


def _ingest(
    target: str,
    meta: tuple[tuple[str, str], ...],
    meter_id: str,
    owners: list[str],
    args: argparse.Namespace,
    watch: CpuWatch,
    run: str,
) -> tuple[float, list[dict[str, object]], dict[str, float]]:
    """16 callers, each its own channel and customer; returns events/s, the rows
    sent and the CPU each part of the machine spent while they were sent."""
    now = datetime.now(UTC).replace(microsecond=0)
    per_caller = args.events // args.callers
    plans = []
    for caller, owner in enumerate(owners):
        batches = []
        for first in range(0, per_caller, args.batch):
            batches.append(
                use.IngestUsageRequest(
                    events=[
                        use.UsageEventInput(
                            id=f"{run}-c{caller}-{i}",
                            meter_id=meter_id,
                            customer_id=owner,
                            timestamp=_stamp(now - timedelta(seconds=i % 3600)),
                            properties={"tokens": str(i % 97), "model": f"m{i % 3}"},
                        )
                        for i in range(first, min(first + args.batch, per_caller))
                    ]
                )
            )
        plans.append(batches)
    failures: list[BaseException] = []
    ready = threading.Barrier(len(plans) + 1)

    def caller(batches: list[use.IngestUsageRequest]) -> None:
        # Its own subchannel pool: its own connection, so that SO_REUSEPORT
        # spreads the callers over the server processes.
        channel = grpc.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
        stub = usage_pb2_grpc.UsageServiceStub(channel)
        ready.wait()
        try:
            for batch in batches:
                answer = stub.IngestUsage(batch, metadata=meta, timeout=120)
                if answer.accepted_count != len(batch.events):
                    raise RuntimeError(f"refused: {answer.results[0]}")
        except BaseException as error:
            failures.append(error)
        finally:
            channel.close()

    threads = [threading.Thread(target=caller, args=(plan,)) for plan in plans]
    for thread in threads:
        thread.start()
    ready.wait()
    watch.start()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    cpu = watch.stop()
    if failures:
        raise failures[0]
    sent = sum(len(b.events) for plan in plans for b in plan)
    rows = [
        {
            "id": e.id,
            "meter_id": e.meter_id,
            "customer_id": e.customer_id,
            "ts": e.timestamp.ToDatetime(tzinfo=UTC),
            "props": dict(e.properties),
        }
        for plan in plans
        for b in plan
        for e in b.events
    ]
    return sent / elapsed, rows, cpu


def _copy(engine: object, rows: list[dict[str, object]], table: str) -> float:
    """The same rows into `table`, a new copy of usage_events: COPY on PostgreSQL,
    executemany on SQLite."""

    with engine.begin() as conn:  # type: ignore[attr-defined]
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"CREATE TABLE {table} (LIKE usage_events INCLUDING ALL)"))
        else:
            conn.execute(text(f"CREATE TABLE {table} AS SELECT * FROM usage_events WHERE 0"))
    values = [
        (
            "t",
            r["id"],
            r["meter_id"],
            r["customer_id"],
            r["ts"],
            json.dumps(r["props"]),
            "0" * 64,
            1,
            "",
            "",
            False,
            False,
            0,
            r["ts"],
        )
        for r in rows
    ]
    columns = (
        "tenant_id, id, meter_id, customer_id, timestamp, properties, fingerprint, value_micros,"
        " unique_value, group_key, canceled, late, revision, create_time"
    )
    began = time.perf_counter()
    raw = engine.raw_connection()  # type: ignore[attr-defined]
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":  # type: ignore[attr-defined]
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * 14)
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                [(*row[:4], row[4].isoformat(), *row[5:13], row[13].isoformat()) for row in values],
            )
        raw.commit()
    finally:
        raw.close()
    return len(values) / (time.perf_counter() - began)


def _clocked_customer(channel: grpc.Channel, meta: tuple[tuple[str, str], ...]) -> str:
    """A customer on a test clock, subscribed at PERIOD_START, the clock 30 days later."""
    clocks = test_clock_pb2_grpc.TestClockServiceStub(channel)
    clock = clocks.CreateTestClock(
        clk.CreateTestClockRequest(test_clock=clk.TestClock(frozen_time=_stamp(PERIOD_START))),
        metadata=meta,
    )
    customer = customer_pb2_grpc.CustomerServiceStub(channel).CreateCustomer(
        cus.CreateCustomerRequest(
            customer=cus.Customer(display_name="heavy", currency_code="USD", test_clock_id=clock.id)
        ),
        metadata=meta,
    )
    catalog = catalog_pb2_grpc.CatalogServiceStub(channel)
    product = catalog.CreateProduct(
        cat.CreateProductRequest(product=cat.Product(display_name="P")), metadata=meta
    )
    price = catalog.CreatePrice(
        cat.CreatePriceRequest(
            price=cat.Price(
                product_id=product.id,
                currency_code="USD",
                pricing_scheme=cat.PRICING_SCHEME_PER_UNIT,
                unit_amount=Money(amount_minor=100, currency_code="USD"),
                recurring=cat.Recurring(interval_unit=cat.INTERVAL_UNIT_MONTH, interval_count=1),
            )
        ),
        metadata=meta,
    )
    subscription_pb2_grpc.SubscriptionServiceStub(channel).CreateSubscription(
        sub.CreateSubscriptionRequest(
            customer_id=customer.id, items=[sub.SubscriptionItem(price_id=price.id)]
        ),
        metadata=meta,
    )
    clocks.AdvanceTestClock(
        clk.AdvanceTestClockRequest(
            id=clock.id, frozen_time=_stamp(PERIOD_START + timedelta(days=30)), wait=True
        ),
        metadata=meta,
    )
    return customer.id


def _seed(engine: object, tenant_id: str, customer_id: str, meter_id: str, count: int) -> None:
    """`count` raw events over 30 days in bulk, then their rollups through the ingestion code."""
    from sqlalchemy import insert

    from accrue.usage.tables import usage_events

    span = 30 * 24 * 3600
    chunk = 50_000
    for first in range(0, count, chunk):
        events = []
        for i in range(first, min(first + chunk, count)):
            at = PERIOD_START + timedelta(seconds=(i * span) // count)
            props = {"tokens": str(i % 97), "model": f"m{i % 3}"}
            events.append(
                NewEvent(
                    id=f"seed-{i}",
                    meter_id=meter_id,
                    customer_id=customer_id,
                    timestamp=at,
                    properties=props,
                    fingerprint=fingerprint(meter_id, customer_id, at, props),
                    reading=Reading(
                        value_micros=(i % 97) * 1_000_000,
                        unique_value="",
                        group_key=f'["m{i % 3}"]',
                    ),
                )
            )
        with engine.begin() as conn:  # type: ignore[attr-defined]
            rows = [
                {
                    "tenant_id": tenant_id,
                    "id": e.id,
                    "meter_id": meter_id,
                    "customer_id": customer_id,
                    "timestamp": e.timestamp,
                    "properties": e.properties,
                    "fingerprint": e.fingerprint,
                    "value_micros": e.reading.value_micros,
                    "unique_value": "",
                    "group_key": e.reading.group_key,
                    "canceled": False,
                    "late": False,
                    "revision": 0,
                    "create_time": e.timestamp,
                }
                for e in events
            ]
            if conn.dialect.name == "postgresql":
                cursor = conn.connection.driver_connection.cursor()
                names = ", ".join(f'"{name}"' for name in rows[0])
                with cursor.copy(f"COPY usage_events ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(
                            [json.dumps(v) if isinstance(v, dict) else v for v in row.values()]
                        )
            else:
                conn.execute(insert(usage_events), rows)
            SqlUsageStore(conn).add_to_rollups(tenant_id, {}, events)


if __name__ == "__main__":
    sys.exit(main())
