"""A canceled subscription's trailing usage invoice is issued once by racing bill runs.

Canceled subscriptions whose usage grace has closed are seeded straight into the
database: each billed 10 tokens of its last period (70 at 7 a token) before it was
canceled, and 12 tokens are recorded now (two arrived late), except every third, whose
usage did not change. Three bill runs, each with its own services over one engine, claim
them at once (SKIP LOCKED on PostgreSQL, the database lock on SQLite). Afterwards each
changed subscription has exactly one trailing invoice of 84 - 70 = 14, the unchanged ones
none, every subscription's usage is settled (nothing more is due) and what was billed
sums to the usage.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from accrue import schema as t
from accrue.catalog.model import Price, PriceTerms, PricingScheme, Product, Recurring, UsageType
from accrue.event_log.service import EventRecorder
from accrue.invoicing.issuing import Invoicing
from accrue.invoicing.tax import DEFAULT_TABLE, RateTableTaxProvider
from accrue.kernel.calendar import BillingInterval, IntervalUnit, Period, anchor_from
from accrue.kernel.ids import IdGenerator
from accrue.kernel.lifecycle import LifecycleState
from accrue.ledger.service import LedgerService
from accrue.payloads import encode_payload
from accrue.platform.clock import FixedClock
from accrue.platform.db import migrate
from accrue.platform.db.engine import build_engine
from accrue.subscriptions.bill_run import BillRun
from accrue.subscriptions.billing import SubscriptionBilling
from accrue.subscriptions.model import (
    SubscriptionItem,
    SubscriptionStatus,
    cancel_now,
    create_subscription,
    start,
)
from accrue.tenancy.use_cases import TenancyUseCases
from accrue.unit_of_work import SqlUnitOfWorkFactory
from accrue.usage.billing import UsageArrears
from accrue.usage.model import DEFAULT_GRACE, UNIT, Aggregation, BilledUsage, Meter
from accrue.usage.ports import NewEvent
from tests.fakes.invoicing import customer as fake_customer

pytestmark = pytest.mark.timeout(120)

NOW = datetime(2026, 6, 15, 12, 0, 0, tzinfo=UTC)
SUBSCRIPTIONS = 24
WORKERS = 3
MONTH = Recurring(IntervalUnit.MONTH, 1)


def _bill_run(engine: Engine) -> BillRun:
    """A worker's services, built as bootstrap does, with the clock fixed at NOW."""
    clock = FixedClock(NOW)
    ids = IdGenerator(clock)
    uow_factory = SqlUnitOfWorkFactory(engine, encode_event=encode_payload)
    events = EventRecorder(clock, ids, lambda: "trace")
    ledger = LedgerService(clock, ids, events, lambda: "trace")
    invoicing = Invoicing(clock, ids, events, ledger, RateTableTaxProvider(DEFAULT_TABLE))
    billing = SubscriptionBilling(invoicing, events, UsageArrears(uow_factory, ids))
    return BillRun(uow_factory, clock, billing)


def _seed(engine: Engine) -> dict[str, int]:
    """The canceled subscriptions; each one's tokens recorded now (10 were billed)."""
    clock = FixedClock(NOW)
    ids = IdGenerator(clock)
    uow_factory = SqlUnitOfWorkFactory(engine, encode_event=encode_payload)
    tenant_id = TenancyUseCases(uow_factory, clock, ids).create_tenant("settle").tenant.id
    began, ended = NOW - timedelta(days=10), NOW - timedelta(days=3)
    tokens: dict[str, int] = {}
    with uow_factory(write=True) as uow:
        product = Product(
            ids.new("prod"), tenant_id, "API", "", LifecycleState.ACTIVE, {}, NOW, NOW
        )
        uow.products.add(product)
        meter = Meter(
            tenant_id=tenant_id,
            id=ids.new("mtr"),
            display_name="Tokens",
            aggregation=Aggregation.SUM,
            value_property="tokens",
            dimension_keys=(),
            grace=DEFAULT_GRACE,
            allow_negative=False,
            archived=False,
            create_time=began,
            update_time=began,
        )
        uow.usage.add_meter(meter)
        terms = PriceTerms(
            "USD",
            PricingScheme.PER_UNIT,
            unit_amount_minor=7,
            recurring=Recurring(IntervalUnit.MONTH, 1, UsageType.METERED, meter.id),
        )
        price = Price(
            ids.new("price"),
            tenant_id,
            product.id,
            terms,
            "",
            LifecycleState.ACTIVE,
            True,
            {},
            NOW,
            NOW,
        )
        uow.prices.add(price)
        for n in range(SUBSCRIPTIONS):
            customer = fake_customer(ids.new("cus"), tenant_id=tenant_id)
            uow.customers.add(customer)
            sub = create_subscription(
                id=ids.new("sub"),
                tenant_id=tenant_id,
                customer_id=customer.id,
                items=[SubscriptionItem(price.id, terms)],
                anchor=anchor_from(began, "UTC"),
                interval=BillingInterval(IntervalUnit.MONTH, 1),
                now=began,
            )
            sub = start(sub, began).subscription
            sub = cancel_now(sub, ended).subscription
            # Its final invoice billed [began, ended): open until the grace after it.
            sub = replace(sub, usage_open_until=ended + DEFAULT_GRACE)
            uow.subscriptions.add(sub)
            count = 10 if n % 3 == 0 else 12
            tokens[sub.id] = count
            events = [
                NewEvent(
                    id=ids.new("evt"),
                    meter_id=meter.id,
                    customer_id=customer.id,
                    timestamp=began + timedelta(days=1 + k),
                    properties={"tokens": str(value)},
                    fingerprint="",
                    reading=meter.read({"tokens": str(value)}),
                )
                for k, value in enumerate((10,) if count == 10 else (10, 2))
            ]
            uow.usage.insert_events(tenant_id, events, now=ended)
            uow.usage.add_to_rollups(tenant_id, {meter.id: meter}, events)
            part = Period(began, ended)
            uow.usage.add_billings(
                [
                    BilledUsage(
                        tenant_id=tenant_id,
                        id=ids.new("ub"),
                        subscription_id=sub.id,
                        price_id=price.id,
                        meter_id=meter.id,
                        group_key="",
                        period_start=part.start,
                        period_end=part.end,
                        quantity_micros=10 * UNIT,
                        amount_minor=70,
                        invoice_id="in_final",
                        create_time=ended,
                    )
                ]
            )
        uow.commit()
    return tokens


def _race(engine: Engine) -> None:
    gate = threading.Barrier(WORKERS)
    errors: list[BaseException] = []

    def work() -> None:
        bill_run = _bill_run(engine)
        try:
            gate.wait()
            while bill_run.run_batch(limit=2).claimed:
                pass
        except BaseException as error:  # reported by the test
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert not errors
    # Whatever a worker held back after a lost lock race, a last pass settles.
    while _bill_run(engine).run_batch(limit=50).claimed:
        pass


def test_racing_bill_runs_issue_each_trailing_usage_invoice_once(database_url: str) -> None:
    engine = build_engine(database_url)
    try:
        migrate.upgrade(engine)
        tokens = _seed(engine)
        _race(engine)
        with engine.connect() as conn:
            invoices = conn.execute(
                select(t.invoices.c.subscription_id, t.invoices.c.total_minor)
            ).all()
            subs = conn.execute(
                select(
                    t.subscriptions.c.id,
                    t.subscriptions.c.status,
                    t.subscriptions.c.usage_open_until,
                    t.subscriptions.c.next_action_time,
                )
            ).all()
            billed = dict(
                conn.execute(
                    select(
                        t.usage_billings.c.subscription_id,
                        func.sum(t.usage_billings.c.amount_minor),
                    ).group_by(t.usage_billings.c.subscription_id)
                ).all()
            )
        per_sub = Counter(row.subscription_id for row in invoices)
        changed = {sub_id for sub_id, count in tokens.items() if count != 10}
        assert per_sub == Counter(changed)
        assert {row.total_minor for row in invoices} == {14}
        assert all(row.status == SubscriptionStatus.CANCELED.value for row in subs)
        assert all(row.usage_open_until is None for row in subs)
        assert all(row.next_action_time is None for row in subs)
        assert billed == {sub_id: count * 7 for sub_id, count in tokens.items()}
    finally:
        engine.dispose()
