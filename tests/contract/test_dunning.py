"""Automatic collection and dunning on test clocks, through the public API.

A CHARGE_AUTOMATICALLY subscription's invoices are charged to the customer's
default payment method when they are finalised. The first invoice is charged
at creation (see test_first_charge.py); these tests dun a renewal: the
subscription starts paid with a good card, the card is then swapped for one
that declines, and the renewal's failed charge makes the subscription
PAST_DUE and is retried 3, 5 and 7 days after each failure (the default
schedule); after the last failure the subscription is CANCELED (or UNPAID, by
setting). Every step is driven by AdvanceTestClock, one instant at a time,
with the simulated PSP's test tokens deciding each charge.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from accrue.billing.v1 import customer_pb2 as cus
from accrue.billing.v1 import event_pb2 as evt
from accrue.billing.v1 import invoice_pb2 as inv
from accrue.billing.v1 import payment_pb2 as pay
from accrue.billing.v1 import subscription_pb2 as sub
from tests.conftest import Transport
from tests.contract.billing_steps import (
    ACTIVE,
    CANCELED,
    CREATE,
    CUSTOMERS,
    CYCLE,
    OPEN,
    PAID,
    SUBSCRIPTIONS,
    Scenario,
    grpc_transport,
    rid,
    utc,
    when,
)
from tests.support import GrpcClients, RunningServer, running_server

pytestmark = pytest.mark.timeout(120)

PAYMENTS = "accrue.billing.v1.PaymentService"
EVENTS = "accrue.billing.v1.EventService"

PAST_DUE, UNPAID = sub.SUBSCRIPTION_STATUS_PAST_DUE, sub.SUBSCRIPTION_STATUS_UNPAID
CHARGE_AUTOMATICALLY = inv.COLLECTION_METHOD_CHARGE_AUTOMATICALLY
SEND_INVOICE = inv.COLLECTION_METHOD_SEND_INVOICE
SUCCEEDED, FAILED = pay.PAYMENT_STATUS_SUCCEEDED, pay.PAYMENT_STATUS_FAILED

START = utc(2025, 1, 1)
RENEWAL = utc(2025, 2, 1)  # the first renewal: the invoice these tests dun
PRICE = 2000
# The default schedule: the first attempt, then retries 3, 5 and 7 days after each failure.
ATTEMPT_DAYS = (0, 3, 8, 15)
DUNNING_EVENTS = (
    "invoice.payment_failed",
    "subscription.past_due",
    "subscription.canceled",
    "subscription.unpaid",
    "subscription.activated",
    "invoice.paid",
)


def day(n: float) -> datetime:
    return RENEWAL + timedelta(days=n)


class Dunning(Scenario):
    """A scenario whose customer pays (or fails to pay) by a PSP test token."""

    def payer(self, token: str | None) -> cus.Customer:
        customer = self.customer()
        if token is not None:
            self.attach(customer.id, token, make_default=True)
        return customer

    def attach(self, customer_id: str, token: str, *, make_default: bool) -> cus.Customer:
        return self.call(
            CUSTOMERS,
            "AttachPaymentMethod",
            cus.AttachPaymentMethodRequest(
                customer_id=customer_id,
                payment_method=cus.PaymentMethod(
                    psp="simulated", token=token, type=cus.PAYMENT_METHOD_TYPE_CARD
                ),
                make_default=make_default,
                request_id=rid(),
            ),
        )

    def subscribe_request_with(
        self, customer_id: str, price_id: str, method: int
    ) -> sub.CreateSubscriptionRequest:
        request = self.subscribe_request(customer_id, price_id)
        request.collection_method = method  # type: ignore[assignment]
        return request

    def subscribe_with(self, customer_id: str, price_id: str, method: int) -> sub.Subscription:
        request = self.subscribe_request_with(customer_id, price_id, method)
        return self.call(SUBSCRIPTIONS, "CreateSubscription", request)

    def payments(self, **filters: Any) -> list[pay.Payment]:
        page = self.call(
            PAYMENTS, "ListPayments", pay.ListPaymentsRequest(page_size=1000, **filters)
        )
        assert not page.next_page_token
        return list(page.payments)

    def events(self, *types: str) -> list[evt.Event]:
        page = self.call(
            EVENTS, "ListEvents", evt.ListEventsRequest(page_size=1000, types=list(types))
        )
        assert not page.next_page_token
        return list(page.events)

    def status(self, subscription_id: str) -> int:
        return int(self.subscription(subscription_id).status)


def next_attempt(invoice: inv.Invoice) -> datetime | None:
    if not invoice.HasField("next_payment_attempt_time"):
        return None
    return when(invoice.next_payment_attempt_time)


@pytest.fixture
def grpc(server: RunningServer, api_key: str) -> Iterator[Transport]:
    yield from grpc_transport(server, api_key)


def _failing_subscription(s: Dunning) -> tuple[cus.Customer, sub.Subscription]:
    """Paid at creation with a good card, which is then replaced by one that declines."""
    customer = s.payer("tok_visa")
    created = s.subscribe_with(customer.id, s.price(PRICE).id, CHARGE_AUTOMATICALLY)
    assert created.collection_method == CHARGE_AUTOMATICALLY
    assert created.status == ACTIVE
    [first] = s.invoices(subscription_id=created.id)
    assert (first.billing_reason, first.status) == (CREATE, PAID)
    s.attach(customer.id, "tok_insufficient_funds", make_default=True)
    return customer, created


def _first_invoice(s: Dunning, subscription_id: str) -> inv.Invoice:
    """The first renewal's invoice (the one dunned)."""
    first, renewal, *_ = s.invoices(subscription_id=subscription_id)
    assert (first.billing_reason, renewal.billing_reason) == (CREATE, CYCLE)
    assert when(renewal.period_start) == RENEWAL
    return renewal


def _walk_failures(
    s: Dunning, subscription_id: str, *, final_status: int
) -> tuple[inv.Invoice, list[pay.Payment]]:
    """Advance through every attempt of the first invoice, each declined; check each step."""
    s.advance(day(0) - timedelta(seconds=1))
    assert len(s.invoices(subscription_id=subscription_id)) == 1  # not renewed yet
    retries = [*ATTEMPT_DAYS[1:], None]
    invoice: inv.Invoice | None = None
    for attempt, (at, retry) in enumerate(zip(ATTEMPT_DAYS, retries, strict=True), start=1):
        if at > 0:
            # Nothing happens the moment before a retry is due.
            assert invoice is not None
            s.advance(day(at) - timedelta(seconds=1))
            assert s.invoice(invoice.id).attempt_count == attempt - 1
        s.advance(day(at))
        # Finalised at the renewal, its first attempt is made at once.
        invoice = s.invoice(invoice.id if invoice else _first_invoice(s, subscription_id).id)
        assert invoice.collection_method == CHARGE_AUTOMATICALLY

        assert invoice.status == OPEN
        assert invoice.attempt_count == attempt
        assert invoice.amount_due.amount_minor == PRICE
        assert next_attempt(invoice) == (None if retry is None else day(retry))
        expected = PAST_DUE if retry is not None else final_status
        assert s.status(subscription_id) == expected, f"after attempt {attempt}"
        payments = s.payments(invoice_id=invoice.id)
        assert len(payments) == attempt
        latest = payments[-1]
        assert (latest.status, latest.failure_code) == (FAILED, "insufficient_funds")
        assert latest.amount.amount_minor == PRICE

    assert invoice is not None and not invoice.HasField("next_payment_attempt_time")
    return invoice, payments


def test_failed_collection_is_retried_on_schedule_then_cancels_the_subscription(
    grpc: Transport,
) -> None:
    s = Dunning(grpc, START)
    customer, created = _failing_subscription(s)

    invoice, payments = _walk_failures(s, created.id, final_status=CANCELED)

    # Each attempt is one charge of the default method, once.
    assert [p.psp_request_count for p in payments] == [1, 1, 1, 1]
    assert len({p.psp_idempotency_key for p in payments}) == 4
    canceled = s.subscription(created.id)
    assert when(canceled.canceled_time) == day(15)
    # Nothing more happens: no retry, no renewal of a canceled subscription.
    s.advance(day(70))
    assert s.invoices(subscription_id=created.id)[1:] == [s.invoice(invoice.id)]
    assert len(s.payments()) == 5  # the first invoice's charge, then the four attempts
    assert s.invoice(invoice.id).status == OPEN
    assert s.receivable(customer.id) == PRICE
    assert s.verify_ledger().intact

    types = [e.type for e in s.events(*DUNNING_EVENTS)]
    assert types == [
        "invoice.paid",  # the first invoice, charged at creation
        "subscription.activated",
        "invoice.payment_failed",
        "subscription.past_due",
        "invoice.payment_failed",
        "invoice.payment_failed",
        "invoice.payment_failed",
        "subscription.canceled",
    ]


def test_a_new_default_method_lets_the_next_retry_pay_and_renewals_charge_it(
    grpc: Transport,
) -> None:
    s = Dunning(grpc, START)
    customer, created = _failing_subscription(s)
    s.advance(day(0))
    invoice = _first_invoice(s, created.id)
    s.advance(day(3))
    assert s.invoice(invoice.id).attempt_count == 2
    assert s.status(created.id) == PAST_DUE

    updated = s.attach(customer.id, "tok_visa", make_default=True)
    visa = updated.default_payment_method_id
    s.advance(day(8))

    paid = s.invoice(invoice.id)
    assert paid.status == PAID
    assert paid.amount_paid.amount_minor == PRICE
    assert paid.attempt_count == 3
    assert next_attempt(paid) is None
    assert s.status(created.id) == ACTIVE
    retried = s.payments(invoice_id=invoice.id)
    assert [p.status for p in retried] == [FAILED, FAILED, SUCCEEDED]
    assert retried[-1].payment_method_id == visa
    assert s.receivable(customer.id) == 0
    assert s.verify_ledger().intact
    # The later retry days pass without another charge.
    s.advance(day(20))
    assert len(s.payments()) == 4  # with the first invoice's

    # The next renewal is charged at once, to the new default, and paid.
    s.advance(utc(2025, 3, 1, 12))
    renewal = s.invoices(subscription_id=created.id)[-1]
    assert renewal.billing_reason == CYCLE
    assert when(renewal.period_start) == utc(2025, 3, 1)
    assert renewal.collection_method == CHARGE_AUTOMATICALLY
    assert (renewal.status, renewal.attempt_count) == (PAID, 1)
    [charged] = s.payments(invoice_id=renewal.id)
    assert (charged.status, charged.payment_method_id) == (SUCCEEDED, visa)
    assert s.status(created.id) == ACTIVE
    assert s.receivable(customer.id) == 0
    verdict = s.verify_ledger()
    assert verdict.intact and not verdict.balance_mismatches

    types = [e.type for e in s.events(*DUNNING_EVENTS)]
    assert types == [
        "invoice.paid",
        "subscription.activated",
        "invoice.payment_failed",
        "subscription.past_due",
        "invoice.payment_failed",
        "invoice.paid",
        "subscription.activated",
        "invoice.paid",
    ]


def test_the_unpaid_final_action_keeps_the_subscription_unpaid_until_paid(
    sqlite_url: str,
) -> None:
    with running_server(sqlite_url, dunning_final_action="unpaid") as server:
        transport = Transport("grpc", GrpcClients(server.grpc_target, server.new_tenant()))
        try:
            s = Dunning(transport, START)
            customer, created = _failing_subscription(s)

            invoice, _ = _walk_failures(s, created.id, final_status=UNPAID)

            assert not s.subscription(created.id).HasField("canceled_time")
            types = [e.type for e in s.events(*DUNNING_EVENTS)]
            assert types[-1] == "subscription.unpaid"
            assert "subscription.canceled" not in types

            # Paying the invoice by other means makes it active again.
            visa = s.attach(customer.id, "tok_visa", make_default=True)
            payment = s.call(
                PAYMENTS,
                "CreatePayment",
                pay.CreatePaymentRequest(
                    customer_id=customer.id, invoice_id=invoice.id, request_id=rid()
                ),
            )
            assert (payment.status, payment.payment_method_id) == (
                SUCCEEDED,
                visa.default_payment_method_id,
            )
            assert s.invoice(invoice.id).status == PAID
            assert s.status(created.id) == ACTIVE
            assert s.verify_ledger().intact
        finally:
            transport.clients.close()


def test_charging_automatically_needs_a_default_payment_method(rpc: Transport) -> None:
    s = Dunning(rpc, START)
    customer = s.payer(token=None)
    request = s.subscribe_request_with(customer.id, s.price(PRICE).id, CHARGE_AUTOMATICALLY)

    failure = s.fail(SUBSCRIPTIONS, "CreateSubscription", request)

    assert (failure.code, failure.reason) == ("FAILED_PRECONDITION", "INVALID_STATE")
    assert s.invoices(customer_id=customer.id) == []
    page = s.call(
        SUBSCRIPTIONS,
        "ListSubscriptions",
        sub.ListSubscriptionsRequest(page_size=10, customer_id=customer.id),
    )
    assert list(page.subscriptions) == []


@pytest.mark.parametrize("method", [None, SEND_INVOICE], ids=["unset", "send_invoice"])
def test_a_send_invoice_subscription_is_never_charged(grpc: Transport, method: int | None) -> None:
    s = Dunning(grpc, START)
    customer = s.payer("tok_visa")
    price = s.price(PRICE).id
    if method is None:
        created = s.subscribe(customer.id, price)
    else:
        created = s.subscribe_with(customer.id, price, method)
    assert created.collection_method == SEND_INVOICE

    s.advance(utc(2025, 3, 15))

    invoices = s.invoices(subscription_id=created.id)
    assert len(invoices) == 3
    for invoice in invoices:
        assert invoice.collection_method == SEND_INVOICE
        assert (invoice.status, invoice.attempt_count) == (OPEN, 0)
        assert next_attempt(invoice) is None
    assert s.payments() == []
    assert s.status(created.id) == ACTIVE
    assert s.receivable(customer.id) == 3 * PRICE


def test_an_attempt_skipped_for_a_payment_in_progress_comes_back_when_that_payment_fails(
    grpc: Transport, server: RunningServer, api_key: str
) -> None:
    s = Dunning(grpc, START)
    customer, created = _failing_subscription(s)
    s.advance(day(0))
    invoice = _first_invoice(s, created.id)
    assert (invoice.attempt_count, next_attempt(invoice)) == (1, day(3))
    # Someone pays the invoice by hand with a card whose PSP never answers.
    with_card = s.attach(customer.id, "tok_5xx", make_default=False)
    card = with_card.payment_methods[-1].id
    manual = s.call(
        PAYMENTS,
        "CreatePayment",
        pay.CreatePaymentRequest(
            customer_id=customer.id, invoice_id=invoice.id, payment_method_id=card, request_id=rid()
        ),
    )
    assert manual.status == pay.PAYMENT_STATUS_UNKNOWN

    # The day-3 retry must not charge beside a payment in progress: it waits.
    s.advance(day(3))
    waiting = s.invoice(invoice.id)
    assert (waiting.attempt_count, next_attempt(waiting)) == (1, None)
    assert len(s.payments(invoice_id=invoice.id)) == 2

    # The manual payment turns out to have failed (the PSP has no charge and the
    # card is gone): the skipped attempt is due again at once, and dunning goes on.
    s.call(
        CUSTOMERS,
        "DetachPaymentMethod",
        cus.DetachPaymentMethodRequest(customer_id=customer.id, payment_method_id=card),
    )
    resolved = server.app.payments.resolve(server.tenant_of(api_key), manual.id)
    assert resolved.failure_code == "payment_method_detached"
    assert next_attempt(s.invoice(invoice.id)) == day(3)
    s.advance(day(3) + timedelta(seconds=1))
    retried = s.invoice(invoice.id)
    assert (retried.attempt_count, next_attempt(retried)) == (2, day(8))
    assert s.status(created.id) == PAST_DUE
