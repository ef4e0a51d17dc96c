"""Golden item-change scenarios on test clocks: upgrades, downgrades, seats, previews,
and zero- and three-decimal currencies.

Changes happen in April 2026, a 30-day period in UTC, so a change on April 16
at 00:00Z prorates exactly half a period. Each scenario has its own clock,
customer and catalog (see test_billing_lifecycle.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from accrue.billing.v1 import invoice_pb2 as inv
from tests.conftest import Transport
from tests.contract.billing_steps import (
    ALWAYS_INVOICE,
    CREATE_PRORATIONS,
    CYCLE,
    DRAFT,
    ISSUE_FIELDS,
    NO_PRORATION,
    OPEN,
    PAID,
    UPDATE,
    Scenario,
    amounts,
    grpc_transport,
    periods,
    serialized,
    utc,
    when,
    without,
)
from tests.support import RunningServer

APRIL, HALF_WAY, MAY = utc(2026, 4, 1), utc(2026, 4, 16), utc(2026, 5, 1)


@pytest.fixture
def grpc(server: RunningServer, api_key: str) -> Iterator[Transport]:
    """gRPC only: scenarios whose Connect coverage the `rpc` tests already give."""
    yield from grpc_transport(server, api_key)


def renewal_after(s: Scenario, subscription_id: str, upcoming: inv.Invoice) -> inv.Invoice:
    """Advance into May and check the renewal is exactly what GetUpcomingInvoice showed."""
    assert upcoming.status == DRAFT
    assert upcoming.id == upcoming.number == ""
    s.advance(utc(2026, 5, 1, 12))
    renewal = s.invoices(subscription_id=subscription_id)[-1]
    assert (renewal.billing_reason, renewal.status) == (CYCLE, OPEN)
    assert periods([renewal]) == [(MAY, utc(2026, 6, 1))]
    assert serialized(renewal.lines) == serialized(upcoming.lines)
    assert without(renewal, *ISSUE_FIELDS) == without(upcoming, *ISSUE_FIELDS)
    return renewal


# -- 4: upgrade and downgrade at half of a 30-day period ---------------------------


@pytest.mark.parametrize(
    ("behavior", "pending", "immediate", "renewal"),
    [
        pytest.param(CREATE_PRORATIONS, [-500, 1000], [], [-500, 1000, 2000], id="create"),
        pytest.param(ALWAYS_INVOICE, [], [-500, 1000], [2000], id="always-invoice"),
        pytest.param(NO_PRORATION, [], [], [2000], id="none"),
    ],
)
def test_upgrade_at_half_period_in_each_proration_mode(
    rpc: Transport, behavior: int, pending: list[int], immediate: list[int], renewal: list[int]
) -> None:
    s = Scenario(rpc, APRIL)
    customer = s.customer()
    basic, pro = s.price(1000), s.price(2000)
    created = s.subscribe(customer.id, basic.id)
    s.advance(HALF_WAY)

    changed = s.change(created.id, pro.id, behavior=behavior)

    assert when(changed.proration_time) == HALF_WAY
    after = changed.subscription
    assert [(i.price_id, i.quantity) for i in after.items] == [(pro.id, 1)]
    assert (when(after.current_period_start), when(after.current_period_end)) == (APRIL, MAY)
    assert amounts(changed.proration_lines) == (pending or immediate)
    for line, price, full in zip(changed.proration_lines, (basic, pro), (1000, 2000), strict=False):
        assert (line.price_id, line.subscription_id, line.quantity) == (price.id, created.id, 1)
        assert periods([line]) == [(HALF_WAY, MAY)]
        assert line.proration
        assert line.derivation.fraction == "1/2"
        assert line.derivation.full_period_amount_minor == full
        assert line.derivation.rounding == "ROUND_HALF_EVEN"
    assert [line.derivation.unrounded_amount for line in changed.proration_lines] == [
        str(a) for a in pending or immediate
    ]
    assert amounts(after.pending_lines) == pending
    assert serialized(s.subscription(created.id).pending_lines) == serialized(after.pending_lines)
    if immediate:
        bill = changed.invoice
        assert (bill.number, bill.status, bill.billing_reason) == ("INV-000002", OPEN, UPDATE)
        assert amounts(bill.lines) == immediate
        assert (bill.total.amount_minor, bill.amount_due.amount_minor) == (500, 500)
        assert periods([bill]) == [(APRIL, MAY)]
        assert after.latest_invoice_id == bill.id
        assert s.invoice(bill.id) == bill
    else:
        assert not changed.HasField("invoice")
        assert after.latest_invoice_id == created.latest_invoice_id

    upcoming = s.upcoming(created.id)
    issued = renewal_after(s, created.id, upcoming)

    assert amounts(issued.lines) == renewal
    assert issued.total.amount_minor == sum(renewal)
    assert issued.number == ("INV-000003" if immediate else "INV-000002")
    assert s.subscription(created.id).pending_lines == []
    assert s.receivable(customer.id) == 1000 + sum(immediate) + sum(renewal)


def test_downgrade_with_always_invoice_credits_the_next_renewal(rpc: Transport) -> None:
    s = Scenario(rpc, APRIL)
    customer = s.customer()
    pro, basic = s.price(2000), s.price(1000)
    created = s.subscribe(customer.id, pro.id)
    s.advance(HALF_WAY)

    changed = s.change(created.id, basic.id, behavior=ALWAYS_INVOICE)

    credit = changed.invoice
    assert amounts(credit.lines) == [-1000, 500]
    assert (credit.status, credit.number) == (PAID, "INV-000002")
    assert (credit.total.amount_minor, credit.amount_due.amount_minor) == (-500, 0)
    assert credit.credit_applied.amount_minor == 0
    assert s.credit_balance(customer.id) == 500
    assert s.receivable(customer.id) == 2000

    upcoming = s.upcoming(created.id)
    assert (upcoming.credit_applied.amount_minor, upcoming.amount_due.amount_minor) == (500, 500)
    renewal = renewal_after(s, created.id, upcoming)

    assert amounts(renewal.lines) == [1000]
    assert renewal.total.amount_minor == 1000
    assert (renewal.credit_applied.amount_minor, renewal.amount_due.amount_minor) == (500, 500)
    assert s.credit_balance(customer.id) == 0
    assert s.receivable(customer.id) == 2500
    assert s.verify_ledger().intact


# -- 5: seat change ---------------------------------------------------------------------


def test_seat_change_prorates_the_added_seats_for_the_rest_of_the_period(grpc: Transport) -> None:
    s = Scenario(grpc, APRIL)
    customer = s.customer()
    seat = s.price(500)
    created = s.subscribe(customer.id, seat.id, quantity=3)
    assert s.invoice(created.latest_invoice_id).total.amount_minor == 1500
    s.advance(HALF_WAY)

    changed = s.change(created.id, seat.id, quantity=5)

    lines = changed.proration_lines
    assert [(line.price_id, line.quantity) for line in lines] == [(seat.id, 3), (seat.id, 5)]
    assert [line.unit_amount.amount_minor for line in lines] == [500, 500]
    assert amounts(lines) == [-750, 1250]  # net: 2 seats x 500 x 1/2
    assert [line.derivation.full_period_amount_minor for line in lines] == [1500, 2500]
    assert amounts(changed.subscription.pending_lines) == [-750, 1250]

    renewal = renewal_after(s, created.id, s.upcoming(created.id))
    assert amounts(renewal.lines) == [-750, 1250, 2500]
    assert renewal.total.amount_minor == 3000


# -- 6: a preview is exactly what the change then does -------------------------------


@pytest.mark.parametrize("behavior", [CREATE_PRORATIONS, ALWAYS_INVOICE], ids=["create", "always"])
def test_preview_at_a_fixed_instant_equals_the_commit(rpc: Transport, behavior: int) -> None:
    s = Scenario(rpc, APRIL)
    customer = s.customer()
    basic, pro = s.price(1000), s.price(2500)
    created = s.subscribe(customer.id, basic.id)
    s.advance(utc(2026, 4, 20, 9))
    at = utc(2026, 4, 10, 13, 17, 5)  # 1,766,575 of 2,592,000 seconds left
    before = s.subscription(created.id)

    preview = s.preview(created.id, pro.id, behavior=behavior, at=at)

    assert s.subscription(created.id) == before
    assert len(s.invoices(customer_id=customer.id)) == 1
    assert when(preview.proration_time) == at
    assert amounts(preview.proration_lines) == [-682, 1704]
    assert [line.derivation.fraction for line in preview.proration_lines] == ["70663/103680"] * 2
    assert [line.derivation.unrounded_amount for line in preview.proration_lines] == [
        "-1766575/2592",
        "8832875/5184",
    ]

    committed = s.change(created.id, pro.id, behavior=behavior, at=at)

    assert serialized(committed.proration_lines) == serialized(preview.proration_lines)
    assert committed.proration_time == preview.proration_time
    assert committed.subscription.version == before.version + 1
    assert without(committed.subscription, "latest_invoice_id", "update_time") == without(
        preview.subscription, "latest_invoice_id", "update_time"
    )
    if behavior == ALWAYS_INVOICE:
        shown, issued = preview.invoice, committed.invoice
        assert (shown.id, shown.number, shown.status) == ("", "", DRAFT)
        assert (issued.number, issued.status) == ("INV-000002", OPEN)
        assert serialized(issued.lines) == serialized(shown.lines)
        assert issued.total == shown.total
        assert issued.total.amount_minor == 1022
        assert without(issued, *ISSUE_FIELDS) == without(shown, *ISSUE_FIELDS)
    else:
        assert not preview.HasField("invoice")
        assert not committed.HasField("invoice")
        assert serialized(committed.subscription.pending_lines) == serialized(
            preview.subscription.pending_lines
        )


def test_a_backdated_change_cannot_reach_before_the_last_change(grpc: Transport) -> None:
    """Crediting the old items before they were in place would give back time never billed."""
    s = Scenario(grpc, APRIL)
    basic, pro = s.price(1000), s.price(2000)
    created = s.subscribe(s.customer().id, basic.id)
    s.advance(utc(2026, 4, 20))
    upgraded = s.change(created.id, pro.id).subscription
    assert when(upgraded.update_time) == utc(2026, 4, 20)

    failure = s.fail(
        "SubscriptionService",
        "ChangeSubscription",
        s.change_request(created.id, basic.id, at=utc(2026, 4, 10)),
    )
    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")
    assert failure.field_violations == ["proration_time"]

    s.advance(utc(2026, 4, 25))
    backdated = s.change(created.id, basic.id, at=utc(2026, 4, 22)).subscription
    # Stamped with when the change was made, not with the instant it prorates from.
    assert when(backdated.update_time) == utc(2026, 4, 25)


# -- 10: zero- and three-decimal currencies ------------------------------------------


@pytest.mark.parametrize(
    ("currency", "old", "new", "change_at", "fraction", "lines", "unrounded"),
    [
        # 10 of 30 days left: 1000/3 and 2000/3 yen are not whole yen.
        ("JPY", 1000, 2000, utc(2026, 4, 21), "1/3", [-333, 667], ["-1000/3", "2000/3"]),
        # 12.345 KWD for half a period is 6172.5 fils, rounded half to even.
        ("KWD", 12345, 20000, HALF_WAY, "1/2", [-6172, 10000], ["-12345/2", "10000"]),
    ],
)
def test_minor_units_follow_the_currency_exponent(
    grpc: Transport,
    currency: str,
    old: int,
    new: int,
    change_at: datetime,
    fraction: str,
    lines: list[int],
    unrounded: list[str],
) -> None:
    s = Scenario(grpc, APRIL)
    customer = s.customer(currency=currency)
    first, second = s.price(old, currency=currency), s.price(new, currency=currency)
    created = s.subscribe(customer.id, first.id)
    opening = s.invoice(created.latest_invoice_id)
    assert (opening.currency_code, opening.total.amount_minor) == (currency, old)
    assert opening.lines[0].unit_amount.amount_minor == old
    s.advance(change_at)

    changed = s.change(created.id, second.id, behavior=ALWAYS_INVOICE)

    assert amounts(changed.proration_lines) == lines
    assert {line.amount.currency_code for line in changed.proration_lines} == {currency}
    assert [line.derivation.fraction for line in changed.proration_lines] == [fraction] * 2
    assert [line.derivation.unrounded_amount for line in changed.proration_lines] == unrounded
    bill = changed.invoice
    assert bill.currency_code == currency
    assert bill.total == bill.amount_due
    assert bill.total.amount_minor == sum(lines)
    assert s.receivable(customer.id, currency) == old + sum(lines)
