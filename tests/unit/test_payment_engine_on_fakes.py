"""The payment engine's use cases on in-memory fakes of its ports: no SQL, no server.

What a caller relies on: a charge is recorded once with its posting and its
events, a lost answer leaves the payment UNKNOWN for the resolver, a decline
posts nothing, and payments only *announce* invoice outcomes; the subscription
side hears them through `InvoiceCollectionListener` in the same transaction.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from accrue.invoicing.model import CollectionMethod, Invoice, InvoiceStatus
from accrue.payments.dunning import DunningPolicy
from accrue.payments.engine import PaymentPolicy
from accrue.payments.model import Payment, PaymentStatus
from accrue.payments.psp.port import PspOutcomeUnknown, PspRejected
from accrue.platform.resilience.backoff import Backoff
from tests.fakes.payments import NOW, PAYMENTS_TENANT, FakeGateway, PaymentStack, payment_stack
from tests.unit.test_invoices import issued


def _stack(*answers: Any, invoices: tuple[Invoice, ...] = ()) -> PaymentStack:
    return payment_stack(
        gateway=FakeGateway(*answers),
        policy=PaymentPolicy(
            backoff=Backoff(0.01, 0.01, 2), dunning=DunningPolicy.parse("3,5", "cancel")
        ),
        invoices=invoices,
    )


def _open(
    stack: PaymentStack, *, invoice_id: str = "", amount: int = 1000, attempt: int = 0
) -> Payment:
    with stack.uow(write=True) as uow:
        payment = stack.engine.open_payment(
            uow,
            customer=uow.customers.get(PAYMENTS_TENANT, "cus_1"),
            invoice_id=invoice_id,
            amount_minor=amount,
            payment_method_id="pm_1",
            psp="psp",
            request_id="req-1",
            fingerprint="f",
            description="",
            metadata={},
            collection_attempt=attempt,
        )
        uow.commit()
    return payment


def _open_invoice(method: CollectionMethod = CollectionMethod.CHARGE_AUTOMATICALLY) -> Invoice:
    invoice = replace(issued([1000], rate=None), subscription_id="sub_1", collection_method=method)
    assert invoice.status is InvoiceStatus.OPEN and invoice.amount_due_minor == 1000
    return invoice


# -- the use cases ---------------------------------------------------------------


def test_a_prepayment_succeeds_once_posts_to_credit_and_tells_no_invoice() -> None:
    stack = _stack("succeeded")
    payment = stack.engine.send(_open(stack), "tok_visa")
    assert payment.status is PaymentStatus.SUCCEEDED
    assert stack.db.payments.rows[payment.id] == payment
    assert payment.ledger_transaction_id == "txn_1"
    (posting,) = stack.ledger.posted
    accounts = {line.account.code for line in posting.entries}
    assert "customer_credit" in accounts and "accounts_receivable" not in accounts
    assert stack.events.types == ["payment.created", "payment.succeeded"]
    assert stack.listener.heard == []
    assert stack.gateway.requests == [payment.psp_idempotency_key]


def test_a_lost_answer_leaves_the_payment_unknown_for_the_resolver_and_posts_nothing() -> None:
    stack = _stack(PspOutcomeUnknown("timeout"), PspOutcomeUnknown("timeout"))
    payment = stack.engine.send(_open(stack), "tok_visa")
    assert payment.status is PaymentStatus.UNKNOWN
    assert payment.next_inquiry_time == NOW + timedelta(seconds=30)
    assert stack.ledger.posted == []
    assert len(stack.gateway.requests) == 2  # retried under the same key
    assert set(stack.gateway.requests) == {payment.psp_idempotency_key}


def test_a_rejected_request_fails_the_payment_and_posts_nothing() -> None:
    stack = _stack(PspRejected("bad token", code="invalid_token"))
    payment = stack.engine.send(_open(stack), "tok_visa")
    assert payment.status is PaymentStatus.FAILED
    assert stack.ledger.posted == []
    assert stack.events.types == ["payment.created", "payment.failed"]


def test_paying_an_invoice_settles_it_and_announces_it_to_the_subscription_side() -> None:
    invoice = _open_invoice()
    stack = _stack("succeeded", invoices=(invoice,))
    payment = stack.engine.send(_open(stack, invoice_id=invoice.id), "tok_visa")
    assert payment.status is PaymentStatus.SUCCEEDED
    paid = stack.db.invoices.rows[invoice.id]
    assert paid.status is InvoiceStatus.PAID and paid.amount_paid_minor == 1000
    (posting,) = stack.ledger.posted
    assert "accounts_receivable" in {line.account.code for line in posting.entries}
    assert stack.events.types == ["payment.created", "payment.succeeded", "invoice.paid"]
    assert stack.listener.heard == [("paid", invoice.id, InvoiceStatus.PAID)]


@pytest.mark.parametrize(
    ("attempts_made", "next_in_days", "final_action"),
    [(1, 3, None), (2, 5, None), (3, None, "cancel")],
)
def test_a_declined_collection_attempt_schedules_the_next_or_announces_the_final_action(
    attempts_made: int, next_in_days: int | None, final_action: str | None
) -> None:
    invoice = replace(_open_invoice(), attempt_count=attempts_made)
    stack = _stack("card_declined", invoices=(invoice,))
    payment = _open(stack, invoice_id=invoice.id, attempt=attempts_made)
    assert stack.engine.send(payment, "tok_visa").status is PaymentStatus.FAILED
    failed = stack.db.invoices.rows[invoice.id]
    assert failed.status is InvoiceStatus.OPEN  # payments never void or cancel by themselves
    expected = None if next_in_days is None else NOW + timedelta(days=next_in_days)
    assert failed.next_payment_attempt_time == expected
    assert stack.ledger.posted == []
    assert stack.listener.heard == [("failed", invoice.id, final_action)]
    assert stack.events.types[-1] == "invoice.payment_failed"


def test_someone_elses_failed_payment_on_an_invoice_is_not_a_dunning_step() -> None:
    invoice = _open_invoice(CollectionMethod.SEND_INVOICE)
    stack = _stack("card_declined", invoices=(invoice,))
    stack.engine.send(_open(stack, invoice_id=invoice.id), "tok_visa")
    assert stack.db.invoices.rows[invoice.id] == invoice
    assert stack.listener.heard == []
