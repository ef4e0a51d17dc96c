"""Four `accrue worker` processes on one PostgreSQL database bill every due period once.

Subscriptions are seeded through the real repositories with starts one to
three months back, so a worker must bill several periods of one subscription
in a row; the workers race for the same due set and must neither double-bill
nor skip a period, and each tenant's invoice numbers must stay gapless.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from accrue.adapters.clock import SystemClock
from accrue.adapters.db import tables as t
from accrue.bootstrap import build_application
from accrue.config import Settings
from accrue.domain import subscriptions as subs
from accrue.domain.calendar import BillingInterval, anchor_from, next_boundary
from accrue.domain.catalog import (
    IntervalUnit,
    Price,
    PriceTerms,
    PricingScheme,
    Product,
    Recurring,
)
from accrue.domain.customers import Customer
from accrue.domain.identifiers import IdGenerator
from accrue.domain.lifecycle import LifecycleState
from tests.support import fresh_postgres_database, postgres_admin_url

pytestmark = pytest.mark.skipif(
    postgres_admin_url() is None, reason="needs PostgreSQL (ACCRUE_TEST_POSTGRES_URL)"
)

TENANTS = 3
PER_TENANT = 120
WORKERS = 4
TERMS = PriceTerms("USD", PricingScheme.PER_UNIT, 1000, recurring=Recurring(IntervalUnit.MONTH, 1))


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


def _seed(url: str) -> tuple[list[str], datetime]:
    app = build_application(Settings(database_url=url))
    ids = IdGenerator(SystemClock())
    now = datetime.now(UTC).replace(microsecond=0)
    tenant_ids = []
    try:
        for n in range(TENANTS):
            tenant_id = app.tenants.create_tenant(f"workers-{n}").tenant.id
            tenant_ids.append(tenant_id)
            with app.uow_factory(write=True) as uow:
                product = Product(
                    ids.new("prod"), tenant_id, "Seat", "", LifecycleState.ACTIVE, {}, now, now
                )
                price = Price(
                    ids.new("price"), tenant_id, product.id, TERMS, "", LifecycleState.ACTIVE,
                    True, {}, now, now,
                )  # fmt: skip
                uow.products.add(product)
                uow.prices.add(price)
                for i in range(PER_TENANT):
                    customer = Customer(
                        ids.new("cus"), tenant_id, f"c{i}", "", "USD", None, None, "UTC", {},
                        (), "", LifecycleState.ACTIVE, now, now,
                    )  # fmt: skip
                    uow.customers.add(customer)
                    # 1 to 3 months back: up to three renewals are due for one subscription.
                    start = now - timedelta(days=31 * (1 + i % 3), minutes=i)
                    sub = subs.create_subscription(
                        id=ids.new("sub"),
                        tenant_id=tenant_id,
                        customer_id=customer.id,
                        items=[subs.SubscriptionItem(price.id, TERMS, 1 + i % 4)],
                        anchor=anchor_from(start, "UTC"),
                        interval=BillingInterval(IntervalUnit.MONTH),
                        now=start,
                    )
                    uow.subscriptions.add(subs.start(sub, start).subscription)
                uow.commit()
    finally:
        app.close()
    return tenant_ids, now


def _expected_periods(start: datetime, until: datetime) -> list[datetime]:
    """The renewal period starts due by `until`: every monthly boundary after the start."""
    anchor = anchor_from(start, "UTC")
    interval = BillingInterval(IntervalUnit.MONTH)
    starts, at = [], start
    while True:
        at = next_boundary(anchor, interval, at)
        if at > until:
            return starts
        starts.append(at)


def test_four_workers_bill_every_due_period_exactly_once(database: str) -> None:
    tenant_ids, _ = _seed(database)
    env = {**os.environ, "ACCRUE_DATABASE_URL": database, "ACCRUE_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "accrue.cli", "worker", "--once", "--batch-size", "20"]
    workers = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(WORKERS)
    ]
    outputs = [w.communicate(timeout=120)[0] for w in workers]
    finished_at = datetime.now(UTC)
    assert all(w.returncode == 0 for w in workers), outputs
    steps = sum(int(line.split("=")[1]) for out in outputs for line in out.splitlines()
                if line.startswith("DONE steps="))  # fmt: skip

    app = build_application(Settings(database_url=database))
    try:
        with app.engine.connect() as conn:
            subscriptions = conn.execute(
                select(t.subscriptions.c.id, t.subscriptions.c.create_time)
            ).all()
            invoices = conn.execute(
                select(
                    t.invoices.c.tenant_id,
                    t.invoices.c.subscription_id,
                    t.invoices.c.period_start,
                    t.invoices.c.number,
                )
            ).all()
        billed: dict[str, list[datetime]] = defaultdict(list)
        numbers: dict[str, list[str]] = defaultdict(list)
        for tenant_id, subscription_id, period_start, number in invoices:
            billed[subscription_id].append(period_start)
            numbers[tenant_id].append(number)
        expected_total = 0
        for subscription_id, created in subscriptions:
            expected = _expected_periods(created, finished_at)
            assert sorted(billed[subscription_id]) == expected, subscription_id
            expected_total += len(expected)
        assert steps == expected_total == len(invoices)
        for tenant_id in tenant_ids:
            count = len(numbers[tenant_id])
            assert sorted(numbers[tenant_id]) == [f"INV-{n:06d}" for n in range(1, count + 1)]
            with app.uow_factory(write=False) as uow:
                assert app.ledger.verify(uow, tenant_id).intact
    finally:
        app.close()
