"""Catalog use cases. Each runs inside the unit of work it is given."""

from __future__ import annotations

from dataclasses import dataclass, replace

from accrue.catalog.model import (
    ECONOMIC_FIELDS,
    Price,
    PriceTerms,
    Product,
    ProductChanges,
    apply_product_changes,
)
from accrue.catalog.ports import CatalogUnitOfWork
from accrue.event_log.service import EventRecorder
from accrue.kernel.clock import Clock
from accrue.kernel.errors import NotFound, ResourceArchived
from accrue.kernel.ids import IdGenerator
from accrue.kernel.lifecycle import LifecycleState
from accrue.kernel.paging import Page, PageRequest, paginate


@dataclass(frozen=True, slots=True)
class NewProduct:
    display_name: str
    description: str
    metadata: dict[str, str]


@dataclass(frozen=True, slots=True)
class NewPrice:
    product_id: str
    terms: PriceTerms
    nickname: str
    metadata: dict[str, str]


@dataclass(frozen=True, slots=True)
class PriceChanges:
    """New values for the fields named in `fields`; terms are whole, merged by the caller."""

    fields: frozenset[str]
    terms: PriceTerms
    nickname: str
    metadata: dict[str, str]


class CatalogService:
    def __init__(self, clock: Clock, ids: IdGenerator, events: EventRecorder) -> None:
        self._clock = clock
        self._ids = ids
        self._events = events

    def _changed(self, uow: CatalogUnitOfWork, change: str, subject: Product | Price) -> None:
        kind = "product" if isinstance(subject, Product) else "price"
        self._events.record(
            uow, subject.tenant_id, type=f"{kind}.{change}", resource_id=subject.id, subject=subject
        )

    def create_product(self, uow: CatalogUnitOfWork, tenant_id: str, new: NewProduct) -> Product:
        now = self._clock.now()
        product = Product(
            id=self._ids.new("prod"),
            tenant_id=tenant_id,
            display_name=new.display_name,
            description=new.description,
            state=LifecycleState.ACTIVE,
            metadata=dict(new.metadata),
            create_time=now,
            update_time=now,
        )
        uow.products.add(product)
        self._changed(uow, "created", product)
        return product

    def get_product(
        self, uow: CatalogUnitOfWork, tenant_id: str, product_id: str, *, for_update: bool = False
    ) -> Product:
        product = uow.products.get(tenant_id, product_id, for_update=for_update)
        if product is None:
            raise NotFound("product", product_id)
        return product

    def list_products(
        self, uow: CatalogUnitOfWork, tenant_id: str, page: PageRequest, *, show_archived: bool
    ) -> Page[Product]:
        items = uow.products.list(tenant_id, page, show_archived=show_archived)
        return paginate(items, page)

    def update_product(
        self, uow: CatalogUnitOfWork, tenant_id: str, product_id: str, changes: ProductChanges
    ) -> Product:
        product = self.get_product(uow, tenant_id, product_id, for_update=True)
        updated = apply_product_changes(product, changes, self._clock.now())
        uow.products.update(updated)
        self._changed(uow, "updated", updated)
        return updated

    def archive_product(self, uow: CatalogUnitOfWork, tenant_id: str, product_id: str) -> Product:
        product = self.get_product(uow, tenant_id, product_id, for_update=True)
        if product.state is LifecycleState.ARCHIVED:
            return product
        archived = replace(product, state=LifecycleState.ARCHIVED, update_time=self._clock.now())
        uow.products.update(archived)
        self._changed(uow, "archived", archived)
        return archived

    def create_price(self, uow: CatalogUnitOfWork, tenant_id: str, new: NewPrice) -> Price:
        product = self.get_product(uow, tenant_id, new.product_id)
        product.ensure_active()
        new.terms.validate()
        now = self._clock.now()
        price = Price(
            id=self._ids.new("price"),
            tenant_id=tenant_id,
            product_id=product.id,
            terms=new.terms,
            nickname=new.nickname,
            state=LifecycleState.ACTIVE,
            in_use=False,
            metadata=dict(new.metadata),
            create_time=now,
            update_time=now,
        )
        uow.prices.add(price)
        self._changed(uow, "created", price)
        return price

    def get_price(
        self, uow: CatalogUnitOfWork, tenant_id: str, price_id: str, *, for_update: bool = False
    ) -> Price:
        price = uow.prices.get(tenant_id, price_id, for_update=for_update)
        if price is None:
            raise NotFound("price", price_id)
        return price

    def list_prices(
        self,
        uow: CatalogUnitOfWork,
        tenant_id: str,
        page: PageRequest,
        *,
        product_id: str,
        show_archived: bool,
    ) -> Page[Price]:
        if product_id:
            self.get_product(uow, tenant_id, product_id)  # a typo'd product is NOT_FOUND, not empty
        items = uow.prices.list(tenant_id, page, product_id=product_id, show_archived=show_archived)
        return paginate(items, page)

    def update_price(
        self, uow: CatalogUnitOfWork, tenant_id: str, price_id: str, changes: PriceChanges
    ) -> Price:
        price = self.get_price(uow, tenant_id, price_id, for_update=True)
        if price.state is LifecycleState.ARCHIVED:
            raise ResourceArchived("price", price_id)
        now = self._clock.now()
        updated = price
        if changes.fields & ECONOMIC_FIELDS:
            updated = updated.with_terms(changes.terms, changed=changes.fields, now=now)
        updated = replace(
            updated,
            nickname=changes.nickname if "nickname" in changes.fields else price.nickname,
            metadata=dict(changes.metadata) if "metadata" in changes.fields else price.metadata,
            update_time=now,
        )
        uow.prices.update(updated)
        self._changed(uow, "updated", updated)
        return updated

    def archive_price(self, uow: CatalogUnitOfWork, tenant_id: str, price_id: str) -> Price:
        price = self.get_price(uow, tenant_id, price_id, for_update=True)
        if price.state is LifecycleState.ARCHIVED:
            return price
        archived = replace(price, state=LifecycleState.ARCHIVED, update_time=self._clock.now())
        uow.prices.update(archived)
        self._changed(uow, "archived", archived)
        return archived
