"""Golden late usage that outlives the metered items or the subscription that billed it.

A plan change that removes every metered item, and a cancellation, both leave
usage periods billed whose grace has not closed. Late usage and corrections
inside that grace are billed exactly once, at the price they were used
under: on the next renewal for a removed price, on one trailing invoice once
the grace has closed for a canceled subscription. Amounts are computed by
hand; every scenario runs on a test clock.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from accrue.billing.v1 import invoice_pb2 as inv
from accrue.billing.v1 import subscription_pb2 as sub
from accrue.billing.v1 import usage_pb2 as use
from tests.conftest import Transport
from tests.contract.billing_steps import INVOICES, SUBSCRIPTIONS, Scenario, rid, utc
from tests.contract.test_usage import USAGE, event, ingest, meter
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


def test_removing_the_metered_item_with_an_immediate_invoice_still_bills_later_usage(
    s: Scenario,
) -> None:
    tokens = meter(s, use.METER_AGGREGATION_SUM, prop="tokens")
    customer = s.customer()
    seat = s.price(1000)
    api = metered_price(s, tokens.id, unit=10)
    subscription = subscribe(s, customer.id, seat.id, api.id)
    report(s, tokens.id, customer.id, utc(2026, 1, 5), tokens="5")
    s.advance(utc(2026, 1, 16))
    changed = s.change(subscription.id, seat.id, behavior=sub.PRORATION_BEHAVIOR_ALWAYS_INVOICE)
    # January 1-16 billed at once: 5 x 10.
    assert usage_lines([changed.invoice]) == [(api.id, 50, JAN, utc(2026, 1, 16))]
    s.advance(utc(2026, 1, 16, 8))
    ingest(s, event(tokens.id, customer.id, utc(2026, 1, 15), tokens="7"))
    s.advance(FEB)
    (february,) = [
        i
        for i in s.invoices(subscription_id=subscription.id)
        if i.billing_reason == inv.BILLING_REASON_SUBSCRIPTION_CYCLE
    ]
    # 7 late tokens of January 1-16 at the removed price: 70.
    assert usage_lines([february]) == [(api.id, 70, JAN, utc(2026, 1, 16))]


def test_late_usage_after_a_cancellation_is_billed_once_on_a_trailing_invoice(
    s: Scenario,
) -> None:
    tokens = meter(s, use.METER_AGGREGATION_SUM, prop="tokens")
    customer = s.customer()
    api = metered_price(s, tokens.id, unit=7)
    subscription = subscribe(s, customer.id, api.id)
    counted = rid()
    s.advance(utc(2026, 2, 3))
    ingest(s, event(tokens.id, customer.id, utc(2026, 2, 3), event_id=counted, tokens="10"))
    s.advance(utc(2026, 2, 10))
    canceled = s.cancel(subscription.id)
    final = s.invoice(canceled.latest_invoice_id)
    assert usage_lines([final]) == [(api.id, 70, FEB, utc(2026, 2, 10))]
    # Inside the one-day grace after the last period (February 1-10): 3 tokens arrive
    # late and the counted event is corrected from 10 to 9.
    s.advance(utc(2026, 2, 10, 18))
    ingest(s, event(tokens.id, customer.id, utc(2026, 2, 9), tokens="3"))
    s.call(
        USAGE,
        "AmendUsageEvent",
        use.AmendUsageEventRequest(id=counted, properties={"tokens": "9"}, reason="recount"),
    )
    s.advance(utc(2026, 2, 11))
    assert s.invoices(subscription_id=subscription.id)[-1].id == final.id
    # Nothing renews: the upcoming invoice is refused, as for every canceled subscription.
    refusal = s.fail(
        INVOICES,
        "GetUpcomingInvoice",
        inv.GetUpcomingInvoiceRequest(subscription_id=subscription.id),
    )
    assert (refusal.code, refusal.reason) == ("FAILED_PRECONDITION", "INVALID_STATE")
    assert "canceled" in refusal.message
    # The grace closes at February 11, 00:00: one trailing invoice.
    s.advance(utc(2026, 2, 12))
    invoices = s.invoices(subscription_id=subscription.id)
    trailing = invoices[-1]
    assert trailing.id != final.id
    assert trailing.billing_reason == inv.BILLING_REASON_SUBSCRIPTION_ADJUSTMENT
    # 12 tokens now, 10 billed: 84 - 70 = 14, naming February 1-10.
    assert usage_lines([trailing]) == [(api.id, 14, FEB, utc(2026, 2, 10))]
    assert trailing.total.amount_minor == 14
    # Later usage of that period is refused, not accepted and dropped.
    refused = ingest(s, event(tokens.id, customer.id, utc(2026, 2, 9), tokens="50"))
    assert [r.reason for r in refused.results] == ["USAGE_EVENT_TOO_LATE"]
    s.advance(APR)
    assert len(s.invoices(subscription_id=subscription.id)) == len(invoices)
    every = usage_lines(s.invoices(subscription_id=subscription.id))
    assert sum(amount for _, amount, _, _ in every) == 12 * 7


def test_a_period_end_cancellation_bills_late_usage_of_the_last_period_once(
    s: Scenario,
) -> None:
    tokens = meter(s, use.METER_AGGREGATION_SUM, prop="tokens", grace_seconds=3 * 86400)
    customer = s.customer()
    api = metered_price(s, tokens.id, unit=5)
    subscription = subscribe(s, customer.id, api.id)
    report(s, tokens.id, customer.id, utc(2026, 1, 20), tokens="4")
    s.cancel(subscription.id, at_period_end=True)
    s.advance(FEB)
    (final,) = s.invoices(subscription_id=subscription.id)[-1:]
    assert usage_lines([final]) == [(api.id, 20, JAN, FEB)]
    s.advance(utc(2026, 2, 3))
    ingest(s, event(tokens.id, customer.id, utc(2026, 1, 31, 23), tokens="6"))
    s.advance(utc(2026, 2, 5))
    trailing = s.invoices(subscription_id=subscription.id)[-1]
    # The three-day grace closed on February 4: 6 late tokens at 5.
    assert usage_lines([trailing]) == [(api.id, 30, JAN, FEB)]
    assert "late usage 6" in trailing.lines[0].description
    s.advance(APR)
    assert s.invoices(subscription_id=subscription.id)[-1].id == trailing.id


def test_a_cancellation_without_late_usage_gets_no_trailing_invoice(s: Scenario) -> None:
    tokens = meter(s, use.METER_AGGREGATION_SUM, prop="tokens")
    customer = s.customer()
    api = metered_price(s, tokens.id, unit=7)
    subscription = subscribe(s, customer.id, api.id)
    report(s, tokens.id, customer.id, utc(2026, 1, 3), tokens="2")
    s.advance(utc(2026, 1, 10))
    s.cancel(subscription.id)
    before = s.invoices(subscription_id=subscription.id)
    s.advance(MAR)
    assert s.invoices(subscription_id=subscription.id) == before
    assert s.subscription(subscription.id).status == sub.SUBSCRIPTION_STATUS_CANCELED


def test_late_usage_of_a_canceled_subscription_follows_its_grace_not_its_successor(
    s: Scenario,
) -> None:
    tokens = meter(s, use.METER_AGGREGATION_SUM, prop="tokens")
    customer = s.customer()
    api = metered_price(s, tokens.id, unit=7)
    first = subscribe(s, customer.id, api.id)
    s.advance(utc(2026, 1, 20))
    s.cancel(first.id)  # its last period: January 1-20, grace to January 21
    s.advance(utc(2026, 1, 25))
    second = subscribe(s, customer.id, api.id)  # periods from January 25
    # January 19 happened under the first subscription, whose grace has closed
    # (the second's period holding it would run to January 25 plus a day).
    refused = ingest(s, event(tokens.id, customer.id, utc(2026, 1, 19), tokens="5"))
    assert [r.reason for r in refused.results] == ["USAGE_EVENT_TOO_LATE"]
    report(s, tokens.id, customer.id, utc(2026, 1, 26), tokens="2")
    s.advance(utc(2026, 2, 26))
    assert sum(a for _, a, _, _ in usage_lines(s.invoices(subscription_id=second.id))) == 14
    assert sum(a for _, a, _, _ in usage_lines(s.invoices(subscription_id=first.id))) == 0
