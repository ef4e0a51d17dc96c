"""Migrations 0016 and 0017 rebuild the usage billing records and `usage_open_until`.

A subscription with three metered prices (one on a plain meter; one on a meter with a
dimension, labelled "API, v2", whose values contain ", "; one on a meter with two
dimensions where a value "a, tier=b" makes "region=a, tier=b, tier=c" split two ways) is
billed by the real bill run at revision 0015: a renewal with usage,
then one with late usage and an empty period. The records the code wrote are the answer;
all but one period's are deleted, as if invoiced before 0014. Upgrading to 0016 writes
back exactly the deleted records (quantities, groups and amounts), leaves the recorded
period alone and skips the ambiguous January period of the third price whole (its clean
group too), while that price's February zero line is rebuilt; the downgrade removes what it
wrote, and upgrading again writes the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select

from accrue import schema as t
from accrue.catalog.model import Price, PriceTerms, PricingScheme, Product, Recurring, UsageType
from accrue.event_log.service import EventRecorder
from accrue.invoicing.issuing import Invoicing
from accrue.invoicing.tax import DEFAULT_TABLE, RateTableTaxProvider
from accrue.kernel.calendar import BillingInterval, IntervalUnit, anchor_from
from accrue.kernel.ids import IdGenerator
from accrue.kernel.lifecycle import LifecycleState
from accrue.ledger.service import LedgerService
from accrue.payloads import encode_payload
from accrue.platform.clock import FixedClock
from accrue.platform.db import migrate
from accrue.platform.db.engine import build_engine
from accrue.subscriptions.bill_run import BillRun
from accrue.subscriptions.billing import SubscriptionBilling
from accrue.subscriptions.model import SubscriptionItem, create_subscription, start
from accrue.tenancy.use_cases import TenancyUseCases
from accrue.unit_of_work import SqlUnitOfWorkFactory
from accrue.usage.billing import UsageArrears
from accrue.usage.model import MAX_GRACE, Aggregation, Meter
from accrue.usage.ports import NewEvent
from tests.fakes.invoicing import customer as fake_customer

pytestmark = pytest.mark.timeout(120)

BEGAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB, MAR = datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)
COMPARED = ("subscription_id", "price_id", "meter_id", "group_key", "period_start")
COMPARED += ("period_end", "quantity_micros", "amount_minor", "invoice_id")


@pytest.fixture
def engine(empty_database_url: str) -> Iterator[Engine]:
    built = build_engine(empty_database_url, pool_size=2)
    yield built
    built.dispose()


class Billing:
    """The bill run and what it needs, at revision 0015, with a clock moved by hand."""

    def __init__(self, engine: Engine) -> None:
        self.clock = FixedClock(BEGAN)
        self.ids = IdGenerator(self.clock)
        self.uow_factory = SqlUnitOfWorkFactory(engine, encode_event=encode_payload)
        events = EventRecorder(self.clock, self.ids, lambda: "trace")
        ledger = LedgerService(self.clock, self.ids, events, lambda: "trace")
        invoicing = Invoicing(
            self.clock, self.ids, events, ledger, RateTableTaxProvider(DEFAULT_TABLE)
        )
        billing = SubscriptionBilling(invoicing, events, UsageArrears(self.uow_factory, self.ids))
        self.bill_run = BillRun(self.uow_factory, self.clock, billing)

    def run_until(self, at: datetime) -> None:
        self.clock.advance(at - self.clock.now())
        while self.bill_run.run_batch(limit=10).claimed:
            pass


def _meter(b: Billing, tenant_id: str, keys: tuple[str, ...]) -> Meter:
    return Meter(
        tenant_id=tenant_id,
        id=b.ids.new("mtr"),
        display_name="Tokens",
        aggregation=Aggregation.SUM,
        value_property="tokens",
        dimension_keys=keys,
        grace=MAX_GRACE,
        allow_negative=False,
        archived=False,
        create_time=BEGAN,
        update_time=BEGAN,
    )


def _seed(b: Billing) -> tuple[dict[str, Meter], dict[str, SubscriptionItem], str]:
    tenant_id = TenancyUseCases(b.uow_factory, b.clock, b.ids).create_tenant("backfill").tenant.id
    plain, regional = _meter(b, tenant_id, ()), _meter(b, tenant_id, ("region",))
    tiered = _meter(b, tenant_id, ("region", "tier"))
    meters = {"plain": plain, "regional": regional, "tiered": tiered}
    items: dict[str, SubscriptionItem] = {}
    with b.uow_factory(write=True) as uow:
        product = Product(
            b.ids.new("prod"), tenant_id, "API", "", LifecycleState.ACTIVE, {}, BEGAN, BEGAN
        )
        uow.products.add(product)
        uow.usage.add_meter(plain)
        uow.usage.add_meter(regional)
        uow.usage.add_meter(tiered)
        for name, meter, unit, label in (
            ("plain", plain, 7, "API (tokens)"),
            ("regional", regional, 5, "API, v2"),
            ("ambiguous", tiered, 3, "API (tiered)"),
        ):
            terms = PriceTerms(
                "USD",
                PricingScheme.PER_UNIT,
                unit_amount_minor=unit,
                recurring=Recurring(IntervalUnit.MONTH, 1, UsageType.METERED, meter.id),
            )
            price = Price(
                b.ids.new("price"),
                tenant_id,
                product.id,
                terms,
                "",
                LifecycleState.ACTIVE,
                True,
                {},
                BEGAN,
                BEGAN,
            )
            uow.prices.add(price)
            items[name] = SubscriptionItem(price.id, terms, label=label)
        customer = fake_customer(b.ids.new("cus"), tenant_id=tenant_id)
        uow.customers.add(customer)
        sub = create_subscription(
            id=b.ids.new("sub"),
            tenant_id=tenant_id,
            customer_id=customer.id,
            items=list(items.values()),
            anchor=anchor_from(BEGAN, "UTC"),
            interval=BillingInterval(IntervalUnit.MONTH, 1),
            now=BEGAN,
        )
        uow.subscriptions.add(start(sub, BEGAN).subscription)
        uow.commit()
    return meters, items, customer.id


def _report(b: Billing, meter: Meter, customer_id: str, at: datetime, **props: str) -> None:
    with b.uow_factory(write=True) as uow:
        event = NewEvent(
            id=b.ids.new("evt"),
            meter_id=meter.id,
            customer_id=customer_id,
            timestamp=at,
            properties=props,
            fingerprint="",
            reading=meter.read(props),
        )
        uow.usage.insert_events(meter.tenant_id, [event], now=b.clock.now())
        uow.usage.add_to_rollups(meter.tenant_id, {meter.id: meter}, [event])
        uow.commit()


def _records(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(select(*(t.usage_billings.c[name] for name in COMPARED))).all()
    return sorted(tuple(row) for row in rows)


def test_backfill_rebuilds_the_records_of_lines_invoiced_without_one(engine: Engine) -> None:
    migrate.upgrade(engine, "0015")
    b = Billing(engine)
    meters, items, customer_id = _seed(b)
    plain, regional, tiered = meters["plain"], meters["regional"], meters["tiered"]
    _report(b, plain, customer_id, BEGAN + timedelta(days=3), tokens="2.5")
    _report(b, regional, customer_id, BEGAN + timedelta(days=4), tokens="4", region="eu")
    _report(b, regional, customer_id, BEGAN + timedelta(days=5), tokens="1", region="us, west")
    _report(b, tiered, customer_id, BEGAN + timedelta(days=6), tokens="1", region="eu", tier="1")
    tricky = {"region": "a, tier=b", "tier": "c"}
    _report(b, tiered, customer_id, BEGAN + timedelta(days=7), tokens="2", **tricky)
    b.run_until(FEB + timedelta(hours=1))
    # Late usage of January, billed on March's invoice; February has none (zero lines).
    _report(b, plain, customer_id, BEGAN + timedelta(days=9), tokens="3")
    _report(b, regional, customer_id, BEGAN + timedelta(days=9), tokens="2", region="eu")
    b.run_until(MAR + timedelta(hours=1))
    written = _records(engine)
    plain_id, regional_id = items["plain"].price_id, items["regional"].price_id
    ambiguous_id = items["ambiguous"].price_id
    # What the code recorded: per price, period and group, exact quantities in millionths.
    # 2.5 x 7 = 17.5 rounds half-even to 18; 5.5 x 7 = 38.5 to 38, so the late line is 20.
    january = [r for r in written if r[4] == BEGAN]
    assert sorted((r[1], r[3], r[6], r[7]) for r in january) == sorted(
        [
            (plain_id, "", 2_500_000, 18),
            (plain_id, "", 3_000_000, 20),
            (regional_id, '["eu"]', 4_000_000, 20),
            (regional_id, '["eu"]', 2_000_000, 10),
            (regional_id, '["us, west"]', 1_000_000, 5),
            (ambiguous_id, '["eu","1"]', 1_000_000, 3),
            (ambiguous_id, '["a, tier=b","c"]', 2_000_000, 6),
        ]
    )
    kept = [r for r in written if r[1] == plain_id and r[4] == FEB]
    assert kept
    with engine.begin() as conn:
        conn.execute(
            delete(t.usage_billings).where(
                (t.usage_billings.c.price_id != plain_id) | (t.usage_billings.c.period_start != FEB)
            )
        )
    assert _records(engine) == kept

    migrate.upgrade(engine)
    expected = sorted(r for r in written if (r[1], r[4]) != (ambiguous_id, BEGAN))
    assert [r for r in expected if r[1] == ambiguous_id] == [
        r for r in written if (r[1], r[4]) == (ambiguous_id, FEB)
    ]
    assert _records(engine) == expected
    migrate.downgrade(engine, "0015")
    assert _records(engine) == kept
    migrate.upgrade(engine)
    assert _records(engine) == expected


def _open_until(engine: Engine) -> dict[str, datetime | None]:
    with engine.connect() as conn:
        rows = conn.execute(select(t.subscriptions.c.id, t.subscriptions.c.usage_open_until))
        return {row.id: row.usage_open_until for row in rows}


def test_0017_sets_until_when_billed_usage_may_change_where_it_was_never_set(
    engine: Engine,
) -> None:
    """What billing set is the answer; cleared (as if billed before 0015), 0017 sets it
    again from the billing records. A subscription that billed no usage keeps NULL,
    and one that carries a value keeps it."""
    migrate.upgrade(engine, "0016")
    b = Billing(engine)
    meters, _items, customer_id = _seed(b)
    _report(b, meters["plain"], customer_id, BEGAN + timedelta(days=3), tokens="2")
    _report(b, meters["regional"], customer_id, BEGAN + timedelta(days=4), tokens="1", region="eu")
    b.run_until(FEB + timedelta(hours=1))
    [(billed_id, written)] = _open_until(engine).items()
    assert written == FEB + MAX_GRACE  # January's usage may change until its grace ends
    _other_meters, _other_items, _ = _seed(b)  # a second subscription, nothing billed yet
    unbilled_id = next(s for s in _open_until(engine) if s != billed_id)
    with engine.begin() as conn:
        conn.execute(t.subscriptions.update().values(usage_open_until=None))

    migrate.upgrade(engine)
    assert _open_until(engine) == {billed_id: written, unbilled_id: None}

    kept = datetime(2030, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(t.subscriptions.update().values(usage_open_until=kept))
    migrate.downgrade(engine, "0016")
    migrate.upgrade(engine)
    assert _open_until(engine) == {billed_id: kept, unbilled_id: kept}
