"""Golden pause, resume and cancellation scenarios on test clocks.

April 2026 is a 30-day period in UTC, so a pause or cancellation on April 16
at 00:00Z leaves exactly half a period unused. Each scenario has its own
clock, customer and catalog (see test_billing_lifecycle.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from accrue.billing.v1 import customer_pb2 as cus
from accrue.billing.v1 import invoice_pb2 as inv
from accrue.billing.v1 import payment_pb2 as pay
from accrue.billing.v1 import subscription_pb2 as sub
from tests.conftest import Transport
from tests.contract.billing_steps import (
    ACTIVE,
    ADJUSTMENT,
    CANCELED,
    INVOICES,
    ISSUE_FIELDS,
    OPEN,
    PAID,
    PAUSED,
    SUBSCRIPTIONS,
    TRIALING,
    Scenario,
    amounts,
    grpc_transport,
    periods,
    rid,
    serialized,
    stamp,
    utc,
    when,
    without,
)
from tests.support import RunningServer


@pytest.fixture
def grpc(server: RunningServer, api_key: str) -> Iterator[Transport]:
    """gRPC only: scenarios whose Connect coverage the `rpc` tests already give."""
    yield from grpc_transport(server, api_key)


# -- 7: pause and resume ------------------------------------------------------------


def test_pause_bills_nothing_and_resume_reanchors_with_a_credit(grpc: Transport) -> None:
    s = Scenario(grpc, utc(2026, 4, 1))  # April 2026 has 30 days
    customer = s.customer()
    created = s.subscribe(customer.id, s.price(1000).id)
    s.advance(utc(2026, 4, 16))

    paused = s.pause(created.id)
    assert paused.status == PAUSED
    assert when(paused.pause_time) == utc(2026, 4, 16)
    assert not paused.HasField("resume_time")
    waiting = s.fail(
        INVOICES, "GetUpcomingInvoice", inv.GetUpcomingInvoiceRequest(subscription_id=created.id)
    )
    assert (waiting.code, waiting.reason) == ("FAILED_PRECONDITION", "INVALID_STATE")
    s.advance(utc(2026, 5, 20))  # past the period end: nothing renews
    assert s.clock.work_items_run == 0
    assert len(s.invoices(subscription_id=created.id)) == 1
    still = s.subscription(created.id)
    assert still.status == PAUSED
    assert when(still.current_period_end) == utc(2026, 5, 1)

    resumed = s.resume(created.id)

    assert resumed.status == ACTIVE
    assert not resumed.HasField("pause_time")
    assert when(resumed.billing_anchor_time) == utc(2026, 5, 20)
    assert (when(resumed.current_period_start), when(resumed.current_period_end)) == (
        utc(2026, 5, 20),
        utc(2026, 6, 20),
    )
    bill = s.invoice(resumed.latest_invoice_id)
    assert amounts(bill.lines) == [-500, 1000]  # 15 of 30 paused days back, a new month
    assert periods(bill.lines) == [
        (utc(2026, 4, 16), utc(2026, 5, 1)),
        (utc(2026, 5, 20), utc(2026, 6, 20)),
    ]
    assert [line.proration for line in bill.lines] == [True, False]
    assert bill.lines[0].derivation.fraction == "1/2"
    assert (bill.total.amount_minor, bill.amount_due.amount_minor) == (500, 500)
    assert (bill.number, bill.status) == ("INV-000002", OPEN)
    assert periods([bill]) == [(utc(2026, 5, 20), utc(2026, 6, 20))]

    s.advance(utc(2026, 6, 20))
    renewal = s.invoices(subscription_id=created.id)[-1]
    assert periods([renewal]) == [(utc(2026, 6, 20), utc(2026, 7, 20))]
    assert renewal.total.amount_minor == 1000


def test_scheduled_resume_bills_what_the_upcoming_invoice_showed(grpc: Transport) -> None:
    s = Scenario(grpc, utc(2026, 4, 1))
    created = s.subscribe(s.customer().id, s.price(1000).id)
    s.advance(utc(2026, 4, 16))
    paused = s.call(
        SUBSCRIPTIONS,
        "PauseSubscription",
        sub.PauseSubscriptionRequest(
            subscription_id=created.id, resume_time=stamp(utc(2026, 5, 10)), request_id=rid()
        ),
    )
    assert when(paused.resume_time) == utc(2026, 5, 10)
    upcoming = s.upcoming(created.id)

    s.advance(utc(2026, 5, 11))

    assert s.clock.work_items_run == 1
    resumed = s.subscription(created.id)
    assert resumed.status == ACTIVE
    assert when(resumed.current_period_start) == utc(2026, 5, 10)
    issued = s.invoice(resumed.latest_invoice_id)
    assert amounts(issued.lines) == [-500, 1000]
    assert periods([issued]) == [(utc(2026, 5, 10), utc(2026, 6, 10))]
    assert serialized(issued.lines) == serialized(upcoming.lines)
    assert without(issued, *ISSUE_FIELDS) == without(upcoming, *ISSUE_FIELDS)


def test_resume_invoice_has_the_adjustment_billing_reason(grpc: Transport) -> None:
    s = Scenario(grpc, utc(2026, 4, 1))
    created = s.subscribe(s.customer().id, s.price(1000).id)
    s.advance(utc(2026, 4, 16))
    s.pause(created.id)
    s.advance(utc(2026, 5, 20))
    resumed = s.resume(created.id)
    assert s.invoice(resumed.latest_invoice_id).billing_reason == ADJUSTMENT


# -- 8: cancellation ------------------------------------------------------------------


def test_cancel_at_period_end_stops_renewal_and_reactivate_withdraws_it(rpc: Transport) -> None:
    s = Scenario(rpc, utc(2026, 4, 1))
    customer = s.customer()
    price = s.price(1000)
    leaving = s.subscribe(customer.id, price.id)
    staying = s.subscribe(customer.id, price.id)
    s.advance(utc(2026, 4, 20))

    scheduled = s.cancel(leaving.id, at_period_end=True)
    assert (scheduled.status, scheduled.cancel_at_period_end) == (ACTIVE, True)
    assert not scheduled.HasField("canceled_time")
    failure = s.fail(
        INVOICES, "GetUpcomingInvoice", inv.GetUpcomingInvoiceRequest(subscription_id=leaving.id)
    )
    assert (failure.code, failure.reason) == ("FAILED_PRECONDITION", "INVALID_STATE")
    assert s.cancel(staying.id, at_period_end=True).cancel_at_period_end
    reactivated = s.reactivate(staying.id)
    assert (reactivated.status, reactivated.cancel_at_period_end) == (ACTIVE, False)

    s.advance(utc(2026, 5, 2))

    gone = s.subscription(leaving.id)
    assert gone.status == CANCELED
    assert when(gone.canceled_time) == utc(2026, 5, 1)
    assert not gone.cancel_at_period_end
    assert len(s.invoices(subscription_id=leaving.id)) == 1
    kept = s.subscription(staying.id)
    assert kept.status == ACTIVE
    assert periods(s.invoices(subscription_id=staying.id)) == [
        (utc(2026, 4, 1), utc(2026, 5, 1)),
        (utc(2026, 5, 1), utc(2026, 6, 1)),
    ]
    failure = s.fail(
        SUBSCRIPTIONS,
        "ReactivateSubscription",
        sub.ReactivateSubscriptionRequest(subscription_id=leaving.id),
    )
    assert (failure.code, failure.reason) == ("FAILED_PRECONDITION", "INVALID_STATE")


def test_cancel_at_trial_end_ends_the_subscription_without_an_invoice(grpc: Transport) -> None:
    s = Scenario(grpc, utc(2026, 4, 1))
    customer = s.customer()
    created = s.subscribe(customer.id, s.price(1000).id, trial_days=7)
    scheduled = s.cancel(created.id, at_period_end=True)
    assert (scheduled.status, scheduled.cancel_at_period_end) == (TRIALING, True)

    s.advance(utc(2026, 4, 30))

    ended = s.subscription(created.id)
    assert ended.status == CANCELED
    assert when(ended.canceled_time) == utc(2026, 4, 8)
    assert s.invoices(customer_id=customer.id) == []


def pay_by_card(s: Scenario, customer_id: str, invoice_id: str) -> None:
    s.call(
        "accrue.billing.v1.CustomerService",
        "AttachPaymentMethod",
        cus.AttachPaymentMethodRequest(
            customer_id=customer_id,
            payment_method=cus.PaymentMethod(
                psp="simulated", token="tok_visa", type=cus.PAYMENT_METHOD_TYPE_CARD
            ),
            make_default=True,
            request_id=rid(),
        ),
    )
    s.call(
        "accrue.billing.v1.PaymentService",
        "CreatePayment",
        pay.CreatePaymentRequest(customer_id=customer_id, invoice_id=invoice_id, request_id=rid()),
    )


def test_cancel_now_with_prorate_nets_the_credit_against_the_unpaid_invoice(
    rpc: Transport,
) -> None:
    """Nothing is left stranded: no credit balance beside a receivable on a canceled customer."""
    s = Scenario(rpc, utc(2026, 4, 1), name="Pro")
    customer = s.customer()
    created = s.subscribe(customer.id, s.price(1000).id)
    s.advance(utc(2026, 4, 16))

    canceled = s.cancel(created.id, prorate=True)

    assert canceled.status == CANCELED
    # No credit invoice: the unused half is a credit note on the unpaid first invoice.
    assert canceled.latest_invoice_id == created.latest_invoice_id
    first = s.invoice(created.latest_invoice_id)
    assert (first.status, first.amount_due.amount_minor) == (OPEN, 500)
    page = s.call(INVOICES, "ListCreditNotes", inv.ListCreditNotesRequest(invoice_id=first.id))
    [note] = page.credit_notes
    assert note.amount.amount_minor == 500
    assert note.reason == inv.CREDIT_NOTE_REASON_ORDER_CHANGE
    assert note.memo.startswith("Canceled: Unused time on Pro, 1 \u00d7 10.00 USD, 15 of 30 days")
    assert s.credit_balance(customer.id) == 0
    assert s.receivable(customer.id) == 500  # exactly the used half
    assert s.verify_ledger().intact

    s.advance(utc(2026, 6, 1))  # a canceled subscription never bills again
    assert len(s.invoices(subscription_id=created.id)) == 1


def test_cancel_now_with_prorate_after_payment_credits_the_balance(grpc: Transport) -> None:
    s = Scenario(grpc, utc(2026, 4, 1))
    customer = s.customer()
    created = s.subscribe(customer.id, s.price(1000).id)
    pay_by_card(s, customer.id, created.latest_invoice_id)
    s.advance(utc(2026, 4, 16))

    canceled = s.cancel(created.id, prorate=True)

    assert canceled.status == CANCELED
    assert when(canceled.canceled_time) == utc(2026, 4, 16)
    credit = s.invoice(canceled.latest_invoice_id)
    assert (credit.billing_reason, credit.status, credit.number) == (ADJUSTMENT, PAID, "INV-000002")
    assert amounts(credit.lines) == [-500]
    assert periods(credit.lines) == [(utc(2026, 4, 16), utc(2026, 5, 1))]
    assert (credit.total.amount_minor, credit.amount_due.amount_minor) == (-500, 0)
    assert s.credit_balance(customer.id) == 500
    assert s.receivable(customer.id) == 0

    s.advance(utc(2026, 6, 1))  # a canceled subscription never bills again
    assert len(s.invoices(subscription_id=created.id)) == 2

    # The next finalised invoice uses the balance.
    later = s.manual_invoice(customer.id, 800)
    assert (later.number, later.status) == ("INV-000003", OPEN)
    assert (later.credit_applied.amount_minor, later.amount_due.amount_minor) == (500, 300)
    assert s.credit_balance(customer.id) == 0
    assert s.receivable(customer.id) == 300
    assert s.verify_ledger().intact


def test_cancel_now_with_prorate_while_paused_credits_the_unused_time(grpc: Transport) -> None:
    s = Scenario(grpc, utc(2026, 4, 1))
    customer = s.customer()
    created = s.subscribe(customer.id, s.price(1000).id)
    s.advance(utc(2026, 4, 16))
    s.pause(created.id)
    s.advance(utc(2026, 4, 20))

    canceled = s.cancel(created.id, prorate=True)

    assert canceled.status == CANCELED
    # Paused time is never billed: [Apr 16, May 1) is credited, as a resume
    # would, against the still unpaid first invoice.
    assert s.invoice(created.latest_invoice_id).amount_due.amount_minor == 500
    assert (s.credit_balance(customer.id), s.receivable(customer.id)) == (0, 500)


def test_pausing_with_a_scheduled_cancellation_is_refused(grpc: Transport) -> None:
    """A paused subscription never reaches its period end, so the cancellation would be lost."""
    s = Scenario(grpc, utc(2026, 4, 1))
    created = s.subscribe(s.customer().id, s.price(1000).id)
    s.advance(utc(2026, 4, 16))
    scheduled = s.cancel(created.id, at_period_end=True)

    failure = s.fail(
        "SubscriptionService",
        "PauseSubscription",
        sub.PauseSubscriptionRequest(subscription_id=created.id, request_id="pause-1"),
    )

    assert (failure.code, failure.reason) == ("FAILED_PRECONDITION", "INVALID_STATE")
    assert s.subscription(created.id).version == scheduled.version
    s.advance(utc(2026, 5, 2))
    ended = s.subscription(created.id)
    assert ended.status == CANCELED
    assert when(ended.canceled_time) == utc(2026, 5, 1)
