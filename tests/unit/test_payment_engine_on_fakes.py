"""The payment engine's use cases on in-memory fakes of its ports: no SQL, no server.

What a caller relies on: a charge is recorded once with its posting and its
events, a lost answer leaves the payment UNKNOWN for the resolver, a decline
posts nothing, and payments only *announce* invoice outcomes; the subscription
side hears them through `InvoiceCollectionListener` in the same transaction.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace, TracebackType
from typing import Any

import pytest

from accrue.invoicing import model as inv
from accrue.invoicing.model import CollectionMethod, Invoice, InvoiceStatus
from accrue.kernel.errors import ConcurrentModification
from accrue.kernel.ids import IdGenerator
from accrue.payments.dunning import DunningPolicy
from accrue.payments.engine import PaymentEngine, PaymentPolicy
from accrue.payments.model import Payment, PaymentStatus
from accrue.payments.psp.port import PspCharge, PspOutcomeUnknown, PspRejected, PspStatus
from accrue.platform.clock import FixedClock
from accrue.platform.resilience.backoff import Backoff
from accrue.platform.resilience.circuit_breaker import CircuitBreakers
from tests.unit.test_invoices import issued

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


# -- fakes of the ports the engine uses ------------------------------------------


class FakePayments:
    """PaymentRepository in memory, version-checked like the SQL one."""

    def __init__(self) -> None:
        self.rows: dict[str, Payment] = {}

    def add(self, payment: Payment) -> None:
        self.rows[payment.id] = payment

    def get(self, tenant_id: str, payment_id: str, *, for_update: bool = False) -> Payment | None:
        found = self.rows.get(payment_id)
        return found if found is not None and found.tenant_id == tenant_id else None

    def find_by_psp_key(self, key: str) -> tuple[str, str] | None:
        for p in self.rows.values():
            if p.psp_idempotency_key == key:
                return p.tenant_id, p.id
        return None

    def update(self, payment: Payment, *, previous: Payment) -> None:
        if self.rows[payment.id].version != previous.version:
            raise ConcurrentModification("payment", payment.id)
        self.rows[payment.id] = payment


class FakeInvoices:
    def __init__(self, *invoices: Invoice) -> None:
        self.rows = {i.id: i for i in invoices}

    def get(self, tenant_id: str, invoice_id: str, *, for_update: bool = False) -> Invoice | None:
        return self.rows.get(invoice_id)

    def update(self, invoice: Invoice) -> None:
        self.rows[invoice.id] = invoice


class FakeCustomers:
    def __init__(self) -> None:
        method = SimpleNamespace(id="pm_1", token="tok_visa")
        self.customer = SimpleNamespace(
            id="cus_1", tenant_id="t_1", currency_code="USD", payment_methods=(method,)
        )

    def get(self, tenant_id: str, customer_id: str, *, for_update: bool = False) -> Any:
        return self.customer if customer_id == self.customer.id else None


@dataclass
class FakeUnitOfWork:
    payments: FakePayments
    invoices: FakeInvoices
    customers: FakeCustomers
    commits: int = 0

    def __enter__(self) -> FakeUnitOfWork:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def commit(self) -> None:
        self.commits += 1


class FakeLedger:
    def __init__(self) -> None:
        self.posted: list[Any] = []

    def post(self, uow: Any, tenant_id: str, request: Any) -> Any:
        self.posted.append(request)
        return SimpleNamespace(id=f"txn_{len(self.posted)}")


class FakeEvents:
    def __init__(self) -> None:
        self.types: list[str] = []

    def record(
        self, uow: Any, tenant_id: str, *, type: str, resource_id: str, subject: Any
    ) -> None:
        self.types.append(type)


class FakeInvoicing:
    def now_for(self, uow: Any, customer: Any) -> datetime:
        return NOW

    def void(self, uow: Any, invoice: Invoice, *, now: datetime) -> Invoice:
        voided = inv.void(invoice, now)
        uow.invoices.update(voided)
        return voided


@dataclass
class RecordingListener:
    """What the subscription side would hear, in the payment's transaction."""

    heard: list[tuple[str, str, Any]] = field(default_factory=list)

    def invoice_paid(self, uow: Any, invoice: Invoice, now: datetime) -> None:
        self.heard.append(("paid", invoice.id, invoice.status))

    def collection_failed(
        self, uow: Any, invoice: Invoice, now: datetime, *, final_action: Any
    ) -> None:
        self.heard.append(("failed", invoice.id, final_action))


class FakeGateway:
    """A PSP that answers from a script: a status, a decline code, or an exception."""

    name = "psp"

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.requests: list[str] = []

    def charge(self, *, idempotency_key: str, token: str, amount_minor: int, **_: Any) -> Any:
        self.requests.append(idempotency_key)
        answer = self.answers.pop(0) if self.answers else "succeeded"
        if isinstance(answer, Exception):
            raise answer
        failed = answer != "succeeded"
        return PspCharge(
            psp_id="ch_1",
            idempotency_key=idempotency_key,
            amount_minor=amount_minor,
            currency_code="USD",
            status=PspStatus.FAILED if failed else PspStatus.SUCCEEDED,
            decline_code=answer if failed else "",
            fee_minor=30,
            create_time=NOW,
        )


@dataclass
class Stack:
    engine: PaymentEngine
    uow: FakeUnitOfWork
    ledger: FakeLedger
    events: FakeEvents
    listener: RecordingListener
    gateway: FakeGateway


def _stack(*answers: Any, invoices: tuple[Invoice, ...] = ()) -> Stack:
    uow = FakeUnitOfWork(FakePayments(), FakeInvoices(*invoices), FakeCustomers())
    ledger, events, listener = FakeLedger(), FakeEvents(), RecordingListener()
    gateway = FakeGateway(*answers)
    clock = FixedClock(NOW)
    engine = PaymentEngine(
        uow_factory=lambda *, write: uow,  # type: ignore[arg-type,return-value]
        clock=clock,
        ids=IdGenerator(clock),
        events=events,  # type: ignore[arg-type]
        ledger=ledger,  # type: ignore[arg-type]
        invoicing=FakeInvoicing(),  # type: ignore[arg-type]
        listener=listener,
        gateways={"psp": gateway},  # type: ignore[dict-item]
        breakers=CircuitBreakers(failure_threshold=5, reset_after_seconds=60),
        policy=PaymentPolicy(
            backoff=Backoff(0.01, 0.01, 2), dunning=DunningPolicy.parse("3,5", "cancel")
        ),
        sleep=lambda _: None,
        rng=random.Random(1),
    )
    return Stack(engine, uow, ledger, events, listener, gateway)


def _open(stack: Stack, *, invoice_id: str = "", amount: int = 1000, attempt: int = 0) -> Payment:
    customer = stack.uow.customers.customer
    payment = stack.engine.open_payment(
        stack.uow,  # type: ignore[arg-type]
        customer=customer,
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
    stack.uow.commit()
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
    assert stack.uow.payments.rows[payment.id] == payment
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
    paid = stack.uow.invoices.rows[invoice.id]
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
    failed = stack.uow.invoices.rows[invoice.id]
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
    assert stack.uow.invoices.rows[invoice.id] == invoice
    assert stack.listener.heard == []
