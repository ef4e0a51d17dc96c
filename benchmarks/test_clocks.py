"""Test-clock advance throughput: S monthly subscriptions on one clock advanced Y years.

The advance runs as a client sees it: AdvanceTestClock answers at once (ADVANCING), the
server's runner thread does the work, GetTestClock is polled until READY. Next to it, in
the same run and database, the bill run's rate on the same number of renewals (real-time
subscriptions seeded as benchmarks/bill_run.py does, billed by `BillRun.run_batch`).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime

import grpc
from bill_run import seed
from google.protobuf import timestamp_pb2
from harness import postgres_database

from accrue.billing.v1 import catalog_pb2 as cat
from accrue.billing.v1 import (
    catalog_pb2_grpc,
    customer_pb2_grpc,
    money_pb2,
    subscription_pb2_grpc,
    test_clock_pb2_grpc,
)
from accrue.billing.v1 import customer_pb2 as cus
from accrue.billing.v1 import subscription_pb2 as sub
from accrue.billing.v1 import test_clock_pb2 as clk
from accrue.bootstrap import build_application
from accrue.config import Settings
from accrue.server import Server

GOAL_RATIO = 0.5  # test-clock items/s over bill-run renewals/s, same run (within 2x)
START = datetime(2026, 1, 1, tzinfo=UTC)


def stamp(moment: datetime) -> timestamp_pb2.Timestamp:
    value = timestamp_pb2.Timestamp()
    value.FromDatetime(moment)
    return value


def run(database_url: str, subscriptions: int, years: int) -> dict[str, float]:
    settings = Settings(database_url=database_url, grpc_port=0, connect_port=0, log_level="WARNING")
    app = build_application(settings)
    server = Server(app)
    ports = server.start()
    try:
        key = app.tenants.create_tenant("clock-bench").api_key
        channel = grpc.insecure_channel(f"127.0.0.1:{ports.grpc}")
        meta = (("authorization", f"Bearer {key}"),)
        clocks = test_clock_pb2_grpc.TestClockServiceStub(channel)
        catalog = catalog_pb2_grpc.CatalogServiceStub(channel)
        customers = customer_pb2_grpc.CustomerServiceStub(channel)
        subs = subscription_pb2_grpc.SubscriptionServiceStub(channel)
        clock = clocks.CreateTestClock(
            clk.CreateTestClockRequest(test_clock=clk.TestClock(frozen_time=stamp(START))),
            metadata=meta,
        )
        product = catalog.CreateProduct(
            cat.CreateProductRequest(product=cat.Product(display_name="Seat")), metadata=meta
        )
        price = catalog.CreatePrice(
            cat.CreatePriceRequest(
                price=cat.Price(
                    product_id=product.id,
                    currency_code="USD",
                    pricing_scheme=cat.PRICING_SCHEME_PER_UNIT,
                    unit_amount=money_pb2.Money(currency_code="USD", amount_minor=1999),
                    recurring=cat.Recurring(
                        interval_unit=cat.INTERVAL_UNIT_MONTH, interval_count=1
                    ),
                )
            ),
            metadata=meta,
        )
        for i in range(subscriptions):
            customer = customers.CreateCustomer(
                cus.CreateCustomerRequest(
                    customer=cus.Customer(
                        display_name=f"c{i}",
                        currency_code="USD",
                        time_zone="America/New_York",
                        test_clock_id=clock.id,
                    )
                ),
                metadata=meta,
            )
            subs.CreateSubscription(
                sub.CreateSubscriptionRequest(
                    customer_id=customer.id, items=[sub.SubscriptionItem(price_id=price.id)]
                ),
                metadata=meta,
            )
        to = START.replace(year=START.year + years)
        began = time.perf_counter()
        started = clocks.AdvanceTestClock(
            clk.AdvanceTestClockRequest(id=clock.id, frozen_time=stamp(to)), metadata=meta
        )
        answered = time.perf_counter() - began
        assert started.state == clk.TestClock.STATE_ADVANCING
        while True:
            now = clocks.GetTestClock(clk.GetTestClockRequest(id=clock.id), metadata=meta)
            if now.state != clk.TestClock.STATE_ADVANCING:
                break
            time.sleep(0.05)
        clock_seconds = time.perf_counter() - began
        assert now.state == clk.TestClock.STATE_READY, now
        items = now.advance_work_items_run
        channel.close()

        # The bill run on as many renewals, same database, same process.
        seeded = seed(app, items, 1)
        began = time.perf_counter()
        renewals = 0
        while True:
            result = app.bill_run.run_batch(limit=100)
            renewals += result.steps
            if not result.claimed:
                break
        bill_seconds = time.perf_counter() - began
        assert renewals == seeded.count, (renewals, seeded.count)
    finally:
        server.stop()
    return {
        "answer_ms": answered * 1000,
        "clock_items": items,
        "clock_seconds": clock_seconds,
        "clock_rate": items / clock_seconds,
        "bill_renewals": renewals,
        "bill_seconds": bill_seconds,
        "bill_rate": renewals / bill_seconds,
    }


def report(name: str, figures: dict[str, float]) -> None:
    ratio = figures["clock_rate"] / figures["bill_rate"]
    verdict = "met" if ratio >= GOAL_RATIO else "NOT met"
    print(
        f"{name}: AdvanceTestClock answered in {figures['answer_ms']:.0f} ms; "
        f"{figures['clock_items']:.0f} work items in {figures['clock_seconds']:.2f} s = "
        f"{figures['clock_rate']:.0f} items/s; bill run {figures['bill_renewals']:.0f} renewals "
        f"in {figures['bill_seconds']:.2f} s = {figures['bill_rate']:.0f}/s; "
        f"ratio {ratio:.2f} (goal >= {GOAL_RATIO}: {verdict})",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscriptions", type=int, default=100)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="10 subscriptions x 1 year, SQLite")
    args = parser.parse_args()
    if args.quick:
        args.subscriptions, args.years = 10, 1
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/accrue.db"
        report("sqlite", run(url, args.subscriptions, args.years))
    admin = os.environ.get("ACCRUE_BENCH_POSTGRES_URL")
    if admin and not args.quick:
        with postgres_database(admin) as url:
            if url is not None:
                report("postgresql", run(url, args.subscriptions, args.years))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
