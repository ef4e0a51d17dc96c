"""The subscription use cases on in-memory fakes: no SQL, no server.

Each use case owns its transaction: a subscription, the invoice it issues, the
invoice's posting and their events commit together or not at all.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accrue.invoicing.model import InvoiceStatus
from accrue.kernel.errors import AccrueError
from accrue.subscriptions.model import Subscription, SubscriptionStatus
from accrue.subscriptions.service import ItemRequest, NewSubscription
from accrue.subscriptions.use_cases import SubscriptionUseCases
from tests.fakes.invoicing import customer
from tests.fakes.subscriptions import monthly_price, subscription_database, subscription_use_cases
from tests.fakes.transactions import TENANT, FakeClock, FakeDatabase, replay

MAR1 = datetime(2026, 3, 1, tzinfo=UTC)


def _subscribed(clock: FakeClock) -> tuple[FakeDatabase, SubscriptionUseCases, Subscription]:
    db = subscription_database([customer("cus_1")], [monthly_price("price_basic", 3100)])
    use_cases = subscription_use_cases(db, clock)
    new = NewSubscription(customer_id="cus_1", items=(ItemRequest("price_basic", 1),))
    created = use_cases.create_subscription(TENANT, new, replay(TENANT)).value
    assert created is not None
    return db, use_cases, created


def test_creating_a_subscription_issues_its_first_invoice_in_the_same_transaction() -> None:
    db, _, sub = _subscribed(FakeClock(MAR1))
    assert sub.status is SubscriptionStatus.ACTIVE
    invoice = db.invoices.rows[sub.latest_invoice_id]
    assert (invoice.status, invoice.number, invoice.total_minor) == (
        InvoiceStatus.OPEN,
        "INV-000001",
        3100,
    )
    assert db.subscriptions.rows[sub.id] == sub
    assert db.prices.in_use == {"price_basic"}
    assert {"subscription.created", "invoice.finalized"} <= set(db.events.types())


def test_cancel_at_period_end_keeps_it_active_until_then_and_can_be_withdrawn() -> None:
    clock = FakeClock(MAR1)
    db, use_cases, sub = _subscribed(clock)
    clock.advance(timedelta(days=10).total_seconds())
    invoices = dict(db.invoices.rows)

    scheduled = use_cases.cancel_subscription(
        TENANT, sub.id, at_period_end=True, prorate=True, replay=replay(TENANT)
    ).value

    assert scheduled is not None
    assert scheduled.status is SubscriptionStatus.ACTIVE and scheduled.cancel_at_period_end
    assert db.invoices.rows == invoices  # nothing billed or credited now
    with pytest.raises(AccrueError) as twice:
        use_cases.cancel_subscription(
            TENANT, sub.id, at_period_end=True, prorate=False, replay=replay(TENANT)
        )
    assert twice.value.reason == "INVALID_STATE"
    withdrawn = use_cases.reactivate_subscription(TENANT, sub.id, replay(TENANT)).value
    assert withdrawn is not None and not withdrawn.cancel_at_period_end
    assert use_cases.get_subscription(TENANT, sub.id) == withdrawn


def test_canceling_now_credits_the_unused_time_against_the_unpaid_invoice() -> None:
    clock = FakeClock(MAR1)
    db, use_cases, sub = _subscribed(clock)
    clock.advance(timedelta(days=21).total_seconds())  # 10 of March's 31 days unused

    canceled = use_cases.cancel_subscription(
        TENANT, sub.id, at_period_end=False, prorate=True, replay=replay(TENANT)
    ).value

    assert canceled is not None and canceled.status is SubscriptionStatus.CANCELED
    (note,) = db.invoices.notes.values()
    assert note.amount_minor == 1000  # 3100 x 10/31
    assert db.invoices.rows[sub.latest_invoice_id].amount_due_minor == 2100


def test_a_retried_cancellation_is_answered_with_its_first_response_and_applied_once() -> None:
    clock = FakeClock(MAR1)
    db, use_cases, sub = _subscribed(clock)
    first = use_cases.cancel_subscription(
        TENANT, sub.id, at_period_end=True, prorate=False, replay=replay(TENANT, "r-cancel")
    )
    again = use_cases.cancel_subscription(
        TENANT, sub.id, at_period_end=True, prorate=False, replay=replay(TENANT, "r-cancel")
    )
    assert again.value is None and again.replayed == repr(first.value).encode()
    assert db.subscriptions.rows[sub.id] == first.value
