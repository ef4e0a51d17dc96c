"""SIGKILL of `accrue serve` in the middle of a test-clock advance.

The advance's progress is committed per batch with the work it did, so a server
killed at a seeded point and started again on the same database resumes the
advance (the clock is durably ADVANCING) and ends with exactly the invoices of
an advance that was never interrupted - nothing billed twice, nothing missed.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from google.protobuf import timestamp_pb2

from accrue.billing.v1 import catalog_pb2 as cat
from accrue.billing.v1 import (
    catalog_pb2_grpc,
    customer_pb2_grpc,
    invoice_pb2_grpc,
    money_pb2,
    subscription_pb2_grpc,
    test_clock_pb2_grpc,
)
from accrue.billing.v1 import customer_pb2 as cus
from accrue.billing.v1 import invoice_pb2 as inv
from accrue.billing.v1 import subscription_pb2 as sub
from accrue.billing.v1 import test_clock_pb2 as clk
from tests.reliability.processes import accrue, start_server

pytestmark = pytest.mark.timeout(180)

SEED = 20261202
SUBSCRIPTIONS = 8
START = datetime(2026, 1, 1, tzinfo=UTC)
TO = datetime(2030, 1, 1, tzinfo=UTC)  # 48 renewals each
ITEMS = SUBSCRIPTIONS * 48
READY, ADVANCING = clk.TestClock.STATE_READY, clk.TestClock.STATE_ADVANCING


def stamp(moment: datetime) -> timestamp_pb2.Timestamp:
    value = timestamp_pb2.Timestamp()
    value.FromDatetime(moment)
    return value


class Client:
    def __init__(self, port: int, key: str) -> None:
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.meta = (("authorization", f"Bearer {key}"),)
        self.clocks = test_clock_pb2_grpc.TestClockServiceStub(self.channel)
        self.catalog = catalog_pb2_grpc.CatalogServiceStub(self.channel)
        self.customers = customer_pb2_grpc.CustomerServiceStub(self.channel)
        self.subs = subscription_pb2_grpc.SubscriptionServiceStub(self.channel)
        self.invoices = invoice_pb2_grpc.InvoiceServiceStub(self.channel)

    def call(self, stub: Any, method: str, request: Any) -> Any:
        return getattr(stub, method)(request, metadata=self.meta, timeout=30)

    def scenario(self) -> str:
        """A clock with SUBSCRIPTIONS monthly subscriptions, one customer each; its id."""
        clock = self.call(
            self.clocks,
            "CreateTestClock",
            clk.CreateTestClockRequest(test_clock=clk.TestClock(frozen_time=stamp(START))),
        )
        product = self.call(
            self.catalog,
            "CreateProduct",
            cat.CreateProductRequest(product=cat.Product(display_name="Seat")),
        )
        price = self.call(
            self.catalog,
            "CreatePrice",
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
        )
        for i in range(SUBSCRIPTIONS):
            customer = self.call(
                self.customers,
                "CreateCustomer",
                cus.CreateCustomerRequest(
                    customer=cus.Customer(
                        display_name=f"c{i}",
                        currency_code="USD",
                        time_zone="America/New_York",
                        test_clock_id=clock.id,
                    )
                ),
            )
            self.call(
                self.subs,
                "CreateSubscription",
                sub.CreateSubscriptionRequest(
                    customer_id=customer.id,
                    items=[sub.SubscriptionItem(price_id=price.id, quantity=i + 1)],
                ),
            )
        return str(clock.id)

    def advance(self, clock_id: str, *, wait: bool) -> clk.TestClock:
        request = clk.AdvanceTestClockRequest(
            id=clock_id, frozen_time=stamp(TO), request_id=f"advance-{clock_id}", wait=wait
        )
        return self.call(self.clocks, "AdvanceTestClock", request)  # type: ignore[no-any-return]

    def get(self, clock_id: str) -> clk.TestClock:
        return self.call(self.clocks, "GetTestClock", clk.GetTestClockRequest(id=clock_id))  # type: ignore[no-any-return]

    def facts(self) -> list[tuple[str, int, int, int, str]]:
        """Every invoice: number, period, total, and which quantity's subscription it bills."""
        found: list[tuple[str, int, int, int, str]] = []
        token = ""
        while True:
            page = self.call(
                self.invoices,
                "ListInvoices",
                inv.ListInvoicesRequest(page_size=1000, page_token=token),
            )
            for i in page.invoices:
                found.append(
                    (
                        i.number,
                        i.period_start.seconds,
                        i.period_end.seconds,
                        i.total.amount_minor,
                        i.billing_reason,
                    )
                )
            token = page.next_page_token
            if not token:
                return sorted(found)

    def close(self) -> None:
        self.channel.close()


@contextmanager
def server(env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], int]]:
    process, port = start_server(env)
    try:
        yield process, port
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


def _key(env: dict[str, str], name: str) -> str:
    created = accrue("tenant", "create", name, env=env)
    match = re.search(r"api key (\S+)", created)
    assert match is not None
    return match.group(1)


@pytest.mark.parametrize("point", [int(os.environ.get("ACCRUE_TEST_CLOCK_KILL_POINT", "0"))])
def test_sigkill_mid_advance_resumes_to_the_invoices_of_an_uninterrupted_one(
    database_url: str, point: int
) -> None:
    env = {
        **os.environ,
        "ACCRUE_DATABASE_URL": database_url,
        "ACCRUE_LOG_LEVEL": "WARNING",
        "ACCRUE_TEST_CLOCK_BATCH_STEPS": "16",  # many batches to be killed between
    }
    # The seeded point: how many work items must be committed before the kill.
    kill_after = random.Random(SEED + point).randint(ITEMS // 8, ITEMS * 3 // 4)
    reference_key, victim_key = _key(env, "reference"), _key(env, "victim")
    with server(env) as (_, port):
        reference = Client(port, reference_key)
        reference_clock = reference.scenario()
        done = reference.advance(reference_clock, wait=True)
        assert (done.state, done.advance_work_items_run) == (READY, ITEMS)
        expected = reference.facts()
        reference.close()

    with server(env) as (process, port):
        victim = Client(port, victim_key)
        clock_id = victim.scenario()
        assert victim.advance(clock_id, wait=False).state == ADVANCING
        deadline = time.monotonic() + 60
        while (seen := victim.get(clock_id)).advance_work_items_run < kill_after:
            assert seen.state == ADVANCING, f"finished before the kill point: {seen}"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        process.kill()  # SIGKILL: no shutdown, a batch may be half-way
        process.wait(10)
        victim.close()
    assert 0 < seen.advance_work_items_run < ITEMS

    with server(env) as (_, port):  # the new server's runner resumes the advance
        victim = Client(port, victim_key)
        deadline = time.monotonic() + 90
        while (now := victim.get(clock_id)).state == ADVANCING:
            assert time.monotonic() < deadline, f"still advancing: {now}"
            time.sleep(0.05)
        assert (now.state, now.advance_work_items_run) == (READY, ITEMS)
        # A retry of the original request replays its answer; nothing runs again.
        assert victim.advance(clock_id, wait=True).state == READY
        assert victim.facts() == expected
        victim.close()
