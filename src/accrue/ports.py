"""The combined unit of work: one transaction exposing every area's repositories.

Composition, not an area: each area declares the repositories it needs in its
own `ports.py`; this protocol gathers them so one transaction can span areas
(an invoice finalised with its ledger postings and events). The database
implementation is `accrue.unit_of_work`.
"""

from __future__ import annotations

from typing import Protocol

from accrue.catalog.ports import CatalogUnitOfWork, PriceRepository, ProductRepository
from accrue.customers.ports import CustomerRepository
from accrue.entitlements.ports import EntitlementStore, EntitlementUnitOfWork
from accrue.event_log.ports import EventRepository
from accrue.invoicing.documents.ports import DocumentRepository
from accrue.invoicing.ports import InvoiceRepository, InvoicingUnitOfWork
from accrue.ledger.ports import (
    LedgerRepository,
)
from accrue.payments.ports import PaymentRepository, PaymentUnitOfWork
from accrue.platform.ports import IdempotencyRepository, Transactional
from accrue.policies.ports import PolicyStore, PolicyUnitOfWork
from accrue.reconciliation.ports import ReconciliationRepository
from accrue.relay.ports import RelayCursorStore
from accrue.subscriptions.ports import SubscriptionRepository, SubscriptionsUnitOfWork
from accrue.tenancy.ports import TenantRepository
from accrue.test_clocks.ports import TestClockRepository
from accrue.usage.ports import UsageStore, UsageUnitOfWork
from accrue.webhooks.ports import WebhookStore


class UnitOfWork(Transactional, Protocol):
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
    def usage(self) -> UsageStore: ...
    @property
    def entitlements(self) -> EntitlementStore: ...
    @property
    def policies(self) -> PolicyStore: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool) -> UnitOfWork:
        """A new unit of work; `write=True` takes the write lock up front on SQLite."""
        ...


def _satisfies_area_ports(
    uow: UnitOfWork,
) -> tuple[
    PolicyUnitOfWork,
    EntitlementUnitOfWork,
    UsageUnitOfWork,
    PaymentUnitOfWork,
    InvoicingUnitOfWork,
    CatalogUnitOfWork,
    SubscriptionsUnitOfWork,
]:
    """Never called: mypy proves here that the combined unit of work satisfies
    each area's narrow unit-of-work protocol, so any transaction can serve any area."""
    return uow, uow, uow, uow, uow, uow, uow
