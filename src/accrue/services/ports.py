"""What the use cases need from persistence, as protocols.

Services depend on these, adapters implement them; the direction of imports
is domain <- services <- adapters/api.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol

from accrue.domain.catalog import Price, Product
from accrue.domain.customers import Customer, PaymentMethod
from accrue.domain.events import DomainEvent, EventQuery, StoredEvent
from accrue.domain.invoices import CreditNote, Invoice, InvoiceStatus
from accrue.domain.ledger import AccountRef, Transaction
from accrue.domain.paging import PageRequest
from accrue.domain.payments import Payment, PaymentStatus, Refund
from accrue.domain.reconciliation import BreakCategory, InternalRecord, RecordRow
from accrue.domain.reconciliation_runs import ReconciliationRun, StoredBreak
from accrue.domain.subscriptions import Subscription, SubscriptionStatus
from accrue.domain.tenancy import ApiKey, Tenant
from accrue.domain.test_clocks import TestClock
from accrue.entitlements.ports import EntitlementStore
from accrue.policies.ports import PolicyStore
from accrue.relay.ports import RelayCursorStore
from accrue.webhooks.ports import WebhookStore


class TenantRepository(Protocol):
    def add(self, tenant: Tenant) -> None: ...
    def get(self, tenant_id: str) -> Tenant | None: ...
    def get_by_name(self, name: str) -> Tenant | None: ...
    def add_api_key(
        self,
        *,
        key_id: str,
        tenant_id: str,
        key_hash: str,
        create_time: datetime,
        prefix: str | None = None,
    ) -> None: ...
    def tenant_for_key_hash(self, key_hash: str) -> str | None: ...
    def list_api_keys(self, tenant_id: str) -> Sequence[ApiKey]: ...
    def revoke_api_key(self, tenant_id: str, key_id: str, *, at: datetime) -> bool: ...


class ProductRepository(Protocol):
    def add(self, product: Product) -> None: ...
    def get(
        self, tenant_id: str, product_id: str, *, for_update: bool = False
    ) -> Product | None: ...
    def update(self, product: Product) -> None: ...
    def list(
        self, tenant_id: str, page: PageRequest, *, show_archived: bool
    ) -> Sequence[Product]: ...


class PriceRepository(Protocol):
    def add(self, price: Price) -> None: ...
    def get(self, tenant_id: str, price_id: str, *, for_update: bool = False) -> Price | None: ...
    def update(self, price: Price) -> None: ...
    def list(
        self, tenant_id: str, page: PageRequest, *, product_id: str, show_archived: bool
    ) -> Sequence[Price]: ...
    def mark_in_use(self, tenant_id: str, price_id: str) -> None: ...


class CustomerRepository(Protocol):
    def add(self, customer: Customer) -> None: ...
    def get(
        self, tenant_id: str, customer_id: str, *, for_update: bool = False
    ) -> Customer | None: ...
    def update(self, customer: Customer) -> None: ...
    def list(
        self, tenant_id: str, page: PageRequest, *, show_archived: bool, email: str
    ) -> Sequence[Customer]: ...
    def add_payment_method(
        self, tenant_id: str, customer_id: str, method: PaymentMethod
    ) -> None: ...
    def detach_payment_method(
        self, tenant_id: str, payment_method_id: str, *, when: datetime
    ) -> None: ...
    def get_many(self, tenant_id: str, customer_ids: Sequence[str]) -> dict[str, Customer]:
        """The customers of a batch in one query, by id (missing ones left out)."""
        ...


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The outcome of an earlier request with the same idempotency key."""

    method: str
    fingerprint: str
    response: bytes


class IdempotencyRepository(Protocol):
    def lock(self, tenant_id: str, request_id: str) -> bool:
        """Take the per-key lock for this transaction; False if another holds it."""
        ...

    def get(self, tenant_id: str, request_id: str) -> StoredResponse | None: ...
    def add(
        self,
        tenant_id: str,
        request_id: str,
        stored: StoredResponse,
        *,
        create_time: datetime,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class AccountBalance:
    """An account's stored totals; `net_minor` is debits minus credits."""

    account: AccountRef
    net_minor: int
    debits_minor: int
    credits_minor: int
    create_time: datetime
    update_time: datetime

    @property
    def id(self) -> str:
        return self.account.id


@dataclass(frozen=True, slots=True)
class ChainHead:
    last_sequence: int
    last_hash: str


@dataclass(frozen=True, slots=True)
class Unsequenced:
    """Committed transactions the sequencer has not numbered yet."""

    count: int
    oldest_post_time: datetime | None


@dataclass(frozen=True, slots=True)
class TransactionQuery:
    after_sequence: int
    limit: int
    account_id: str = ""
    source_type: str = ""
    source_id: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None


class LedgerRepository(Protocol):
    def create_head(self, tenant_id: str) -> None: ...
    def read_head(self, tenant_id: str) -> ChainHead:
        """The chain head without locking it (for readers such as verification)."""
        ...

    def set_head(self, tenant_id: str, head: ChainHead) -> None: ...
    def find_by_sources(
        self, tenant_id: str, sources: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], Transaction]:
        """Already-posted transactions of these (source_type, source_id) pairs."""
        ...

    def get_transaction(self, tenant_id: str, transaction_id: str) -> Transaction | None: ...
    def add_transactions(self, transactions: Sequence[Transaction]) -> None:
        """Insert transactions and their entries and apply them to account balances."""
        ...

    def list_transactions(
        self, tenant_id: str, query: TransactionQuery
    ) -> Sequence[Transaction]: ...
    def get_account(self, tenant_id: str, account_id: str) -> AccountBalance | None: ...
    def list_accounts(
        self, tenant_id: str, page: PageRequest, *, currency_code: str, customer_id: str, code: str
    ) -> Sequence[AccountBalance]: ...
    def stored_nets(self, tenant_id: str) -> dict[str, int]:
        """Every account's stored debits-minus-credits, by account id."""
        ...

    def entry_nets(self, tenant_id: str) -> dict[str, int]:
        """Every account's debits-minus-credits summed from its entries."""
        ...

    def inline_head(self, tenant_id: str) -> ChainHead | None:
        """The head to seal postings against now (one-writer databases), or None
        when a sequencer numbers them after commit."""
        ...

    def add_unsequenced(self, transactions: Sequence[Transaction]) -> set[str]:
        """Insert unnumbered transactions unless their source already posted;
        the ids inserted."""
        ...

    def lock_customer_credit(self, tenant_id: str, customer_id: str, currency_code: str) -> None:
        """Held to commit by use cases that spend the customer's credit balance."""
        ...

    def unsequenced(self, tenant_id: str) -> Unsequenced: ...

    def nets(self, tenant_id: str, account_ids: Sequence[str]) -> dict[str, int]:
        """The stored debits-minus-credits of these accounts (absent ones left out)."""
        ...


class EventRepository(Protocol):
    def create_head(self, tenant_id: str) -> None: ...
    def record(self, tenant_id: str, event: DomainEvent) -> None:
        """Queue an event; it is numbered and written when the unit of work commits."""
        ...

    def list(self, tenant_id: str, query: EventQuery) -> Sequence[StoredEvent]: ...


class TestClockRepository(Protocol):
    def add(self, clock: TestClock) -> None: ...
    def get(
        self, tenant_id: str, clock_id: str, *, for_update: bool = False
    ) -> TestClock | None: ...
    def update(self, clock: TestClock) -> None: ...
    def list(self, tenant_id: str, page: PageRequest) -> Sequence[TestClock]: ...
    def claim_advancing(self, *, limit: int, lock: bool = True) -> Sequence[tuple[str, str]]: ...


@dataclass(frozen=True, slots=True)
class DueSubscription:
    """A subscription whose next scheduled action is due."""

    tenant_id: str
    subscription_id: str
    next_action_time: datetime


class SubscriptionRepository(Protocol):
    def add(self, subscription: Subscription) -> None:
        """Insert; `next_action_time` is derived from the subscription's schedule."""
        ...

    def get(
        self, tenant_id: str, subscription_id: str, *, for_update: bool = False
    ) -> Subscription | None: ...
    def update(self, subscription: Subscription, *, expected_version: int) -> None:
        """Replace the stored row whose version is `expected_version`.

        Raises ConcurrentModification when the stored version differs.
        """
        ...

    def list(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        customer_id: str,
        status: SubscriptionStatus | None,
    ) -> Sequence[Subscription]: ...
    def due_on_clock(
        self, tenant_id: str, clock_id: str, *, until: datetime, limit: int
    ) -> Sequence[DueSubscription]:
        """Subscriptions on a test clock due at or before `until`, by (time, id)."""
        ...

    def claim_due(self, *, now: datetime, limit: int) -> Sequence[DueSubscription]:
        """Real-time subscriptions due by `now`, locked for this transaction.

        Rows another transaction has claimed are skipped (SKIP LOCKED on
        PostgreSQL), so several workers share the due set without overlap.
        """
        ...

    def claim_listed(
        self, items: Sequence[DueSubscription], *, now: datetime
    ) -> Sequence[DueSubscription]:
        """Those of `items` still due by `now`, locked for this transaction (SKIP LOCKED)."""
        ...

    def get_many(self, tenant_id: str, subscription_ids: Sequence[str]) -> dict[str, Subscription]:
        """The subscriptions of a batch in one query, by id (already claimed, so not locked)."""
        ...

    def update_many(self, changes: Sequence[tuple[Subscription, int]]) -> None:
        """`update` of many (subscription, expected version) pairs in one statement.

        Raises ConcurrentModification when any stored version differs.
        """
        ...


class InvoiceRepository(Protocol):
    def add(self, invoice: Invoice) -> None: ...
    def get(
        self, tenant_id: str, invoice_id: str, *, for_update: bool = False
    ) -> Invoice | None: ...
    def update(self, invoice: Invoice) -> None:
        """Store the status, number and settled amounts; lines never change."""
        ...

    def list(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        customer_id: str,
        subscription_id: str,
        status: InvoiceStatus | None,
    ) -> Sequence[Invoice]: ...
    def next_number(self, tenant_id: str, series: str) -> int:
        """The next number of `series` (`invoice`, `credit_note`), locked until commit.

        Gapless: the counter row stays locked until the transaction ends, so a
        rolled-back finalisation gives its number back.
        """
        ...

    def next_numbers(self, tenant_id: str, series: str, count: int) -> int:
        """The first of a block of `count` consecutive numbers, locked as `next_number`."""
        ...

    def add_many(self, invoices: Sequence[Invoice]) -> None:
        """Insert invoices with their lines, one multi-row statement per table."""
        ...

    def add_credit_note(self, note: CreditNote) -> None: ...
    def list_credit_notes(
        self, tenant_id: str, page: PageRequest, *, invoice_id: str, customer_id: str
    ) -> Sequence[CreditNote]: ...
    def claim_collections(self, *, now: datetime, limit: int) -> Sequence[DueItem]:
        """Real-time invoices with a collection attempt due by `now`, locked
        for this transaction (SKIP LOCKED: workers never share one)."""
        ...

    def collections_on_clock(
        self, tenant_id: str, clock_id: str, *, until: datetime, limit: int
    ) -> Sequence[DueItem]:
        """Invoices on a test clock with an attempt due by `until`, by (time, id)."""
        ...


@dataclass(frozen=True, slots=True)
class DueItem:
    """A row with work due at `due_time`: an invoice to collect, a payment to resolve."""

    tenant_id: str
    id: str
    due_time: datetime


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


class ReconciliationRepository(Protocol):
    def find_run(
        self, tenant_id: str, psp: str, report_sha256: str
    ) -> ReconciliationRun | None: ...
    def get_run(self, tenant_id: str, run_id: str) -> ReconciliationRun | None: ...
    def list_runs(self, tenant_id: str, page: PageRequest) -> Sequence[ReconciliationRun]: ...
    def add_run(self, run: ReconciliationRun) -> None: ...
    def update_run(self, run: ReconciliationRun) -> None: ...
    def add_breaks(self, items: Sequence[StoredBreak]) -> None: ...
    def list_breaks(
        self,
        tenant_id: str,
        run_id: str,
        page: PageRequest,
        *,
        category: BreakCategory | None,
    ) -> Sequence[StoredBreak]: ...
    def iter_breaks(self, tenant_id: str, run_id: str) -> Iterator[StoredBreak]: ...
    def get_break(
        self, tenant_id: str, run_id: str, seq: int, *, for_update: bool = False
    ) -> StoredBreak | None: ...
    def update_break(self, item: StoredBreak) -> None: ...
    def records(
        self, tenant_id: str, psp: str, references: Sequence[str]
    ) -> dict[str, InternalRecord]:
        """Payments and refunds sent under these PSP references, by reference."""
        ...

    def mark_settled(
        self, tenant_id: str, run_id: str, records: Sequence[InternalRecord]
    ) -> None: ...
    def unsettled_records(
        self, tenant_id: str, psp: str, *, cut_off: datetime
    ) -> Iterator[InternalRecord]:
        """Unsettled succeeded or in-progress records created by `cut_off`, streamed."""
        ...

    def record_rows(
        self, tenant_id: str, psp: str, references: Sequence[str]
    ) -> dict[str, RecordRow]:
        """`records` as tuples, fetched in bulk."""
        ...

    def mark_settled_ids(
        self, tenant_id: str, run_id: str, payment_ids: Sequence[str], refund_ids: Sequence[str]
    ) -> None: ...
    def unsettled_record_rows(
        self, tenant_id: str, psp: str, *, cut_off: datetime
    ) -> Iterator[RecordRow]:
        """`unsettled_records` as tuples, streamed in bulk, in no particular order."""
        ...


class UnitOfWork(Protocol):
    """One database transaction; nothing is written unless `commit` is called."""

    # Read-only members, so an implementation may hold more specific repositories.
    @property
    def tenants(self) -> TenantRepository: ...
    @property
    def products(self) -> ProductRepository: ...
    @property
    def prices(self) -> PriceRepository: ...
    @property
    def customers(self) -> CustomerRepository: ...
    @property
    def idempotency(self) -> IdempotencyRepository: ...
    @property
    def ledger(self) -> LedgerRepository: ...
    @property
    def events(self) -> EventRepository: ...
    @property
    def test_clocks(self) -> TestClockRepository: ...
    @property
    def subscriptions(self) -> SubscriptionRepository: ...
    @property
    def invoices(self) -> InvoiceRepository: ...
    @property
    def payments(self) -> PaymentRepository: ...
    @property
    def reconciliation(self) -> ReconciliationRepository: ...
    @property
    def webhooks(self) -> WebhookStore: ...
    @property
    def relay_cursors(self) -> RelayCursorStore: ...
    @property
    def documents(self) -> DocumentRepository: ...
    @property
    def entitlements(self) -> EntitlementStore: ...
    @property
    def policies(self) -> PolicyStore: ...

    def __enter__(self) -> UnitOfWork: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool) -> UnitOfWork:
        """A new unit of work; `write=True` takes the write lock up front on SQLite."""
        ...


@dataclass(frozen=True, slots=True)
class RenderRecord:
    """The fingerprint of one state (version) of a document, from its first rendering."""

    tenant_id: str
    document_id: str
    version: int
    kind: str
    sha256: str
    byte_size: int
    first_render_time: datetime


class DocumentRepository(Protocol):
    def get_credit_note(self, tenant_id: str, credit_note_id: str) -> CreditNote | None: ...
    def get_render(self, tenant_id: str, document_id: str, version: int) -> RenderRecord | None: ...
    def add_render(self, record: RenderRecord) -> None: ...
