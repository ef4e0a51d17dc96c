"""In-memory fakes of what the invoicing use cases read and write.

The invoice repository numbers invoices per series like the SQL one (the
counter is part of the transaction, so a rolled-back finalisation gives its
number back); the ledger is faked at the posting service, writing sealed
transactions into a fake book in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from accrue.catalog.model import Price, Product
from accrue.customers.model import Customer, PaymentMethod
from accrue.invoicing.issuing import Invoicing
from accrue.invoicing.model import CreditNote, Invoice, InvoiceStatus
from accrue.invoicing.service import InvoiceService
from accrue.invoicing.tax import DEFAULT_TABLE, RateTableTaxProvider
from accrue.invoicing.use_cases import InvoicingUseCases
from accrue.kernel.errors import NotFound
from accrue.kernel.ids import IdGenerator
from accrue.kernel.lifecycle import LifecycleState
from accrue.kernel.paging import PageRequest
from accrue.ledger.model import PostingRequest, Transaction
from accrue.platform.idempotency import MutationRunner
from tests.fakes.transactions import (
    TENANT,
    FakeClock,
    FakeDatabase,
    FakeIdempotency,
    FakeOutbox,
    FakeUnitOfWorkFactory,
    event_recorder,
)


@dataclass
class FakeInvoices:
    rows: dict[str, Invoice] = field(default_factory=dict)
    notes: dict[str, CreditNote] = field(default_factory=dict)
    counters: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, invoice: Invoice) -> None:
        self.rows[invoice.id] = invoice

    def get(self, tenant_id: str, invoice_id: str, *, for_update: bool = False) -> Invoice | None:
        found = self.rows.get(invoice_id)
        return found if found is not None and found.tenant_id == tenant_id else None

    def update(self, invoice: Invoice) -> None:
        self.rows[invoice.id] = invoice

    def list(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        customer_id: str,
        subscription_id: str,
        status: InvoiceStatus | None,
    ) -> Sequence[Invoice]:
        found = [
            i
            for i in sorted(self.rows.values(), key=lambda i: i.id)
            if i.tenant_id == tenant_id
            and i.id > page.after_id
            and (not customer_id or i.customer_id == customer_id)
            and (not subscription_id or i.subscription_id == subscription_id)
            and (status is None or i.status is status)
        ]
        return found[: page.size + 1]

    def next_number(self, tenant_id: str, series: str) -> int:
        key = (tenant_id, series)
        self.counters[key] = self.counters.get(key, 0) + 1
        return self.counters[key]

    def add_credit_note(self, note: CreditNote) -> None:
        self.notes[note.id] = note

    def list_credit_notes(
        self, tenant_id: str, page: PageRequest, *, invoice_id: str, customer_id: str
    ) -> Sequence[CreditNote]:
        found = [
            n
            for n in sorted(self.notes.values(), key=lambda n: n.id)
            if n.id > page.after_id
            and (not invoice_id or n.invoice_id == invoice_id)
            and (not customer_id or n.customer_id == customer_id)
        ]
        return found[: page.size + 1]


@dataclass
class FakeById:
    """A repository read by (tenant, id): customers, prices, products, test clocks."""

    rows: dict[str, Any] = field(default_factory=dict)
    in_use: set[str] = field(default_factory=set)

    def get(self, tenant_id: str, row_id: str, *, for_update: bool = False) -> Any:
        found = self.rows.get(row_id)
        return found if found is not None and found.tenant_id == tenant_id else None

    def mark_in_use(self, tenant_id: str, price_id: str) -> None:
        self.in_use.add(price_id)


@dataclass
class FakeLedgerBook:
    """The ledger repository as invoicing reads it: transactions, credit balances."""

    transactions: dict[str, Transaction] = field(default_factory=dict)
    credit_net_minor: dict[str, int] = field(default_factory=dict)  # account id -> net

    def lock_customer_credit(self, tenant_id: str, customer_id: str, currency_code: str) -> None:
        return None

    def get_account(self, tenant_id: str, account_id: str) -> Any:
        net = self.credit_net_minor.get(account_id)
        return None if net is None else type("Account", (), {"net_minor": net})()

    def get_transaction(self, tenant_id: str, transaction_id: str) -> Transaction | None:
        return self.transactions.get(transaction_id)


class FakePostings:
    """The ledger's posting service: a balanced request becomes a sealed transaction
    in the unit of work's book (and goes away with it on a rollback)."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock

    def post(self, uow: Any, tenant_id: str, request: PostingRequest) -> Transaction:
        return self.post_many(uow, tenant_id, [request])[0]

    def post_many(
        self, uow: Any, tenant_id: str, requests: Sequence[PostingRequest]
    ) -> list[Transaction]:
        return [self._post_one(uow, tenant_id, request) for request in requests]

    def _post_one(self, uow: Any, tenant_id: str, request: PostingRequest) -> Transaction:
        request.validate()
        book: FakeLedgerBook = uow.ledger
        sequence = len(book.transactions) + 1
        tx = Transaction(
            id=f"ltx_{sequence}",
            tenant_id=tenant_id,
            sequence=sequence,
            entries=request.entries,
            source_type=request.source_type,
            source_id=request.source_id,
            post_time=self._clock.now(),
            description=request.description,
            reason=request.reason,
            resource_type=request.resource_type,
            resource_id=request.resource_id,
            reverses_transaction_id=request.reverses_transaction_id,
        )
        book.transactions[tx.id] = tx
        return tx


class NoUpcomingInvoices:
    def upcoming_invoice(self, uow: Any, tenant_id: str, subscription_id: str) -> Invoice:
        raise NotFound("subscription", subscription_id)


def customer(
    customer_id: str = "cus_1",
    currency_code: str = "USD",
    *,
    tenant_id: str = TENANT,
    payment_methods: tuple[PaymentMethod, ...] = (),
) -> Customer:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return Customer(
        id=customer_id,
        tenant_id=tenant_id,
        display_name=customer_id,
        email="",
        currency_code=currency_code,
        billing_address=None,
        tax_location=None,
        time_zone="UTC",
        metadata={},
        payment_methods=payment_methods,
        default_payment_method_id=payment_methods[0].id if payment_methods else "",
        state=LifecycleState.ACTIVE,
        create_time=at,
        update_time=at,
    )


def invoicing_database(
    *customers: Customer, prices: Sequence[Price] = (), products: Sequence[Product] = ()
) -> FakeDatabase:
    return FakeDatabase(
        invoices=FakeInvoices(),
        customers=FakeById({c.id: c for c in customers}),
        prices=FakeById({p.id: p for p in prices}),
        products=FakeById({p.id: p for p in products}),
        test_clocks=FakeById(),
        ledger=FakeLedgerBook(),
        events=FakeOutbox(),
        idempotency=FakeIdempotency(),
    )


def invoicing_use_cases(db: FakeDatabase, clock: FakeClock) -> InvoicingUseCases:
    factory = FakeUnitOfWorkFactory(db)
    ids = IdGenerator(clock)
    invoicing = Invoicing(
        clock,
        ids,
        event_recorder(clock),
        FakePostings(clock),
        RateTableTaxProvider(DEFAULT_TABLE),
    )
    return InvoicingUseCases(
        factory, MutationRunner(factory, clock), InvoiceService(invoicing), NoUpcomingInvoices()
    )
