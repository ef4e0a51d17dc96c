"""Usage and entitlements together, through the generated clients and the real server.

A plan allows 100 API calls a month, counted by a SUM meter. Usage reported
through `IngestUsage` is what `CheckEntitlement` compares with the limit, and
crossing 80 % and 100 % of it is announced once each as
`usage.threshold_crossed`, however often the same events are resent. The next
period starts from zero and announces its own crossings.
"""

from __future__ import annotations

from accrue.billing.v1 import event_pb2 as ev
from accrue.billing.v1 import usage_pb2 as use
from accrue.events.v1 import events_pb2
from tests.conftest import Transport
from tests.contract.billing_steps import utc
from tests.contract.test_entitlements import NUMERIC, Plans
from tests.contract.test_usage import ACCEPTED, DUPLICATE, event, ingest, meter

START = utc(2026, 4, 1)


def _crossings(s: Plans) -> list[events_pb2.UsageThresholdCrossed]:
    listed = s.call(
        "accrue.billing.v1.EventService",
        "ListEvents",
        ev.ListEventsRequest(types=["usage.threshold_crossed"]),
    ).events
    found = []
    for item in listed:
        payload = events_pb2.UsageThresholdCrossed()
        assert item.payload.Unpack(payload)
        found.append(payload)
    return found


def test_metered_limits_read_live_usage_and_announce_each_threshold_once(
    rpc: Transport,
) -> None:
    s = Plans(rpc, START)
    calls = meter(s, use.METER_AGGREGATION_SUM)
    price = s.price(1000)
    api = s.feature("api-calls", NUMERIC, meter_id=calls.id, threshold_percents=[80, 100])
    s.attach(api.id, product_id=s.product.id, limit="100")
    customer = s.customer()
    s.subscribe(customer.id, price.id)

    first = event(calls.id, customer.id, START, value="50")
    assert [r.outcome for r in ingest(s, first).results] == [ACCEPTED]
    check = s.check(customer.id, "api-calls")
    assert (check.allowed, check.limit, check.usage, check.remaining) == (True, "100", "50", "50")
    assert not s.check(customer.id, "api-calls", "51").allowed
    assert _crossings(s) == []

    second = event(calls.id, customer.id, START, value="35")
    ingest(s, second)
    assert [(c.threshold_percent, c.usage) for c in _crossings(s)] == [(80, "85")]

    # Resending what was already counted changes nothing and announces nothing.
    again = ingest(s, first, second)
    assert [r.outcome for r in again.results] == [DUPLICATE, DUPLICATE]
    assert len(_crossings(s)) == 1

    ingest(s, event(calls.id, customer.id, START, value="20"))
    crossings = _crossings(s)
    assert [(c.threshold_percent, c.usage, c.limit) for c in crossings] == [
        (80, "85", "100"),
        (100, "105", "100"),
    ]
    assert {c.customer_id for c in crossings} == {customer.id}
    assert {c.feature_key for c in crossings} == {"api-calls"}
    over = s.check(customer.id, "api-calls")
    assert (over.allowed, over.usage, over.remaining) == (False, "105", "0")

    # A new period counts from zero and announces its own crossings.
    s.advance(utc(2026, 5, 1, 12))
    fresh = s.check(customer.id, "api-calls")
    assert (fresh.allowed, fresh.usage) == (True, "0")
    ingest(s, event(calls.id, customer.id, utc(2026, 5, 1, 12), value="90"))
    assert [c.threshold_percent for c in _crossings(s)] == [80, 100, 80]
