"""What the payment use cases need: their repository, and who hears about collections."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from accrue.customers.model import Customer
from accrue.customers.ports import CustomerRepository
from accrue.event_log.ports import EventRepository
from accrue.invoicing.model import Invoice
from accrue.invoicing.ports import InvoiceRepository
from accrue.kernel.paging import PageRequest
from accrue.ledger.ports import LedgerRepository
from accrue.payments.dunning import FinalAction
from accrue.payments.model import Payment, PaymentStatus, Refund
from accrue.platform.ports import DueItem, IdempotencyRepository, Transactional

if TYPE_CHECKING:  # the combined unit of work imports this module
    from accrue.ports import UnitOfWork


class PaymentRepository(Protocol):
    def add(self, payment: Payment) -> None: ...
    def get(
        self, tenant_id: str, payment_id: str, *, for_update: bool = False
    ) -> Payment | None: ...
    def get_by_request(self, tenant_id: str, request_id: str) -> Payment | None: ...
    def find_by_psp_key(self, psp_idempotency_key: str) -> tuple[str, str] | None:
        """(tenant_id, payment_id) of the payment sent under this key, in any tenant."""
        ...

    def update(self, payment: Payment, *, previous: Payment) -> None:
        """Store `payment` over `previous` (version-checked) and append its new transitions.

        Raises ConcurrentModification when the stored version is not `previous`'s.
        """
        ...

    def set_ledger_transaction(self, tenant_id: str, payment_id: str, transaction_id: str) -> None:
        """Record the capture's posting on a payment just stored in this transaction."""
        ...

    def list(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        customer_id: str,
        invoice_id: str,
        status: PaymentStatus | None,
    ) -> Sequence[Payment]: ...
    def in_progress_for_invoice(self, tenant_id: str, invoice_id: str) -> bool:
        """Whether a payment of this invoice is PENDING, PROCESSING or UNKNOWN."""
        ...

    def claim_inquiries(self, *, now: datetime, limit: int) -> Sequence[DueItem]:
        """Payments whose outcome is due to be asked for, locked (SKIP LOCKED)."""
        ...

    def add_refund(self, refund: Refund) -> None: ...
    def get_refund(
        self, tenant_id: str, refund_id: str, *, for_update: bool = False
    ) -> Refund | None: ...
    def get_refund_by_request(self, tenant_id: str, request_id: str) -> Refund | None: ...
    def find_refund_by_psp_key(self, psp_idempotency_key: str) -> tuple[str, str] | None: ...
    def update_refund(self, refund: Refund, *, previous: Refund) -> None: ...
    def list_refunds(
        self, tenant_id: str, page: PageRequest, *, payment_id: str
    ) -> Sequence[Refund]: ...
    def claim_refund_inquiries(self, *, now: datetime, limit: int) -> Sequence[DueItem]: ...
    def credit_refunds_in_progress(self, tenant_id: str, customer_id: str) -> int:
        """Refunds still in flight of the customer's standalone (credit) payments, summed."""
        ...

    def postpone_inquiries(
        self, payment_ids: Sequence[str], refund_ids: Sequence[str], until: datetime
    ) -> None:
        """Move the next inquiry of these records to `until` (a claim's lease)."""
        ...

    def webhook_seen(self, psp: str, event_id: str) -> bool: ...
    def record_webhook(self, psp: str, event_id: str, *, type: str, now: datetime) -> bool:
        """Remember a PSP webhook event; False when it was seen before."""
        ...


class InvoiceCollectionListener(Protocol):
    """Who reacts when payments settle or fail to collect an invoice.

    Called inside the payment's transaction, after the invoice itself was
    updated; subscriptions implement it (a paid invoice restarts a PAST_DUE
    subscription, a failed attempt makes an ACTIVE one PAST_DUE, the last one
    applies the final action), so payments never touch a subscription.
    """

    def invoice_paid(self, uow: UnitOfWork, invoice: Invoice, now: datetime) -> None: ...
    def collection_failed(
        self,
        uow: UnitOfWork,
        invoice: Invoice,
        now: datetime,
        *,
        final_action: FinalAction | None,
    ) -> None: ...


class NoCollectionListener:
    """For a payment engine with no subscriptions to tell (tests, tools)."""

    def invoice_paid(self, uow: UnitOfWork, invoice: Invoice, now: datetime) -> None:
        return None

    def collection_failed(
        self,
        uow: UnitOfWork,
        invoice: Invoice,
        now: datetime,
        *,
        final_action: FinalAction | None,
    ) -> None:
        return None


class CustomerTime(Protocol):
    """What payments ask invoicing about a customer, in the unit of work it is given."""

    def now_for(self, uow: Any, customer: Customer) -> datetime:
        """The customer's "now": its test clock's frozen time, else the real time."""
        ...

    def now_for_invoice(self, uow: Any, invoice: Invoice) -> datetime:
        """The invoice's customer's "now", without reading the customer."""
        ...

    def credit_balance(self, uow: Any, customer: Customer) -> int: ...


class PaymentUnitOfWork(Transactional, Protocol):
    """One transaction of PaymentService and of the engine's first step: payments,
    the customer and invoice paid, the customer's credit in the ledger, the
    request_id lock, and the outbox the event recorder writes to."""

    @property
    def payments(self) -> PaymentRepository: ...
    @property
    def customers(self) -> CustomerRepository: ...
    @property
    def invoices(self) -> InvoiceRepository: ...
    @property
    def ledger(self) -> LedgerRepository: ...
    @property
    def idempotency(self) -> IdempotencyRepository: ...
    @property
    def events(self) -> EventRepository: ...


class PaymentUnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool) -> PaymentUnitOfWork: ...
