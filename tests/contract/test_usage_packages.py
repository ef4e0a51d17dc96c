"""Golden PACKAGE prices on test clocks, amounts computed by hand.

A PACKAGE price charges `unit_amount` per package of `package_size` units, a
partial package rounded up (Stripe's `transform_quantity` with `divide_by` and
`round: up`); the line counts the packages at the package price and its
explanation states the quantity and the packages.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from accrue.billing.v1 import catalog_pb2 as cat
from accrue.billing.v1 import subscription_pb2 as sub
from accrue.billing.v1 import usage_pb2 as use
from tests.conftest import Transport
from tests.contract.billing_steps import CATALOG, SUBSCRIPTIONS, Scenario, money, rid, utc, when
from tests.contract.test_usage import event, ingest, meter
from tests.contract.test_usage_billing import FEB, JAN, cycle_invoice, report, subscribe

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def s(rpc: Transport) -> Scenario:
    return Scenario(rpc, JAN, name="packages")


def package_price(
    s: Scenario, *, per_package: int, size: int, meter_id: str = "", metered: bool = True
) -> cat.Price:
    price = cat.Price(
        product_id=s.product.id,
        currency_code="USD",
        pricing_scheme=cat.PRICING_SCHEME_PACKAGE,
        unit_amount=money(per_package),
        package_size=size,
        nickname="Calls",
        recurring=cat.Recurring(
            interval_unit=cat.INTERVAL_UNIT_MONTH,
            interval_count=1,
            usage_type=cat.USAGE_TYPE_METERED if metered else cat.USAGE_TYPE_LICENSED,
            meter_id=meter_id,
        ),
    )
    return s.call(CATALOG, "CreatePrice", cat.CreatePriceRequest(price=price, request_id=rid()))


@pytest.mark.parametrize(
    ("reported", "packages", "amount"),
    [
        # 1,001 units at 5 per 100: 10 whole packages and one partial, rounded up.
        (["600", "401"], 11, 55),
        # Exactly 1,000 units: 10 packages, no rounding.
        (["1000"], 10, 50),
        # 0.5 units is one package already.
        (["0.5"], 1, 5),
    ],
)
def test_metered_package_price_bills_whole_packages_rounding_a_partial_one_up(
    s: Scenario, reported: list[str], packages: int, amount: int
) -> None:
    calls = meter(s, use.METER_AGGREGATION_SUM, prop="calls")
    customer = s.customer()
    price = package_price(s, per_package=5, size=100, meter_id=calls.id)
    assert (price.pricing_scheme, price.package_size) == (cat.PRICING_SCHEME_PACKAGE, 100)
    subscription = subscribe(s, customer.id, price.id)
    for day, value in enumerate(reported, start=3):
        report(s, calls.id, customer.id, utc(2026, 1, day), calls=value)
    s.advance(FEB)
    (line,) = cycle_invoice(s, subscription.id, JAN).lines
    assert (line.amount.amount_minor, line.quantity, line.unit_amount.amount_minor) == (
        amount,
        packages,
        5,
    )
    assert (when(line.period_start), when(line.period_end)) == (JAN, FEB)
    assert f"{packages} packages of 100" in line.description
    assert (
        f"in packages of 100, rounded up = {packages} packages \u00d7 0.05 USD"
        in line.derivation.explanation
    )


def test_late_usage_on_a_package_price_bills_only_the_packages_it_adds(s: Scenario) -> None:
    calls = meter(s, use.METER_AGGREGATION_SUM, prop="calls")
    customer = s.customer()
    price = package_price(s, per_package=5, size=100, meter_id=calls.id)
    subscription = subscribe(s, customer.id, price.id)
    report(s, calls.id, customer.id, utc(2026, 1, 20), calls="150")
    s.advance(FEB)
    # 150 units: 2 packages, 10.
    assert [line.amount.amount_minor for line in cycle_invoice(s, subscription.id, JAN).lines] == [
        10
    ]
    s.advance(FEB + timedelta(hours=6))
    ingest(s, event(calls.id, customer.id, utc(2026, 1, 31, 22), calls="60"))
    s.advance(utc(2026, 3, 1))
    invoice = cycle_invoice(s, subscription.id, FEB)
    # January now 210 units = 3 packages (15); 10 billed, so 1 more package: 5.
    late = [line for line in invoice.lines if "late usage" in line.description]
    assert [
        (line.amount.amount_minor, line.quantity, when(line.period_start)) for line in late
    ] == [(5, 1, JAN)]


def test_licensed_package_price_bills_seats_in_whole_packages_in_advance(s: Scenario) -> None:
    customer = s.customer()
    price = package_price(s, per_package=1000, size=5, metered=False)
    request = sub.CreateSubscriptionRequest(
        customer_id=customer.id,
        items=[sub.SubscriptionItem(price_id=price.id, quantity=12)],
        request_id=rid(),
    )
    subscription = s.call(SUBSCRIPTIONS, "CreateSubscription", request)
    (line,) = s.invoice(subscription.latest_invoice_id).lines
    # 12 seats in packages of 5: 3 packages x 10.00.
    assert line.amount.amount_minor == 3000
    assert "12 units in packages of 5, rounded up = 3 packages" in line.derivation.explanation


@pytest.mark.parametrize(
    ("scheme", "size", "field"),
    [
        (cat.PRICING_SCHEME_PACKAGE, 0, "price.package_size"),
        (cat.PRICING_SCHEME_PER_UNIT, 100, "price.package_size"),
    ],
)
def test_a_package_size_only_on_package_prices_and_at_least_one(
    s: Scenario, scheme: int, size: int, field: str
) -> None:
    price = cat.Price(
        product_id=s.product.id,
        currency_code="USD",
        pricing_scheme=scheme,
        unit_amount=money(5),
        package_size=size,
    )
    failure = s.fail(CATALOG, "CreatePrice", cat.CreatePriceRequest(price=price, request_id=rid()))
    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")
    assert failure.field_violations == [field]


def test_a_package_price_needs_a_unit_amount_and_no_tiers(s: Scenario) -> None:
    price = cat.Price(
        product_id=s.product.id,
        currency_code="USD",
        pricing_scheme=cat.PRICING_SCHEME_PACKAGE,
        package_size=10,
        tiers=[cat.PriceTier(unit_amount=money(1))],
    )
    failure = s.fail(CATALOG, "CreatePrice", cat.CreatePriceRequest(price=price, request_id=rid()))
    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")
