"""Golden subscription lifecycles on test clocks: calendars, leap years, DST, trials.

Every scenario runs on its own test clock, customer and catalog, through the
public API of a real server, and checks exact UTC instants, amounts, invoice
numbers and statuses. The cheap scenarios run over gRPC and Connect (`rpc`),
the rest over gRPC only (`grpc`) to keep the suite fast. Pauses and
cancellations are in test_billing_pause_cancel.py, item changes and
currencies in test_billing_proration.py, tax and corrections in
test_billing_invoices.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from accrue.billing.v1 import invoice_pb2 as inv
from tests.conftest import Transport
from tests.contract.billing_steps import (
    ACTIVE,
    CLOCKS,
    CREATE,
    CYCLE,
    OPEN,
    SUBSCRIPTIONS,
    TRIALING,
    YEAR,
    Scenario,
    amounts,
    grpc_transport,
    periods,
    stamp,
    utc,
    when,
)
from tests.support import RunningServer

NEW_YORK, BERLIN = "America/New_York", "Europe/Berlin"


@pytest.fixture
def grpc(server: RunningServer, api_key: str) -> Iterator[Transport]:
    """gRPC only: scenarios whose Connect coverage the `rpc` tests already give."""
    yield from grpc_transport(server, api_key)


def assert_contiguous(invoices: list[inv.Invoice]) -> None:
    """Each period starts exactly where the previous one ended: no gap, no overlap."""
    for before, after in pairwise(invoices):
        assert after.period_start == before.period_end


def local_starts(invoices: list[inv.Invoice], zone: str) -> list[datetime]:
    return [when(i.period_start).astimezone(ZoneInfo(zone)) for i in invoices]


# -- 1 and 14: month-end anchor in New York, across the March DST change ----------


def _month_end_in_new_york(s: Scenario) -> tuple[str, str]:
    """$10 monthly from Jan 31 2024 00:00 New York time, advanced to mid-April."""
    customer = s.customer(time_zone=NEW_YORK)
    created = s.subscribe(customer.id, s.price(1000).id)
    s.advance(utc(2024, 4, 15, 12))
    return customer.id, created.id


def test_month_end_anchor_bills_jan31_feb29_mar31_apr30_new_york_time(rpc: Transport) -> None:
    s = Scenario(rpc, utc(2024, 1, 31, 5))  # Jan 31 00:00 EST
    customer_id, sub_id = _month_end_in_new_york(s)

    invoices = s.invoices(subscription_id=sub_id)
    # 00:00 EST is 05:00Z; after the change to EDT on March 10 it is 04:00Z.
    assert periods(invoices) == [
        (utc(2024, 1, 31, 5), utc(2024, 2, 29, 5)),
        (utc(2024, 2, 29, 5), utc(2024, 3, 31, 4)),
        (utc(2024, 3, 31, 4), utc(2024, 4, 30, 4)),
    ]
    assert_contiguous(invoices)
    assert [i.number for i in invoices] == ["INV-000001", "INV-000002", "INV-000003"]
    assert [i.billing_reason for i in invoices] == [CREATE, CYCLE, CYCLE]
    for invoice in invoices:
        assert (invoice.status, invoice.currency_code) == (OPEN, "USD")
        assert invoice.total.amount_minor == invoice.amount_due.amount_minor == 1000
        assert invoice.customer_id == customer_id
        assert invoice.test_clock_id == s.clock.id
        assert amounts(invoice.lines) == [1000]
        assert periods(invoice.lines) == periods([invoice])
        assert not invoice.lines[0].proration
        assert invoice.lines[0].derivation.fraction == "1"
        # A subscription invoice is created and finalised when its period starts.
        assert invoice.create_time == invoice.finalize_time == invoice.period_start
    starts = local_starts(invoices, NEW_YORK)
    assert [(t.month, t.day, t.hour, t.minute) for t in starts] == [
        (1, 31, 0, 0),
        (2, 29, 0, 0),
        (3, 31, 0, 0),
    ]

    current = s.subscription(sub_id)
    assert current.status == ACTIVE
    assert when(current.billing_anchor_time) == utc(2024, 1, 31, 5)
    assert current.time_zone == NEW_YORK
    assert (when(current.current_period_start), when(current.current_period_end)) == (
        utc(2024, 3, 31, 4),
        utc(2024, 4, 30, 4),
    )
    assert current.latest_invoice_id == invoices[-1].id
    assert s.clock.work_items_run == 2
    assert s.upcoming(sub_id).period_end == stamp(utc(2024, 5, 31, 4))


def test_ledger_ties_out_after_month_end_scenario(grpc: Transport) -> None:
    s = Scenario(grpc, utc(2024, 1, 31, 5))
    customer_id, _ = _month_end_in_new_york(s)

    open_due = sum(
        i.amount_due.amount_minor for i in s.invoices(customer_id=customer_id) if i.status == OPEN
    )
    assert open_due == 3000
    assert s.receivable(customer_id) == open_due
    assert s.credit_balance(customer_id) == 0
    verdict = s.verify_ledger()
    assert verdict.intact
    assert verdict.transactions_checked == 3
    assert not verdict.balance_mismatches


# -- 2: yearly on Feb 29 ----------------------------------------------------------


def test_yearly_anchor_on_feb_29_renews_feb_28_until_the_next_leap_year(grpc: Transport) -> None:
    s = Scenario(grpc, utc(2024, 2, 29))
    customer = s.customer()
    created = s.subscribe(customer.id, s.price(12000, unit=YEAR).id)
    assert when(created.current_period_end) == utc(2025, 2, 28)

    s.advance(utc(2028, 3, 1))

    invoices = s.invoices(subscription_id=created.id)
    assert [when(i.period_start) for i in invoices] == [
        utc(2024, 2, 29),
        utc(2025, 2, 28),
        utc(2026, 2, 28),
        utc(2027, 2, 28),
        utc(2028, 2, 29),
    ]
    assert when(invoices[-1].period_end) == utc(2029, 2, 28)
    assert_contiguous(invoices)
    assert [i.total.amount_minor for i in invoices] == [12000] * 5
    assert [i.number for i in invoices] == [f"INV-00000{n}" for n in range(1, 6)]


# -- 3: trial ---------------------------------------------------------------------


def test_trial_bills_nothing_until_it_ends_then_bills_the_first_period(rpc: Transport) -> None:
    s = Scenario(rpc, utc(2026, 3, 1))
    customer = s.customer()
    created = s.subscribe(customer.id, s.price(1000).id, trial_days=14)

    assert created.status == TRIALING
    assert created.latest_invoice_id == ""
    assert when(created.trial_end) == utc(2026, 3, 15)
    assert (when(created.current_period_start), when(created.current_period_end)) == (
        utc(2026, 3, 1),
        utc(2026, 3, 15),
    )
    s.advance(utc(2026, 3, 14, 23, 59, 59))
    assert s.invoices(customer_id=customer.id) == []
    assert s.subscription(created.id).status == TRIALING

    s.advance(utc(2026, 3, 16))

    after = s.subscription(created.id)
    assert after.status == ACTIVE
    assert when(after.billing_anchor_time) == utc(2026, 3, 15)
    [first] = s.invoices(customer_id=customer.id)
    assert after.latest_invoice_id == first.id
    assert (first.billing_reason, first.status, first.number) == (CREATE, OPEN, "INV-000001")
    assert periods([first]) == [(utc(2026, 3, 15), utc(2026, 4, 15))]
    assert first.total.amount_minor == 1000
    assert when(first.finalize_time) == utc(2026, 3, 15)


# -- 9: daylight-saving changes in two zones -----------------------------------------


@pytest.mark.parametrize(
    ("zone", "start", "until", "expected"),
    [
        pytest.param(
            BERLIN,
            utc(2026, 1, 29, 0, 30),  # Jan 29 01:30 CET
            utc(2026, 5, 1),
            [
                utc(2026, 1, 29, 0, 30),
                utc(2026, 2, 28, 0, 30),
                utc(2026, 3, 29, 0, 30),  # the changeover day, before 02:00 CET
                utc(2026, 4, 28, 23, 30),  # 01:30 CEST is the evening before in UTC
            ],
            id="berlin-march",
        ),
        pytest.param(
            NEW_YORK,
            utc(2026, 1, 1, 6, 30),  # Jan 1 01:30 EST
            utc(2026, 12, 15),
            [
                *(utc(2026, month, 1, 6, 30) for month in (1, 2, 3)),
                *(utc(2026, month, 1, 5, 30) for month in range(4, 12)),  # Nov 1: 1st 01:30
                utc(2026, 12, 1, 6, 30),
            ],
            id="new-york-march-and-november",
        ),
    ],
)
def test_dst_changes_keep_every_boundary_at_0130_local(
    grpc: Transport, zone: str, start: datetime, until: datetime, expected: list[datetime]
) -> None:
    s = Scenario(grpc, start)
    customer = s.customer(time_zone=zone)
    created = s.subscribe(customer.id, s.price(1000).id)

    s.advance(until)

    invoices = s.invoices(subscription_id=created.id)
    assert [when(i.period_start) for i in invoices] == expected
    assert_contiguous(invoices)
    local = local_starts(invoices, zone)
    assert {(t.hour, t.minute) for t in local} == {(1, 30)}
    day = local[0].day  # the anchor's day of month, clamped to February's 28 days
    assert [t.day for t in local] == [min(day, 28) if t.month == 2 else day for t in local]
    assert {i.total.amount_minor for i in invoices} == {1000}


# -- 13: refused requests ---------------------------------------------------------------


def test_invalid_lifecycle_requests_are_refused_with_their_reasons(rpc: Transport) -> None:
    s = Scenario(rpc, utc(2026, 4, 1))
    customer = s.customer()

    backwards = s.fail(
        CLOCKS,
        "AdvanceTestClock",
        s.advance_request(utc(2026, 3, 31, 23, 59, 59)),
    )
    assert (backwards.code, backwards.reason) == ("FAILED_PRECONDITION", "INVALID_STATE")

    one_time = s.price(1000, recurring=False)
    failure = s.fail(
        SUBSCRIPTIONS, "CreateSubscription", s.subscribe_request(customer.id, one_time.id)
    )
    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")
    assert failure.field_violations == ["items[0].price_id"]

    euro = s.price(1000, currency="EUR")
    failure = s.fail(SUBSCRIPTIONS, "CreateSubscription", s.subscribe_request(customer.id, euro.id))
    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "CURRENCY_MISMATCH")

    assert s.invoices(customer_id=customer.id) == []
    assert when(s.advance(utc(2026, 4, 2)).frozen_time) == utc(2026, 4, 2)
