"""In-memory fakes of what the payment engine and PaymentService use.

The repositories live in a transactional `FakeDatabase` (a failed step rolls
back); the ledger's posting service, the event recorder, invoicing's void and
the PSP are faked at their service boundary and record what they were asked.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from accrue.customers.model import PaymentMethod, PaymentMethodType
from accrue.invoicing import model as inv
from accrue.invoicing.model import Invoice
from accrue.kernel.errors import ConcurrentModification
from accrue.kernel.ids import IdGenerator
from accrue.kernel.paging import PageRequest
from accrue.payments.engine import PaymentEngine, PaymentPolicy
from accrue.payments.model import Payment, PaymentStatus, Refund
from accrue.payments.psp.port import PspCharge, PspStatus
from accrue.payments.service import PaymentService
from accrue.platform.clock import FixedClock
from accrue.platform.resilience.circuit_breaker import CircuitBreakers
from tests.fakes.invoicing import FakeById, FakeInvoices, FakeLedgerBook, customer
from tests.fakes.transactions import (
    FakeDatabase,
    FakeIdempotency,
    FakeUnitOfWorkFactory,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PAYMENTS_TENANT = "t_1"


@dataclass
class FakePayments:
    """PaymentRepository in memory, version-checked like the SQL one."""

    rows: dict[str, Payment] = field(default_factory=dict)
    refunds: dict[str, Refund] = field(default_factory=dict)

    def add(self, payment: Payment) -> None:
        if any(
            p.request_id and (p.tenant_id, p.request_id) == (payment.tenant_id, payment.request_id)
            for p in self.rows.values()
        ):
            raise ConcurrentModification(f"request_id {payment.request_id!r} is taken")
        self.rows[payment.id] = payment

    def get(self, tenant_id: str, payment_id: str, *, for_update: bool = False) -> Payment | None:
        found = self.rows.get(payment_id)
        return found if found is not None and found.tenant_id == tenant_id else None

    def get_by_request(self, tenant_id: str, request_id: str) -> Payment | None:
        for p in self.rows.values():
            if (p.tenant_id, p.request_id) == (tenant_id, request_id):
                return p
        return None

    def find_by_psp_key(self, key: str) -> tuple[str, str] | None:
        for p in self.rows.values():
            if p.psp_idempotency_key == key:
                return p.tenant_id, p.id
        return None

    def update(self, payment: Payment, *, previous: Payment) -> None:
        if self.rows[payment.id].version != previous.version:
            raise ConcurrentModification(f"payment {payment.id!r} changed meanwhile")
        self.rows[payment.id] = payment

    def list(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        customer_id: str,
        invoice_id: str,
        status: PaymentStatus | None,
    ) -> Sequence[Payment]:
        found = [
            p
            for p in sorted(self.rows.values(), key=lambda p: p.id)
            if p.tenant_id == tenant_id
            and p.id > page.after_id
            and (not customer_id or p.customer_id == customer_id)
            and (not invoice_id or p.invoice_id == invoice_id)
            and (status is None or p.status is status)
        ]
        return found[: page.size + 1]

    def in_progress_for_invoice(self, tenant_id: str, invoice_id: str) -> bool:
        pending = {PaymentStatus.PENDING, PaymentStatus.PROCESSING, PaymentStatus.UNKNOWN}
        return any(p.invoice_id == invoice_id and p.status in pending for p in self.rows.values())

    def add_refund(self, refund: Refund) -> None:
        self.refunds[refund.id] = refund

    def get_refund(self, tenant_id: str, refund_id: str, *, for_update: bool = False) -> Any:
        return self.refunds.get(refund_id)

    def get_refund_by_request(self, tenant_id: str, request_id: str) -> Refund | None:
        for r in self.refunds.values():
            if r.request_id == request_id:
                return r
        return None

    def list_refunds(self, tenant_id: str, page: PageRequest, *, payment_id: str) -> list[Refund]:
        found = sorted(self.refunds.values(), key=lambda r: r.id)
        return [r for r in found if r.id > page.after_id and r.payment_id == payment_id][
            : page.size + 1
        ]


class FakeLedger:
    """The ledger's posting service: what was posted, in order."""

    def __init__(self) -> None:
        self.posted: list[Any] = []

    def post(self, uow: Any, tenant_id: str, request: Any) -> Any:
        self.posted.append(request)
        return SimpleNamespace(id=f"txn_{len(self.posted)}")


class FakeEvents:
    """The event recorder: the types recorded, in order."""

    def __init__(self) -> None:
        self.types: list[str] = []

    def record(
        self, uow: Any, tenant_id: str, *, type: str, resource_id: str, subject: Any
    ) -> None:
        self.types.append(type)


class FakeInvoicing:
    def now_for(self, uow: Any, customer: Any) -> datetime:
        return NOW

    def now_for_invoice(self, uow: Any, invoice: Invoice) -> datetime:
        return NOW

    def void(self, uow: Any, invoice: Invoice, *, now: datetime) -> Invoice:
        voided = inv.void(invoice, now)
        uow.invoices.update(voided)
        return voided

    def credit_balance(self, uow: Any, customer: Any) -> int:
        return 0


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


def card() -> PaymentMethod:
    return PaymentMethod("pm_1", "psp", "tok_visa", PaymentMethodType.CARD, NOW)


def payments_database(*invoices: Invoice) -> FakeDatabase:
    return FakeDatabase(
        payments=FakePayments(),
        invoices=FakeInvoices({i.id: i for i in invoices}),
        customers=FakeById(
            {"cus_1": customer("cus_1", tenant_id=PAYMENTS_TENANT, payment_methods=(card(),))}
        ),
        ledger=FakeLedgerBook(),
        idempotency=FakeIdempotency(),
    )


@dataclass
class PaymentStack:
    engine: PaymentEngine
    service: PaymentService
    db: FakeDatabase
    uow: FakeUnitOfWorkFactory[Any]
    ledger: FakeLedger
    events: FakeEvents
    listener: RecordingListener
    gateway: Any


def payment_stack(
    *,
    gateway: Any,
    policy: PaymentPolicy,
    breakers: CircuitBreakers | None = None,
    invoices: Sequence[Invoice] = (),
    sleep: Callable[[float], None] = lambda _: None,
    rng: random.Random | None = None,
) -> PaymentStack:
    """A payment engine and PaymentService over fakes, every collaborator a recording fake."""
    db = payments_database(*invoices)
    factory = FakeUnitOfWorkFactory(db)
    ledger, events, listener = FakeLedger(), FakeEvents(), RecordingListener()
    clock = FixedClock(NOW)
    engine = PaymentEngine(
        uow_factory=factory,
        clock=clock,
        ids=IdGenerator(clock),
        events=events,  # type: ignore[arg-type]
        ledger=ledger,  # type: ignore[arg-type]
        invoicing=FakeInvoicing(),  # type: ignore[arg-type]
        listener=listener,
        gateways={"psp": gateway},
        breakers=breakers or CircuitBreakers(failure_threshold=5, reset_after_seconds=60),
        policy=policy,
        sleep=sleep,
        rng=rng or random.Random(1),
    )
    service = PaymentService(factory, engine)
    return PaymentStack(engine, service, db, factory, ledger, events, listener, gateway)
