"""PaymentService on in-memory fakes: its idempotency is the payment record itself.

A payment is committed before the PSP is called, so a retried CreatePayment
finds the record and answers it as it stands (never a second charge); a
request that is refused before the PSP stores nothing.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from accrue.invoicing.model import InvoiceStatus
from accrue.kernel.errors import AccrueError, IdempotencyKeyReused, NotFound
from accrue.kernel.paging import PageRequest
from accrue.payments.engine import PaymentPolicy
from accrue.payments.model import PaymentStatus
from accrue.payments.service import PaymentRequest
from accrue.platform.resilience.backoff import Backoff
from tests.fakes.payments import PAYMENTS_TENANT, FakeGateway, PaymentStack, payment_stack
from tests.unit.test_invoices import issued


def _stack(*answers: str, invoices: tuple = ()) -> PaymentStack:  # type: ignore[type-arg]
    return payment_stack(
        gateway=FakeGateway(*answers),
        policy=PaymentPolicy(backoff=Backoff(0.01, 0.01, 2)),
        invoices=invoices,
    )


def _request(
    request_id: str = "", *, invoice_id: str = "", amount: int | None = 1500, fingerprint: str = "f"
) -> PaymentRequest:
    return PaymentRequest(
        customer_id="cus_1",
        invoice_id=invoice_id,
        amount_minor=None if invoice_id else amount,
        currency_code="USD",
        payment_method_id="",
        description="",
        metadata={},
        request_id=request_id,
        fingerprint=fingerprint,
    )


def test_a_retried_payment_answers_the_record_as_it_stands_and_charges_once() -> None:
    stack = _stack("succeeded")
    first = stack.service.create(PAYMENTS_TENANT, _request("r-1"))
    again = stack.service.create(PAYMENTS_TENANT, _request("r-1"))

    assert first.status is PaymentStatus.SUCCEEDED and again == first
    assert stack.gateway.requests == [first.psp_idempotency_key]
    assert len(stack.db.payments.rows) == 1
    with pytest.raises(IdempotencyKeyReused):
        stack.service.create(PAYMENTS_TENANT, _request("r-1", fingerprint="another"))


def test_paying_an_invoice_that_is_not_open_is_refused_and_nothing_is_stored() -> None:
    draft_invoice = replace(issued([1000], rate=None), status=InvoiceStatus.DRAFT)
    stack = _stack(invoices=(draft_invoice,))
    with pytest.raises(AccrueError) as refused:
        stack.service.create(PAYMENTS_TENANT, _request("r-1", invoice_id=draft_invoice.id))
    assert refused.value.reason == "INVALID_STATE"
    assert stack.db.payments.rows == {} and stack.gateway.requests == []


def test_an_open_invoice_is_paid_in_full_and_found_by_its_invoice() -> None:
    invoice = issued([1000], rate=None)
    assert invoice.status is InvoiceStatus.OPEN
    stack = _stack("succeeded", invoices=(invoice,))
    payment = stack.service.create(PAYMENTS_TENANT, _request(invoice_id=invoice.id))

    assert payment.amount_minor == 1000 and payment.status is PaymentStatus.SUCCEEDED
    assert stack.db.invoices.rows[invoice.id].status is InvoiceStatus.PAID
    listed = stack.service.list_payments(
        PAYMENTS_TENANT, PageRequest(10, "", ""), customer_id="", invoice_id=invoice.id, status=None
    )
    assert [p.id for p in listed.items] == [payment.id]
    assert stack.service.get(PAYMENTS_TENANT, payment.id) == payment
    with pytest.raises(NotFound):
        stack.service.get("another_tenant", payment.id)
