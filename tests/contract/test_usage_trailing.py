"""Golden late usage that outlives the metered items that billed it.

A plan change that removes every metered item leaves usage periods billed
whose grace has not closed. Late usage and corrections inside that grace are
billed exactly once, at the price they were used under, on the next renewal.
Amounts are computed by hand; every scenario runs on a test clock.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from accrue.billing.v1 import invoice_pb2 as inv
from accrue.billing.v1 import subscription_pb2 as sub
from accrue.billing.v1 import usage_pb2 as use
from tests.conftest import Transport
from tests.contract.billing_steps import SUBSCRIPTIONS, Scenario, rid, utc
from tests.contract.test_usage import event, ingest, meter
from tests.contract.test_usage_billing import FEB, JAN, MAR, metered_price, report, subscribe
from tests.contract.test_usage_unbilled import usage_lines

pytestmark = pytest.mark.timeout(120)
APR = utc(2026, 4, 1)


@pytest.fixture
def s(rpc: Transport) -> Scenario:
    return Scenario(rpc, JAN, name="trailing")


def only(s: Scenario, subscription_id: str, price_id: str) -> None:
    """Change the subscription to `price_id` alone, without proration."""
    request = sub.ChangeSubscriptionRequest(
        subscription_id=subscription_id,
        items=[sub.SubscriptionItem(price_id=price_id, quantity=1)],
        proration_behavior=sub.PRORATION_BEHAVIOR_NONE,
        request_id=rid(),
    )
    s.call(SUBSCRIPTIONS, "ChangeSubscription", request)


def test_late_usage_of_a_metered_price_a_change_removed_is_billed_at_its_old_price(
    s: Scenario,
) -> None:
    tokens = meter(s, use.METER_AGGREGATION_SUM, prop="tokens")
    customer = s.customer()
    seat = s.price(1000)
    api = metered_price(s, tokens.id, unit=10)
    subscription = subscribe(s, customer.id, seat.id, api.id)
    report(s, tokens.id, customer.id, utc(2026, 1, 5), tokens="5")
    s.advance(utc(2026, 1, 15))
    only(s, subscription.id, seat.id)  # no metered item left
    # After the change, two events of January 10 arrive late.
    s.advance(utc(2026, 1, 15, 12))
    ingest(s, event(tokens.id, customer.id, utc(2026, 1, 10), tokens="2"))
    s.advance(utc(2026, 1, 25))
    ingest(s, event(tokens.id, customer.id, utc(2026, 1, 11), tokens="4"))
    s.advance(FEB)
    (february,) = [
        i
        for i in s.invoices(subscription_id=subscription.id)
        if i.billing_reason == inv.BILLING_REASON_SUBSCRIPTION_CYCLE
    ]
    # Jan 1-15 at 10: 5 billed to the change (carried here), 6 late: 60.
    assert usage_lines([february]) == [
        (api.id, 50, JAN, utc(2026, 1, 15)),
        (api.id, 60, JAN, utc(2026, 1, 15)),
    ]
    assert "late usage 6" in february.lines[1].description
    # The seat for February in advance: 1,000.
    assert february.total.amount_minor == 1000 + 50 + 60
    # Inside January's grace (the billing period's end plus one day): one more event
    # and a correction of the first late one (2 -> 1 tokens).
    s.advance(FEB + timedelta(hours=12))
    late = ingest(s, event(tokens.id, customer.id, utc(2026, 1, 12), event_id=rid(), tokens="3"))
    assert [r.outcome for r in late.results] == [use.USAGE_EVENT_OUTCOME_ACCEPTED]
    s.advance(MAR)
    march = [
        i
        for i in s.invoices(subscription_id=subscription.id)
        if i.billing_reason == inv.BILLING_REASON_SUBSCRIPTION_CYCLE
    ][-1]
    # 3 more tokens of January 1-15 at the old price: 30.
    assert usage_lines([march]) == [(api.id, 30, JAN, utc(2026, 1, 15))]
    s.advance(APR)
    every = usage_lines(s.invoices(subscription_id=subscription.id))
    # 5 + 2 + 4 + 3 = 14 tokens at 10, each billed once.
    assert sum(amount for _, amount, _, _ in every) == 140
