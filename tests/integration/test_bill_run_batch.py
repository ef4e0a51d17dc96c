"""The set-based bill run bills exactly as one renewal at a time does.

For random subscriptions (time zones, anchors, intervals, quantities, trials, scheduled
cancellations, pending proration credits, customer credit balances, tax locations, metered
items with usage and an earlier billing of it that late usage or a correction has since
made wrong, so renewals bill adjustments - one per period, never once per step) the
same scenario is seeded into two fresh databases with the same identifiers. One is billed
subscription by subscription through `SubscriptionBilling.run_due` (the path RPCs and test
clocks take), the other by `BillRun.run_batch` (claim, plan in memory, write set-based).
Afterwards every invoice, line, number, ledger transaction (hash chain included), entry,
account balance, subscription row and event (type, resource, time and payload) is the same.
Only the order of the events within the stream may differ (a batch records its postings
first), so events are compared as a multiset, and both streams must be gapless.

Identifiers come from a per-prefix counter, and the clock is fixed, so both databases get
the same ids and times. Examples: ACCRUE_BILL_RUN_EXAMPLES (default 25 on SQLite, 4 on
PostgreSQL, where each example creates two databases).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from accrue import schema as t
from accrue.catalog.model import (
    Price,
    PriceTerms,
    PriceTier,
    PricingScheme,
    Product,
    Recurring,
    UsageType,
)
from accrue.customers.model import Customer, TaxLocation
from accrue.event_log.service import EventRecorder
from accrue.invoicing.issuing import Invoicing
from accrue.invoicing.tax import DEFAULT_TABLE, RateTableTaxProvider
from accrue.kernel.calendar import BillingInterval, IntervalUnit, Period, anchor_from
from accrue.kernel.ids import IdGenerator
from accrue.kernel.lifecycle import LifecycleState
from accrue.ledger.checkpoint_keys import load_keys
from accrue.ledger.model import AccountRef, Direction, Entry
from accrue.ledger.sequencer import LedgerSequencer
from accrue.ledger.service import LedgerService
from accrue.payloads import encode_payload
from accrue.platform.clock import FixedClock
from accrue.platform.db import migrate
from accrue.platform.db.engine import build_engine
from accrue.subscriptions.bill_run import BillRun
from accrue.subscriptions.billing import SubscriptionBilling
from accrue.subscriptions.charges import unused_time_credits
from accrue.subscriptions.model import (
    Subscription,
    SubscriptionItem,
    cancel_at_period_end,
    create_subscription,
    start,
)
from accrue.tenancy.use_cases import TenancyUseCases
from accrue.unit_of_work import SqlUnitOfWorkFactory
from accrue.usage.billing import UsageArrears
from accrue.usage.model import MAX_GRACE, Aggregation, BilledUsage, Meter
from accrue.usage.ports import NewEvent
from tests.support import fresh_postgres_database

NOW = datetime(2026, 6, 15, 12, 0, 0, tzinfo=UTC)
ZONES = ("UTC", "America/New_York", "Europe/Berlin", "Asia/Tokyo", "Australia/Lord_Howe")
TAX = (None, "DE", "US-CA", "JP", "KW")
INTERVALS = (
    (IntervalUnit.DAY, 5),
    (IntervalUnit.DAY, 9),
    (IntervalUnit.WEEK, 1),
    (IntervalUnit.WEEK, 2),
    (IntervalUnit.MONTH, 1),
    (IntervalUnit.MONTH, 3),
    (IntervalUnit.YEAR, 1),
)


class CountingIds(IdGenerator):
    """`prefix_<n>` with one counter per prefix: the same calls make the same ids."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def new(self, prefix: str) -> str:
        self._counts[prefix] = self._counts.get(prefix, 0) + 1
        return f"{prefix}_{self._counts[prefix]:026d}"


@dataclass(frozen=True)
class Plan:
    """One subscription of a scenario."""

    zone: str
    tax: str | None
    interval: int  # index into INTERVALS
    started_days_ago: int
    started_seconds: int
    anchor_days_ago: int  # anchor instant (its civil time in `zone` repeats every interval)
    quantities: tuple[tuple[int, int], ...]  # (unit amount, quantity) per item
    trial_days: int | None
    cancel_at_end: bool
    pending_credit: bool  # a proration credit for the rest of the first period
    credit_minor: int  # customer credit balance before the run
    # A metered item: usage events (hours after the start, tokens), and what an earlier
    # invoice billed for the first day (None: nothing recorded).
    usage: tuple[tuple[int, int], ...] | None
    billed_first_day: int | None


plans = st.builds(
    Plan,
    zone=st.sampled_from(ZONES),
    tax=st.sampled_from(TAX),
    interval=st.integers(0, len(INTERVALS) - 1),
    started_days_ago=st.integers(0, 70),
    started_seconds=st.integers(0, 86_399),
    anchor_days_ago=st.integers(0, 400),
    quantities=st.lists(
        st.tuples(st.integers(0, 250_000), st.integers(1, 40)), min_size=1, max_size=3
    ).map(tuple),
    trial_days=st.one_of(st.none(), st.integers(1, 20)),
    cancel_at_end=st.booleans(),
    pending_credit=st.booleans(),
    credit_minor=st.sampled_from((0, 0, 1, 999, 150_000, 10_000_000)),
    usage=st.one_of(
        st.none(),
        st.lists(st.tuples(st.integers(0, 24 * 60), st.integers(0, 50)), max_size=6).map(tuple),
    ),
    billed_first_day=st.one_of(st.none(), st.integers(0, 500)),
)


class Stack:
    """The services of one database, built as bootstrap does but with fixed ids and time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.clock = FixedClock(NOW)
        self.ids = CountingIds()
        self.uow_factory = SqlUnitOfWorkFactory(engine, encode_event=encode_payload)
        events = EventRecorder(self.clock, self.ids, lambda: "trace")
        self.ledger = LedgerService(self.clock, self.ids, events, lambda: "trace")
        self.invoicing = Invoicing(
            self.clock, self.ids, events, self.ledger, RateTableTaxProvider(DEFAULT_TABLE)
        )
        self.billing = SubscriptionBilling(
            self.invoicing, events, UsageArrears(self.uow_factory, self.ids)
        )
        self.tenants = TenancyUseCases(self.uow_factory, self.clock, self.ids)
        # PostgreSQL numbers and chains postings and events after commit.
        self.sequencer = LedgerSequencer(
            engine,
            self.clock,
            load_keys(signing_key_file="", verify_key_files=[], database_url=str(engine.url)),
        )


def _seed(stack: Stack, scenario: list[Plan]) -> list[Subscription]:
    """The scenario in one tenant; identical calls, so identical ids in every database."""
    tenant_id = stack.tenants.create_tenant("batch-vs-single").tenant.id
    subs: list[Subscription] = []
    with stack.uow_factory(write=True) as uow:
        product = Product(
            stack.ids.new("prod"), tenant_id, "Seat", "", LifecycleState.ACTIVE, {}, NOW, NOW
        )
        uow.products.add(product)
        for n, plan in enumerate(scenario):
            unit, count = INTERVALS[plan.interval]
            began = NOW - timedelta(days=plan.started_days_ago, seconds=plan.started_seconds)
            customer = Customer(
                id=stack.ids.new("cus"),
                tenant_id=tenant_id,
                display_name=f"Customer {n}",
                email=f"c{n}@example.com",
                currency_code="USD",
                billing_address=None,
                tax_location=None if plan.tax is None else _location(plan.tax),
                time_zone=plan.zone,
                metadata={},
                payment_methods=(),
                default_payment_method_id="",
                state=LifecycleState.ACTIVE,
                create_time=began,
                update_time=began,
            )
            uow.customers.add(customer)
            items = []
            for amount, quantity in plan.quantities:
                terms = PriceTerms(
                    "USD",
                    PricingScheme.PER_UNIT,
                    unit_amount_minor=amount,
                    recurring=Recurring(unit, count),
                )
                price = Price(
                    stack.ids.new("price"),
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
                items.append(SubscriptionItem(price.id, terms, quantity=quantity))
            if plan.usage is not None:
                items.append(_metered_item(stack, uow, tenant_id, product.id, unit, count))
            anchor_at = NOW - timedelta(days=plan.anchor_days_ago, seconds=plan.started_seconds)
            sub = create_subscription(
                id=stack.ids.new("sub"),
                tenant_id=tenant_id,
                customer_id=customer.id,
                items=items,
                anchor=anchor_from(anchor_at, plan.zone),
                interval=BillingInterval(unit, count),
                now=began,
            )
            sub = start(sub, began, trial_days=plan.trial_days).subscription
            if plan.cancel_at_end:
                sub = cancel_at_period_end(sub, began).subscription
            if plan.pending_credit and sub.trial_end is None:
                period = sub.current_period
                middle = period.start + (period.end - period.start) / 2
                middle = middle.replace(microsecond=0)
                credits = unused_time_credits(sub, middle, period)
                sub = replace(sub, pending_lines=tuple(stack.invoicing.lines(customer, credits)))
            uow.subscriptions.add(sub)
            subs.append(sub)
            if plan.usage is not None:
                _usage(stack, uow, sub, plan, began)
            if plan.credit_minor:
                stack.ledger.adjust(
                    uow,
                    tenant_id,
                    (
                        Entry(AccountRef("revenue", "USD"), Direction.DEBIT, plan.credit_minor),
                        Entry(
                            AccountRef("customer_credit", "USD", customer.id),
                            Direction.CREDIT,
                            plan.credit_minor,
                        ),
                    ),
                    reason="goodwill",
                    description="opening credit",
                )
        uow.commit()
    return subs


def _metered_item(
    stack: Stack, uow: Any, tenant_id: str, product_id: str, unit: IntervalUnit, count: int
) -> SubscriptionItem:
    """A graduated metered price on a SUM meter whose grace (30 days) outlasts periods."""
    meter = Meter(
        tenant_id=tenant_id,
        id=stack.ids.new("mtr"),
        display_name="Tokens",
        aggregation=Aggregation.SUM,
        value_property="tokens",
        dimension_keys=(),
        grace=MAX_GRACE,
        allow_negative=False,
        archived=False,
        create_time=NOW,
        update_time=NOW,
    )
    uow.usage.add_meter(meter)
    terms = PriceTerms(
        "USD",
        PricingScheme.TIERED,
        tiers=(PriceTier(up_to=20, unit_amount_minor=7), PriceTier(None, unit_amount_minor=3)),
        recurring=Recurring(unit, count, UsageType.METERED, meter.id),
    )
    price = Price(
        stack.ids.new("price"),
        tenant_id,
        product_id,
        terms,
        "",
        LifecycleState.ACTIVE,
        True,
        {},
        NOW,
        NOW,
    )
    uow.prices.add(price)
    return SubscriptionItem(price.id, terms)


def _usage(stack: Stack, uow: Any, sub: Subscription, plan: Plan, began: datetime) -> None:
    """The plan's events (stored as ingestion stores them) and its earlier billing."""
    (item,) = [item for item in sub.items if item.metered]
    assert item.terms.recurring is not None
    meter = uow.usage.get_meter(sub.tenant_id, item.terms.recurring.meter_id)
    events = []
    for hours, tokens in plan.usage or ():
        at = min(began + timedelta(hours=hours), NOW)
        events.append(
            NewEvent(
                id=stack.ids.new("evt"),
                meter_id=meter.id,
                customer_id=sub.customer_id,
                timestamp=at,
                properties={"tokens": str(tokens)},
                fingerprint="",
                reading=meter.read({"tokens": str(tokens)}),
            )
        )
    uow.usage.insert_events(sub.tenant_id, events, now=NOW)
    uow.usage.add_to_rollups(sub.tenant_id, {meter.id: meter}, events)
    if plan.billed_first_day is not None:
        first_day = Period(began, began + timedelta(days=1))
        uow.usage.add_billings(
            [
                BilledUsage(
                    tenant_id=sub.tenant_id,
                    id=stack.ids.new("ub"),
                    subscription_id=sub.id,
                    price_id=item.price_id,
                    meter_id=meter.id,
                    group_key="",
                    period_start=first_day.start,
                    period_end=first_day.end,
                    quantity_micros=0,
                    amount_minor=plan.billed_first_day,
                    invoice_id="in_earlier",
                    create_time=began,
                )
            ]
        )


def _location(code: str) -> TaxLocation:
    country, _, region = code.partition("-")
    return TaxLocation(country, region)


def _one_by_one(stack: Stack, subs: list[Subscription]) -> int:
    """Each subscription in its own transaction, in the bill run's order, by `run_due`."""
    steps = 0
    for due in sorted(subs, key=lambda s: (s.tenant_id, _due_at(s), s.id)):
        with stack.uow_factory(write=True) as uow:
            sub = uow.subscriptions.get(due.tenant_id, due.id, for_update=True)
            assert sub is not None
            customer = uow.customers.get(sub.tenant_id, sub.customer_id)
            assert customer is not None
            after, ran = stack.billing.run_due(uow, customer, sub, until=NOW)
            if ran:
                uow.subscriptions.update(after, expected_version=sub.version)
            steps += ran
            uow.commit()
    return steps


def _due_at(sub: Subscription) -> datetime:
    from accrue.subscriptions.model import scheduled_work

    work = scheduled_work(sub)
    return NOW if work is None else work.at


def _batched(stack: Stack) -> int:
    bill_run = BillRun(stack.uow_factory, stack.clock, stack.billing)
    steps = 0
    while (result := bill_run.run_batch(limit=7)).claimed:
        assert result.failed == 0
        steps += result.steps
    return steps


def _table(engine: Engine, table: Any, *, drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
    return [{k: v for k, v in row._mapping.items() if k not in drop} for row in rows]


def _events(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(select(t.events)).all()
    by_tenant: dict[str, list[int]] = {}
    for row in rows:
        by_tenant.setdefault(row.tenant_id, []).append(row.sequence)
    for sequences in by_tenant.values():
        assert sorted(sequences) == list(range(1, len(sequences) + 1))
    return sorted(
        (
            row.tenant_id,
            row.type,
            row.resource_type,
            row.resource_id,
            row.occur_time,
            row.payload_type,
            bytes(row.payload),
        )
        for row in rows
    )


COMPARED = (
    t.invoices,
    t.invoice_lines,
    t.document_counters,
    t.ledger_transactions,
    t.ledger_entries,
    t.ledger_accounts,
    t.ledger_heads,
    t.subscriptions,
)


def _assert_same(single: Engine, batch: Engine) -> int:
    for table in COMPARED:
        # Which database transaction wrote a row (PostgreSQL's xid) differs by nature.
        drop = ("writer_xid",)
        assert _table(batch, table, drop=drop) == _table(single, table, drop=drop), table.name
    # What the metered lines billed, whatever order the rows' ids were drawn in.
    drop_ids = ("id", "writer_xid")
    assert sorted(map(repr, _table(batch, t.usage_billings, drop=drop_ids))) == sorted(
        map(repr, _table(single, t.usage_billings, drop=drop_ids))
    )
    # Event ids are drawn in a different order (a batch posts first); everything else matches.
    assert _events(batch) == _events(single)
    with single.connect() as conn:
        return len(conn.execute(select(t.invoices.c.id)).all())


def _check(make: Any, scenario: list[Plan]) -> None:
    with make() as single_url, make() as batch_url:
        single, batch = Stack(build_engine(single_url)), Stack(build_engine(batch_url))
        try:
            subs = _seed(single, scenario)
            assert _seed(batch, scenario) == subs
            steps = _one_by_one(single, subs)
            assert _batched(batch) == steps
            single.sequencer.drain()
            batch.sequencer.drain()
            _assert_same(single.engine, batch.engine)
        finally:
            single.engine.dispose()
            batch.engine.dispose()


def _examples(default: int) -> int:
    return int(os.environ.get("ACCRUE_BILL_RUN_EXAMPLES", default))


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    engine = build_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


def test_batch_bills_as_one_by_one_on_sqlite(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    @contextmanager
    def fresh() -> Iterator[str]:
        path = tmp_path_factory.mktemp("db") / "accrue.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"

    @settings(
        max_examples=_examples(25),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(plans, min_size=1, max_size=12))
    def run(scenario: list[Plan]) -> None:
        _check(fresh, scenario)

    run()


def test_batch_bills_as_one_by_one_on_postgres(postgres_url: str) -> None:
    # postgres_url skips without PostgreSQL; each example makes its own two databases.
    @contextmanager
    def fresh() -> Iterator[str]:
        with ExitStack() as stack:
            url = stack.enter_context(fresh_postgres_database())
            engine = build_engine(url)
            migrate.upgrade(engine)
            engine.dispose()
            yield url

    @settings(
        max_examples=_examples(4),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(plans, min_size=1, max_size=12))
    def run(scenario: list[Plan]) -> None:
        _check(fresh, scenario)

    run()
