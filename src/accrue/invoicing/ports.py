"""What the invoicing use cases need from persistence."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from accrue.catalog.ports import PriceRepository, ProductRepository
from accrue.customers.ports import CustomerRepository
from accrue.event_log.ports import EventRepository
from accrue.invoicing.model import CreditNote, Invoice, InvoiceStatus
from accrue.kernel.paging import PageRequest
from accrue.ledger.ports import LedgerRepository
from accrue.platform.ports import DueItem, Transactional


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


class UpcomingInvoices(Protocol):
    """The next renewal's invoice of a subscription, as the renewal would build it.

    Subscriptions implement it (`SubscriptionService.upcoming_invoice`), so
    `GetUpcomingInvoice` is served without invoicing importing subscriptions.
    """

    def upcoming_invoice(self, uow: Any, tenant_id: str, subscription_id: str) -> Invoice: ...


class FrozenClock(Protocol):
    @property
    def frozen_time(self) -> datetime: ...


class FrozenClocks(Protocol):
    """The test-clock repository, as far as invoicing and usage read it: a
    clock's frozen time (a clocked customer's "now")."""

    def get(
        self, tenant_id: str, clock_id: str, *, for_update: bool = False
    ) -> FrozenClock | None: ...


class InvoicingUnitOfWork(Transactional, Protocol):
    """One transaction of the invoicing use cases: invoices, the customer and the
    catalog they bill, the customer's test clock, the ledger the invoice posts to
    (through `Postings`) and the outbox the event recorder writes to."""

    @property
    def invoices(self) -> InvoiceRepository: ...
    @property
    def customers(self) -> CustomerRepository: ...
    @property
    def prices(self) -> PriceRepository: ...
    @property
    def products(self) -> ProductRepository: ...
    @property
    def test_clocks(self) -> FrozenClocks: ...
    @property
    def ledger(self) -> LedgerRepository: ...
    @property
    def events(self) -> EventRepository: ...


class InvoicingUnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool) -> InvoicingUnitOfWork: ...
