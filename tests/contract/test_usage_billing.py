"""Golden metered billing on test clocks, amounts computed by hand.

Metered items are billed in arrears at renewal for the period that just
ended, on the same invoice as the licensed items billed in advance; each
line states its exact quantity and the tiers it used.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from accrue.billing.v1 import catalog_pb2 as cat
from accrue.billing.v1 import invoice_pb2 as inv
from accrue.billing.v1 import subscription_pb2 as sub
from accrue.billing.v1 import usage_pb2 as use
from tests.conftest import Transport
from tests.contract.billing_steps import CATALOG, SUBSCRIPTIONS, Scenario, money, rid, utc, when
from tests.contract.test_usage import USAGE, event, ingest, meter

pytestmark = pytest.mark.timeout(120)
JAN, FEB, MAR = utc(2026, 1, 1), utc(2026, 2, 1), utc(2026, 3, 1)


@pytest.fixture
def s(rpc: Transport) -> Scenario:
    return Scenario(rpc, JAN, name="metered")


def metered_price(
    s: Scenario,
    meter_id: str,
    *,
    unit: int | None = None,
    tiers: list[cat.PriceTier] = (),
    scheme: int = cat.PRICING_SCHEME_PER_UNIT,
) -> cat.Price:
    price = cat.Price(
        product_id=s.product.id,
        currency_code="USD",
        pricing_scheme=scheme,
        nickname="API",
        tiers=list(tiers),
        recurring=cat.Recurring(
            interval_unit=cat.INTERVAL_UNIT_MONTH,
            interval_count=1,
            usage_type=cat.USAGE_TYPE_METERED,
            meter_id=meter_id,
        ),
    )
    if unit is not None:
        price.unit_amount.CopyFrom(money(unit))
    return s.call(CATALOG, "CreatePrice", cat.CreatePriceRequest(price=price, request_id=rid()))


def subscribe(s: Scenario, customer_id: str, *price_ids: str) -> sub.Subscription:
    request = sub.CreateSubscriptionRequest(
        customer_id=customer_id,
        items=[sub.SubscriptionItem(price_id=p, quantity=1) for p in price_ids],
        request_id=rid(),
    )
    return s.call(SUBSCRIPTIONS, "CreateSubscription", request)


def report(s: Scenario, meter_id: str, customer_id: str, at: datetime, **props: str) -> str:
    s.advance(at)
    answer = ingest(s, event(meter_id, customer_id, at, **props))
    return use.UsageEventOutcome.Name(answer.results[0].outcome) + answer.results[0].reason


def cycle_invoice(s: Scenario, subscription_id: str, start: datetime) -> inv.Invoice:
    (found,) = [
        i
        for i in s.invoices(subscription_id=subscription_id)
        if i.billing_reason == inv.BILLING_REASON_SUBSCRIPTION_CYCLE
        and any(when(line.period_start) == start for line in i.lines if not line.proration)
        and i.create_time.ToDatetime() >= start.replace(tzinfo=None)
    ]
    return found


def lines(invoice: inv.Invoice) -> list[tuple[str, int, datetime]]:
    return [
        (line.description.split(", ")[-2], line.amount.amount_minor, when(line.period_start))
        for line in invoice.lines
    ]


def test_per_unit_usage_is_billed_in_arrears_beside_the_licensed_item_in_advance(
    s: Scenario,
) -> None:
    tokens = meter(s, use.METER_AGGREGATION_SUM, prop="tokens")
    customer = s.customer()
    seat = s.price(1000)
    api = metered_price(s, tokens.id, unit=3)
    subscription = subscribe(s, customer.id, seat.id, api.id)
    first = s.invoice(subscription.latest_invoice_id)
    assert [line.amount.amount_minor for line in first.lines] == [1000]
    assert (
        report(s, tokens.id, customer.id, utc(2026, 1, 5), tokens="100.5")
        == "USAGE_EVENT_OUTCOME_ACCEPTED"
    )
    report(s, tokens.id, customer.id, utc(2026, 1, 20), tokens="1000")
    upcoming = s.upcoming(subscription.id)
    # 1,100.5 tokens x 3 = 3,301.5 minor units, rounded half-even once: 3,302.
    assert [line.amount.amount_minor for line in upcoming.lines] == [3302, 1000]
    s.advance(FEB)
    renewal = cycle_invoice(s, subscription.id, JAN)
    metered, licensed = renewal.lines
    assert (metered.amount.amount_minor, when(metered.period_start), when(metered.period_end)) == (
        3302,
        JAN,
        FEB,
    )
    assert "usage 1100.5" in metered.description
    assert metered.derivation.unrounded_amount == "6603/2"
    assert "1100.5 \u00d7 0.03 USD" in metered.derivation.explanation
    assert (licensed.amount.amount_minor, when(licensed.period_start)) == (1000, FEB)
    assert renewal.total.amount_minor == 4302


TIERS = [
    cat.PriceTier(up_to=100, unit_amount=money(10)),
    cat.PriceTier(up_to=1000, unit_amount=money(5)),
    cat.PriceTier(unit_amount=money(2), flat_amount=money(500)),
]


@pytest.mark.parametrize(
    ("scheme", "expected"),
    [
        # Graduated: 100 x 10 + 900 x 5 + 120 x 2 + 500 flat = 1,000 + 4,500 + 240 + 500.
        (cat.PRICING_SCHEME_TIERED, 6240),
        # Volume: all 1,120 at the third tier's 2, plus its 500 flat.
        (cat.PRICING_SCHEME_VOLUME, 2740),
    ],
)
def test_tiers_crossed_mid_period_are_priced_on_the_period_total(
    s: Scenario, scheme: int, expected: int
) -> None:
    calls = meter(s, use.METER_AGGREGATION_COUNT, prop="")
    customer = s.customer()
    api = metered_price(s, calls.id, tiers=TIERS, scheme=scheme)
    subscription = subscribe(s, customer.id, api.id)
    s.advance(utc(2026, 1, 10))
    for day, count in ((3, 60), (10, 60), (25, 1000)):
        at = utc(2026, 1, day)
        s.advance(max(at, utc(2026, 1, 10)))
        for start in range(0, count, 500):
            batch = [event(calls.id, customer.id, at) for _ in range(min(500, count - start))]
            ingest(s, *batch)
    s.advance(FEB)
    (line,) = cycle_invoice(s, subscription.id, JAN).lines
    assert line.amount.amount_minor == expected
    assert line.quantity == 1120
    assert "tier " in line.derivation.explanation


def test_grouped_meter_bills_one_line_per_group(s: Scenario) -> None:
    storage = meter(s, use.METER_AGGREGATION_MAX, prop="gb", dimension_keys=["region"])
    customer = s.customer()
    api = metered_price(s, storage.id, unit=7)
    subscription = subscribe(s, customer.id, api.id)
    report(s, storage.id, customer.id, utc(2026, 1, 2), gb="10", region="eu")
    report(s, storage.id, customer.id, utc(2026, 1, 3), gb="4", region="eu")
    report(s, storage.id, customer.id, utc(2026, 1, 4), gb="3", region="us")
    s.advance(FEB)
    invoice = cycle_invoice(s, subscription.id, JAN)
    assert [
        (line.amount.amount_minor, "region=" in line.description) for line in invoice.lines
    ] == [
        (70, True),
        (21, True),
    ]
    assert "region=eu" in invoice.lines[0].description


def test_late_usage_inside_the_grace_is_billed_next_time_naming_its_period(
    s: Scenario,
) -> None:
    tokens = meter(s, use.METER_AGGREGATION_SUM, prop="tokens")
    customer = s.customer()
    api = metered_price(s, tokens.id, unit=100)
    subscription = subscribe(s, customer.id, api.id)
    report(s, tokens.id, customer.id, utc(2026, 1, 31), tokens="2")
    s.advance(FEB)
    assert [line.amount.amount_minor for line in cycle_invoice(s, subscription.id, JAN).lines] == [
        200
    ]
    # Twelve hours after January closed (grace: one day), a January event arrives.
    s.advance(FEB + timedelta(hours=12))
    late = ingest(s, event(tokens.id, customer.id, utc(2026, 1, 31, 23), tokens="3"))
    assert [r.outcome for r in late.results] == [use.USAGE_EVENT_OUTCOME_ACCEPTED]
    s.advance(FEB + timedelta(days=2))
    too_late = ingest(s, event(tokens.id, customer.id, utc(2026, 1, 31, 23), tokens="5"))
    assert [r.reason for r in too_late.results] == ["USAGE_EVENT_TOO_LATE"]
    report(s, tokens.id, customer.id, utc(2026, 2, 10), tokens="1")
    s.advance(MAR)
    invoice = cycle_invoice(s, subscription.id, FEB)
    assert [
        (line.amount.amount_minor, when(line.period_start), when(line.period_end))
        for line in invoice.lines
    ] == [(100, FEB, MAR), (300, JAN, FEB)]
    assert "late usage 3" in invoice.lines[1].description


def test_a_metered_price_without_a_meter_cannot_be_subscribed(s: Scenario) -> None:
    customer = s.customer()
    price = metered_price(s, "", unit=1)
    failure = s.fail(
        SUBSCRIPTIONS,
        "CreateSubscription",
        sub.CreateSubscriptionRequest(
            customer_id=customer.id,
            items=[sub.SubscriptionItem(price_id=price.id)],
            request_id=rid(),
        ),
    )
    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")
    _ = USAGE


def test_plan_change_mid_period_bills_usage_before_and_after_to_the_right_price(
    s: Scenario,
) -> None:
    tokens = meter(s, use.METER_AGGREGATION_SUM, prop="tokens")
    customer = s.customer()
    basic = metered_price(s, tokens.id, unit=10)
    pro = metered_price(s, tokens.id, unit=20)
    subscription = subscribe(s, customer.id, basic.id)
    report(s, tokens.id, customer.id, utc(2026, 1, 5), tokens="5")
    s.advance(utc(2026, 1, 15))
    s.change(subscription.id, pro.id)
    report(s, tokens.id, customer.id, utc(2026, 1, 20), tokens="3")
    s.advance(FEB)
    invoice = cycle_invoice(s, subscription.id, JAN)
    got = [
        (line.price_id, line.amount.amount_minor, when(line.period_start), when(line.period_end))
        for line in invoice.lines
    ]
    # Basic: 5 tokens x 10 for Jan 1-15; Pro: 3 tokens x 20 for Jan 15 - Feb 1.
    assert got == [
        (basic.id, 50, JAN, utc(2026, 1, 15)),
        (pro.id, 60, utc(2026, 1, 15), FEB),
    ]
