"""What a billing user tripped over: the first automatic charge, netting on
cancel, upcoming-invoice refusals and preview statuses, over both transports.

With CHARGE_AUTOMATICALLY the first invoice is charged at creation, after the
subscription and invoice committed: INCOMPLETE until paid, ACTIVE on success;
a decline leaves it INCOMPLETE with the invoice OPEN, retried on the dunning
schedule, and after the last failure CANCELED with the invoice VOID.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from accrue.billing.v1 import customer_pb2 as cus
from accrue.billing.v1 import invoice_pb2 as inv
from accrue.billing.v1 import subscription_pb2 as sub
from tests.conftest import Transport
from tests.contract.billing_steps import (
    ACTIVE,
    ALWAYS_INVOICE,
    CANCELED,
    CUSTOMERS,
    INVOICES,
    OPEN,
    PAID,
    VOID,
    grpc_transport,
    rid,
    utc,
    when,
)
from tests.contract.test_billing_pause_cancel import pay_by_card
from tests.contract.test_dunning import CHARGE_AUTOMATICALLY, Dunning, next_attempt
from tests.support import RunningServer

pytestmark = pytest.mark.timeout(120)
INCOMPLETE = sub.SUBSCRIPTION_STATUS_INCOMPLETE
START = utc(2025, 1, 1)
PRICE = 2000


@pytest.fixture
def grpc(server: RunningServer, api_key: str) -> Iterator[Transport]:
    yield from grpc_transport(server, api_key)


def test_first_charge_at_creation_makes_the_subscription_active(rpc: Transport) -> None:
    s = Dunning(rpc, START)
    customer = s.payer("tok_visa")
    created = s.subscribe_with(customer.id, s.price(PRICE).id, CHARGE_AUTOMATICALLY)

    assert created.status == ACTIVE
    first = s.invoice(created.latest_invoice_id)
    assert (first.status, first.attempt_count, first.amount_paid.amount_minor) == (PAID, 1, PRICE)
    [payment] = s.payments(invoice_id=first.id)
    assert payment.psp_request_count == 1
    assert s.receivable(customer.id) == 0
    assert s.verify_ledger().intact
    assert [e.type for e in s.events("subscription.activated", "invoice.paid")] == [
        "invoice.paid",
        "subscription.activated",
    ]


def test_declined_first_charge_leaves_it_incomplete_with_the_invoice_open(
    rpc: Transport,
) -> None:
    s = Dunning(rpc, START)
    customer = s.payer("tok_insufficient_funds")
    created = s.subscribe_with(customer.id, s.price(PRICE).id, CHARGE_AUTOMATICALLY)

    assert created.status == INCOMPLETE
    first = s.invoice(created.latest_invoice_id)
    assert (first.status, first.attempt_count) == (OPEN, 1)
    assert next_attempt(first) == START + timedelta(days=3)
    failure = s.fail(
        INVOICES,
        "GetUpcomingInvoice",
        inv.GetUpcomingInvoiceRequest(subscription_id=created.id),
    )
    assert (failure.code, failure.reason) == ("FAILED_PRECONDITION", "INVALID_STATE")
    assert "first invoice is not paid yet" in failure.message


def test_incomplete_subscription_starts_when_a_retry_pays(grpc: Transport) -> None:
    s = Dunning(grpc, START)
    customer = s.payer("tok_do_not_honor")
    created = s.subscribe_with(customer.id, s.price(PRICE).id, CHARGE_AUTOMATICALLY)
    assert created.status == INCOMPLETE
    s.attach(customer.id, "tok_visa", make_default=True)

    s.advance(START + timedelta(days=3))

    assert s.status(created.id) == ACTIVE
    assert s.invoice(created.latest_invoice_id).status == PAID
    s.advance(utc(2025, 2, 1, 1))  # an active subscription renews and is charged
    assert [i.status for i in s.invoices(subscription_id=created.id)] == [PAID, PAID]


def test_incomplete_subscription_is_canceled_and_its_invoice_voided_after_the_last_retry(
    grpc: Transport,
) -> None:
    s = Dunning(grpc, START)
    customer = s.payer("tok_insufficient_funds")
    created = s.subscribe_with(customer.id, s.price(PRICE).id, CHARGE_AUTOMATICALLY)
    for days in (3, 8):
        s.advance(START + timedelta(days=days))
        assert s.status(created.id) == INCOMPLETE

    s.advance(START + timedelta(days=15))

    assert s.status(created.id) == CANCELED
    first = s.invoice(created.latest_invoice_id)
    assert (first.status, first.attempt_count) == (VOID, 4)
    assert s.receivable(customer.id) == 0
    assert s.verify_ledger().intact
    s.advance(utc(2025, 3, 1))
    assert len(s.invoices(subscription_id=created.id)) == 1


def test_canceling_an_incomplete_subscription_voids_its_unpaid_invoice(rpc: Transport) -> None:
    s = Dunning(rpc, START)
    customer = s.payer("tok_fraud")
    created = s.subscribe_with(customer.id, s.price(PRICE).id, CHARGE_AUTOMATICALLY)
    assert created.status == INCOMPLETE

    canceled = s.cancel(created.id, prorate=True)

    assert canceled.status == CANCELED
    assert s.invoice(created.latest_invoice_id).status == VOID
    assert (s.receivable(customer.id), s.credit_balance(customer.id)) == (0, 0)
    assert s.verify_ledger().intact


def test_a_worker_makes_the_first_charge_when_the_call_could_not(
    grpc: Transport, server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash between the commit and the charge: `accrue worker` charges it instead."""
    s = Dunning(grpc, START)
    customer = s.call(
        CUSTOMERS,
        "CreateCustomer",
        cus.CreateCustomerRequest(
            customer=cus.Customer(display_name="Real time", currency_code="USD"),
            request_id=rid(),
        ),
    )
    s.attach(customer.id, "tok_visa", make_default=True)
    [route] = [r for r in server.app.routes if r.method == "CreateSubscription"]
    handler: Any = route.handler.__self__  # type: ignore[attr-defined]
    monkeypatch.setattr(handler._subs, "_first_charge", None)  # the use cases charge it

    created = s.subscribe_with(customer.id, s.price(PRICE).id, CHARGE_AUTOMATICALLY)
    assert created.status == INCOMPLETE
    assert s.invoice(created.latest_invoice_id).attempt_count == 0

    assert server.app.collections.collect_due(limit=100) >= 1

    assert s.status(created.id) == ACTIVE
    assert s.invoice(created.latest_invoice_id).status == PAID
    assert server.app.collections.collect_due(limit=100) == 0  # made once
    assert len(s.payments(invoice_id=created.latest_invoice_id)) == 1


def test_upcoming_invoice_names_the_scheduled_cancellation(rpc: Transport) -> None:
    s = Dunning(rpc, utc(2026, 4, 1))
    created = s.subscribe(s.customer().id, s.price(1000).id)
    s.cancel(created.id, at_period_end=True)

    failure = s.fail(
        INVOICES, "GetUpcomingInvoice", inv.GetUpcomingInvoiceRequest(subscription_id=created.id)
    )

    assert (failure.code, failure.reason) == ("FAILED_PRECONDITION", "INVALID_STATE")
    assert "scheduled to cancel at the end of its period, 2026-05-01T00:00:00Z" in failure.message
    assert "+00:00" not in failure.message


def test_always_invoice_preview_is_a_draft_with_the_amounts_the_commit_finalises(
    rpc: Transport,
) -> None:
    s = Dunning(rpc, utc(2026, 4, 1))
    customer = s.customer()
    created = s.subscribe(customer.id, s.price(1000).id)
    # A credit balance of 600: paid, then credited beyond what was due.
    pay_by_card(s, customer.id, created.latest_invoice_id)
    s.credit_note(s.invoice(created.latest_invoice_id), 600)
    assert s.credit_balance(customer.id) == 600
    s.advance(utc(2026, 4, 16))
    bigger = s.price(3000).id

    preview = s.preview(created.id, bigger, behavior=ALWAYS_INVOICE).invoice
    committed = s.change(created.id, bigger, behavior=ALWAYS_INVOICE).invoice

    assert (preview.status, preview.id, preview.number) == (inv.INVOICE_STATUS_DRAFT, "", "")
    assert committed.status in (OPEN, PAID) and committed.number
    assert preview.credit_applied.amount_minor == 600
    for field in ("subtotal", "tax", "total", "credit_applied", "amount_due"):
        assert getattr(preview, field) == getattr(committed, field), field
    assert [line.description for line in preview.lines] == [
        line.description for line in committed.lines
    ]
    assert when(committed.finalize_time) == utc(2026, 4, 16)


def test_a_payment_closes_a_test_clock_invoice_at_the_clocks_time(rpc: Transport) -> None:
    """The paid invoice's close time is its customer's "now", the clock's frozen time."""
    s = Dunning(rpc, utc(2026, 4, 1))
    customer = s.customer()
    created = s.subscribe(customer.id, s.price(1000).id)
    s.advance(utc(2026, 4, 9, 13, 30))

    pay_by_card(s, customer.id, created.latest_invoice_id)

    paid = s.invoice(created.latest_invoice_id)
    assert paid.status == PAID and paid.amount_due.amount_minor == 0
    assert when(paid.close_time) == utc(2026, 4, 9, 13, 30)
