"""Property: whatever order usage, late usage and corrections come in, each period
is billed exactly the price of its final usage, summed over every invoice.

Hypothesis drives a weekly metered subscription on a test clock through random
steps: the clock moves forward, an event arrives for a time up to three weeks
back (accepted or refused as too late by the meter's random grace, which may be
longer than the period), or an earlier event is canceled or amended (which the
grace may refuse too). At the end the clock runs on until every period's grace
is over. Then, per week, the metered lines of all invoices for that week add up
to the graduated price of the week's final usage; and in total the billed
quantity equals the sum of the live events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import grpc
import pytest
from connectrpc.errors import ConnectError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accrue.billing.v1 import catalog_pb2 as cat
from accrue.billing.v1 import usage_pb2 as use
from tests.conftest import Transport
from tests.contract.billing_steps import CATALOG, Scenario, money, rid, utc, when
from tests.contract.test_usage import USAGE, event, ingest, meter
from tests.contract.test_usage_billing import subscribe
from tests.support import failure_of_connect, failure_of_grpc

pytestmark = pytest.mark.timeout(600)
START = utc(2026, 1, 1)
WEEK = timedelta(days=7)
# Graduated: the first 10 tokens at 5, the rest at 2.
TIERS = [cat.PriceTier(up_to=10, unit_amount=money(5)), cat.PriceTier(unit_amount=money(2))]


def graduated(quantity: int) -> int:
    return 5 * min(quantity, 10) + 2 * max(quantity - 10, 0)


@dataclass
class Sent:
    at: datetime
    value: int
    live: bool = True


_step = st.one_of(
    st.tuples(st.just("advance"), st.integers(1, 120)),
    st.tuples(st.just("event"), st.integers(0, 21 * 24), st.integers(1, 9)),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("amend"), st.integers(0, 50), st.integers(0, 9)),
)


def correct(s: Scenario, method: str, request: object) -> str:
    """Call a correction; "" when accepted, else the refusal's reason."""
    try:
        s.rpc.clients.call(USAGE, method, request)
    except grpc.RpcError as error:
        return failure_of_grpc(error).reason
    except ConnectError as error:
        return failure_of_connect(error).reason
    return ""


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    grace_days=st.sampled_from([0, 1, 3, 10, 20]),
    steps=st.lists(_step, min_size=1, max_size=14),
)
def test_every_week_is_billed_the_price_of_its_final_usage_once(
    rpc: Transport, grace_days: int, steps: list[tuple[object, ...]]
) -> None:
    if rpc.name != "grpc":
        return  # the property is about billing, not the transport: once is enough
    s = Scenario(rpc, START, name="usage-property")
    tokens = meter(s, use.METER_AGGREGATION_SUM, prop="tokens", grace_seconds=grace_days * 86400)
    customer = s.customer()
    price = cat.Price(
        product_id=s.product.id,
        currency_code="USD",
        pricing_scheme=cat.PRICING_SCHEME_TIERED,
        tiers=TIERS,
        recurring=cat.Recurring(
            interval_unit=cat.INTERVAL_UNIT_WEEK,
            interval_count=1,
            usage_type=cat.USAGE_TYPE_METERED,
            meter_id=tokens.id,
        ),
    )
    api = s.call(CATALOG, "CreatePrice", cat.CreatePriceRequest(price=price, request_id=rid()))
    subscription = subscribe(s, customer.id, api.id)
    now = START
    sent: dict[str, Sent] = {}
    for step in steps:
        kind = step[0]
        if kind == "advance":
            now += timedelta(hours=int(step[1]))  # type: ignore[call-overload]
            s.advance(now)
        elif kind == "event":
            at = max(START, now - timedelta(hours=int(step[1])))  # type: ignore[call-overload]
            event_id = rid()
            answer = ingest(s, event(tokens.id, customer.id, at, event_id, tokens=str(step[2])))
            if answer.results[0].outcome == use.USAGE_EVENT_OUTCOME_ACCEPTED:
                sent[event_id] = Sent(at, int(step[2]))  # type: ignore[call-overload]
            else:
                assert answer.results[0].reason == "USAGE_EVENT_TOO_LATE"
        elif sent:
            event_id = sorted(sent)[int(step[1]) % len(sent)]  # type: ignore[call-overload]
            if kind == "cancel":
                request: object = use.CancelUsageEventRequest(id=event_id, reason="property")
                reason = correct(s, "CancelUsageEvent", request)
                if not reason:
                    sent[event_id].live = False
            else:
                value = int(step[2])  # type: ignore[call-overload]
                request = use.AmendUsageEventRequest(
                    id=event_id, properties={"tokens": str(value)}, reason="property"
                )
                reason = correct(s, "AmendUsageEvent", request)
                if not reason:
                    sent[event_id].value = value
            assert reason in ("", "USAGE_EVENT_TOO_LATE", "USAGE_EVENT_CANCELED")
    # Every period's grace is over, and the renewal after that has run.
    s.advance(now + timedelta(days=grace_days) + 2 * WEEK)
    billed: dict[datetime, int] = {}
    for invoice in s.invoices(subscription_id=subscription.id):
        for line in invoice.lines:
            if line.price_id == api.id and "billed at period end" not in line.description:
                start = when(line.period_start)
                billed[start] = billed.get(start, 0) + line.amount.amount_minor
    usage: dict[datetime, int] = {}
    for item in sent.values():
        if item.live:
            week = START + WEEK * ((item.at - START) // WEEK)
            usage[week] = usage.get(week, 0) + item.value
    expected = {week: graduated(quantity) for week, quantity in usage.items()}
    assert {w: a for w, a in billed.items() if a} == {w: a for w, a in expected.items() if a}
