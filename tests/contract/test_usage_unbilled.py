"""Golden usage that used to go unbilled, each case billed exactly once.

Amounts are computed by hand; every scenario runs on a test clock, so the
renewals are the ones the bill run makes.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from accrue.billing.v1 import invoice_pb2 as inv
from accrue.billing.v1 import subscription_pb2 as sub
from accrue.billing.v1 import usage_pb2 as use
from tests.conftest import Transport
from tests.contract.billing_steps import Scenario, utc, when
from tests.contract.test_usage import event, ingest, meter
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
