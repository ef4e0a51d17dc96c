"""In-memory fakes of what the subscription use cases read and write.

Subscriptions issue invoices through the real invoicing steps, so the fake
database is invoicing's (see tests/fakes/invoicing.py) plus a version-checked
subscription repository.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from accrue.catalog.model import Price, PriceTerms, PricingScheme, Product, Recurring
from accrue.customers.model import Customer
from accrue.invoicing.issuing import Invoicing
from accrue.invoicing.tax import DEFAULT_TABLE, RateTableTaxProvider
from accrue.kernel.calendar import IntervalUnit
from accrue.kernel.errors import ConcurrentModification
from accrue.kernel.ids import IdGenerator
from accrue.kernel.lifecycle import LifecycleState
from accrue.kernel.paging import PageRequest
from accrue.platform.idempotency import MutationRunner
from accrue.subscriptions.billing import SubscriptionBilling
from accrue.subscriptions.model import Subscription, SubscriptionStatus
from accrue.subscriptions.service import SubscriptionService
from accrue.subscriptions.use_cases import SubscriptionUseCases
from tests.fakes.invoicing import FakePostings, invoicing_database
from tests.fakes.transactions import (
    TENANT,
    FakeClock,
    FakeDatabase,
    FakeUnitOfWorkFactory,
    event_recorder,
)


@dataclass
class FakeSubscriptions:
    """SubscriptionRepository in memory, version-checked like the SQL one."""

    rows: dict[str, Subscription] = field(default_factory=dict)

    def add(self, subscription: Subscription) -> None:
        self.rows[subscription.id] = subscription

    def get(
        self, tenant_id: str, subscription_id: str, *, for_update: bool = False
    ) -> Subscription | None:
        found = self.rows.get(subscription_id)
        return found if found is not None and found.tenant_id == tenant_id else None

    def update(self, subscription: Subscription, *, expected_version: int) -> None:
        if self.rows[subscription.id].version != expected_version:
            raise ConcurrentModification(f"subscription {subscription.id!r} changed meanwhile")
        self.rows[subscription.id] = subscription

    def list(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        customer_id: str,
        status: SubscriptionStatus | None,
    ) -> Sequence[Subscription]:
        found = [
            s
            for s in sorted(self.rows.values(), key=lambda s: s.id)
            if s.tenant_id == tenant_id
            and s.id > page.after_id
            and (not customer_id or s.customer_id == customer_id)
            and (status is None or s.status is status)
        ]
        return found[: page.size + 1]


def monthly_price(price_id: str, amount_minor: int, currency_code: str = "USD") -> Price:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return Price(
        id=price_id,
        tenant_id=TENANT,
        product_id="prod_1",
        terms=PriceTerms(
            currency_code=currency_code,
            scheme=PricingScheme.FLAT,
            unit_amount_minor=amount_minor,
            recurring=Recurring(IntervalUnit.MONTH, 1),
        ),
        nickname=price_id,
        state=LifecycleState.ACTIVE,
        in_use=False,
        metadata={},
        create_time=at,
        update_time=at,
    )


def product() -> Product:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return Product(
        id="prod_1",
        tenant_id=TENANT,
        display_name="Plan",
        description="",
        metadata={},
        state=LifecycleState.ACTIVE,
        create_time=at,
        update_time=at,
    )


def subscription_database(customers: Sequence[Customer], prices: Sequence[Price]) -> FakeDatabase:
    db = invoicing_database(*customers, prices=prices, products=[product()])
    db.repositories["subscriptions"] = FakeSubscriptions()
    return db


def subscription_use_cases(db: FakeDatabase, clock: FakeClock) -> SubscriptionUseCases:
    factory = FakeUnitOfWorkFactory(db)
    recorder = event_recorder(clock)
    ids = IdGenerator(clock)
    invoicing = Invoicing(
        clock,
        ids,
        recorder,
        FakePostings(clock),
        RateTableTaxProvider(DEFAULT_TABLE),
    )
    service = SubscriptionService(ids, SubscriptionBilling(invoicing, recorder))
    return SubscriptionUseCases(factory, MutationRunner(factory, clock), service)
