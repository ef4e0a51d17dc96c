"""Golden usage that used to go unbilled, each case billed exactly once.

Amounts are computed by hand; every scenario runs on a test clock, so the
renewals are the ones the bill run makes.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from accrue.billing.v1 import catalog_pb2 as cat
from accrue.billing.v1 import invoice_pb2 as inv
from accrue.billing.v1 import subscription_pb2 as sub
from accrue.billing.v1 import usage_pb2 as use
from tests.conftest import Transport
from tests.contract.billing_steps import CATALOG, Scenario, money, rid, utc, when
from tests.contract.test_usage import USAGE, event, ingest, meter
from tests.contract.test_usage_billing import (
    FEB,
    JAN,
    MAR,
    cycle_invoice,
    metered_price,
    report,
    subscribe,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def s(rpc: Transport) -> Scenario:
    return Scenario(rpc, JAN, name="unbilled")


def usage_lines(invoices: list[inv.Invoice]) -> list[tuple[str, int, object, object]]:
    """Every metered line of `invoices`: (price, amount, period start, period end)."""
    return [
        (line.price_id, line.amount.amount_minor, when(line.period_start), when(line.period_end))
        for invoice in invoices
        for line in invoice.lines
        if "usage" in line.description and "billed at period end" not in line.description
    ]


def test_cancel_now_mid_period_bills_the_usage_so_far_on_the_final_invoice(
    s: Scenario,
) -> None:
    tokens = meter(s, use.METER_AGGREGATION_SUM, prop="tokens")
    customer = s.customer()
    api = metered_price(s, tokens.id, unit=7)
    subscription = subscribe(s, customer.id, api.id)
    report(s, tokens.id, customer.id, utc(2026, 1, 31, 20), tokens="4")
    s.advance(FEB)
    # January's late event (inside the one-day grace), after January's invoice.
    s.advance(FEB + timedelta(hours=12))
    ingest(s, event(tokens.id, customer.id, utc(2026, 1, 31, 23), tokens="1"))
    report(s, tokens.id, customer.id, utc(2026, 2, 3), tokens="10")
    s.advance(utc(2026, 2, 10))
    canceled = s.cancel(subscription.id)
    final = s.invoice(canceled.latest_invoice_id)
    assert final.billing_reason == inv.BILLING_REASON_SUBSCRIPTION_ADJUSTMENT
    # February 1-10: 10 x 7 = 70; January's late token: 1 x 7 = 7.
    assert usage_lines([final]) == [
        (api.id, 70, FEB, utc(2026, 2, 10)),
        (api.id, 7, JAN, FEB),
    ]
    assert final.total.amount_minor == 77
    # Nothing more is billed afterwards, however far the clock goes.
    before = len(s.invoices(subscription_id=subscription.id))
    s.advance(utc(2026, 4, 1))
    assert len(s.invoices(subscription_id=subscription.id)) == before
    # Over all invoices: January 4 + 1 = 5 tokens, February 10: 105 at 7 each.
    total = sum(
        amount for _, amount, _, _ in usage_lines(s.invoices(subscription_id=subscription.id))
    )
    assert total == 15 * 7


def test_plan_change_without_proration_still_bills_the_old_price_usage(s: Scenario) -> None:
    tokens = meter(s, use.METER_AGGREGATION_SUM, prop="tokens")
    customer = s.customer()
    basic = metered_price(s, tokens.id, unit=10)
    pro = metered_price(s, tokens.id, unit=20)
    subscription = subscribe(s, customer.id, basic.id)
    report(s, tokens.id, customer.id, utc(2026, 1, 5), tokens="5")
    s.advance(utc(2026, 1, 15))
    changed = s.change(subscription.id, pro.id, behavior=sub.PRORATION_BEHAVIOR_NONE)
    assert not changed.invoice.id
    report(s, tokens.id, customer.id, utc(2026, 1, 20), tokens="3")
    s.advance(FEB)
    invoice = cycle_invoice(s, subscription.id, JAN)
    # Basic: 5 x 10 for Jan 1-15 (carried to this invoice); Pro: 3 x 20 for Jan 15 - Feb 1.
    assert sorted(usage_lines([invoice])) == sorted(
        [
            (basic.id, 50, JAN, utc(2026, 1, 15)),
            (pro.id, 60, utc(2026, 1, 15), FEB),
        ]
    )
    s.advance(MAR)
    every = usage_lines(s.invoices(subscription_id=subscription.id))
    assert [line for line in every if line[0] == basic.id] == [
        (basic.id, 50, JAN, utc(2026, 1, 15))
    ]


def weekly_price(s: Scenario, meter_id: str, *, unit: int) -> cat.Price:
    price = cat.Price(
        product_id=s.product.id,
        currency_code="USD",
        pricing_scheme=cat.PRICING_SCHEME_PER_UNIT,
        unit_amount=money(unit),
        recurring=cat.Recurring(
            interval_unit=cat.INTERVAL_UNIT_WEEK,
            interval_count=1,
            usage_type=cat.USAGE_TYPE_METERED,
            meter_id=meter_id,
        ),
    )
    return s.call(CATALOG, "CreatePrice", cat.CreatePriceRequest(price=price, request_id=rid()))


def test_late_usage_after_the_next_renewal_is_billed_once_on_the_following_invoice(
    s: Scenario,
) -> None:
    # Weekly periods, a ten-day grace: usage of a week can arrive after the next renewal.
    tokens = meter(s, use.METER_AGGREGATION_SUM, prop="tokens", grace_seconds=10 * 86400)
    customer = s.customer()
    api = weekly_price(s, tokens.id, unit=100)
    subscription = subscribe(s, customer.id, api.id)
    week1, week2, week3 = JAN, utc(2026, 1, 8), utc(2026, 1, 15)
    report(s, tokens.id, customer.id, utc(2026, 1, 3), tokens="2")
    s.advance(week2)
    s.advance(utc(2026, 1, 9))
    ingest(s, event(tokens.id, customer.id, utc(2026, 1, 7), tokens="3"))
    s.advance(week3)
    # After the renewal of January 15, still inside week 1's grace (to January 18).
    s.advance(utc(2026, 1, 16))
    ingest(s, event(tokens.id, customer.id, utc(2026, 1, 6), tokens="4"))
    s.advance(utc(2026, 1, 19))
    refused = ingest(s, event(tokens.id, customer.id, utc(2026, 1, 6), tokens="50"))
    assert [r.reason for r in refused.results] == ["USAGE_EVENT_TOO_LATE"]
    s.advance(utc(2026, 2, 5))
    invoices = s.invoices(subscription_id=subscription.id)
    by_invoice = [usage_lines([invoice]) for invoice in invoices]
    week1_lines = [
        (amount, when(invoice.create_time))
        for invoice, lines in zip(invoices, by_invoice, strict=True)
        for _, amount, start, _ in lines
        if start == week1
    ]
    # 2 tokens at week 1's renewal, 3 late on January 15's invoice, 4 late on January 22's.
    assert sorted(week1_lines) == [
        (200, week2),
        (300, week3),
        (400, utc(2026, 1, 22)),
    ]
    late = [
        line for invoice in invoices for line in invoice.lines if "late usage" in line.description
    ]
    assert [line.description.split(", ")[-2] for line in late] == ["late usage 3", "late usage 4"]
    assert all(when(line.period_start) == week1 for line in late)
    assert all(when(line.period_end) == week2 for line in late)


def test_a_correction_after_its_period_was_invoiced_is_billed_as_an_adjustment_line(
    s: Scenario,
) -> None:
    tokens = meter(s, use.METER_AGGREGATION_SUM, prop="tokens")
    customer = s.customer()
    api = metered_price(s, tokens.id, unit=100)
    subscription = subscribe(s, customer.id, api.id)
    big, small = rid(), rid()
    s.advance(utc(2026, 1, 10))
    ingest(s, event(tokens.id, customer.id, utc(2026, 1, 10), event_id=big, tokens="5"))
    s.advance(utc(2026, 1, 20))
    ingest(s, event(tokens.id, customer.id, utc(2026, 1, 20), event_id=small, tokens="2"))
    s.advance(FEB)
    assert usage_lines([cycle_invoice(s, subscription.id, JAN)]) == [(api.id, 700, JAN, FEB)]
    # Inside January's one-day grace: the big event was test traffic, the small one
    # was miscounted.
    s.advance(FEB + timedelta(hours=6))
    s.call(USAGE, "CancelUsageEvent", use.CancelUsageEventRequest(id=big, reason="test traffic"))
    s.call(
        USAGE,
        "AmendUsageEvent",
        use.AmendUsageEventRequest(id=small, properties={"tokens": "3"}, reason="miscounted"),
    )
    report(s, tokens.id, customer.id, utc(2026, 2, 10), tokens="1")
    s.advance(MAR)
    march = cycle_invoice(s, subscription.id, FEB)
    # February: 1 x 100. January: now 3 tokens = 300, 700 billed: -400, naming January.
    assert usage_lines([march]) == [(api.id, 100, FEB, MAR), (api.id, -400, JAN, FEB)]
    adjustment = march.lines[1]
    assert "usage adjustment -4" in adjustment.description
    assert "less 700 already billed" in adjustment.derivation.explanation
    # A net credit: the invoice is settled at once and the 300 becomes credit balance...
    assert (march.total.amount_minor, march.amount_due.amount_minor) == (-300, 0)
    assert march.status == inv.INVOICE_STATUS_PAID
    report(s, tokens.id, customer.id, utc(2026, 3, 10), tokens="10")
    s.advance(utc(2026, 4, 1))
    april = cycle_invoice(s, subscription.id, MAR)
    # ...which the next invoice uses: 1,000 for March, 300 of credit applied.
    assert usage_lines([april]) == [(api.id, 1000, MAR, utc(2026, 4, 1))]
    assert (april.credit_applied.amount_minor, april.amount_due.amount_minor) == (300, 700)
    every = usage_lines(s.invoices(subscription_id=subscription.id))
    # Billed over every invoice: January 3, February 1, March 10 tokens, at 100.
    assert sum(amount for _, amount, _, _ in every) == 1400


def test_late_usage_in_a_new_group_of_a_period_without_usage_is_billed(s: Scenario) -> None:
    storage = meter(s, use.METER_AGGREGATION_SUM, prop="gb", dimension_keys=["region"])
    customer = s.customer()
    api = metered_price(s, storage.id, unit=7)
    subscription = subscribe(s, customer.id, api.id)
    s.advance(FEB)
    # January had no usage in any group: one zero line keeps it on record.
    assert usage_lines([cycle_invoice(s, subscription.id, JAN)]) == [(api.id, 0, JAN, FEB)]
    s.advance(FEB + timedelta(hours=3))
    ingest(s, event(storage.id, customer.id, utc(2026, 1, 31, 22), gb="6", region="eu"))
    s.advance(MAR)
    march = cycle_invoice(s, subscription.id, FEB)
    # February: no usage (a zero line); January's late 6 GB in eu at 7: 42.
    assert usage_lines([march]) == [(api.id, 0, FEB, MAR), (api.id, 42, JAN, FEB)]
    assert "region=eu" in march.lines[1].description
