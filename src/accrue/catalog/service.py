"""Catalog use cases. Each owns its transaction.

A mutation runs in one unit of work through the platform's `MutationRunner`,
which stores the encoded response with the change (so a retry with the same
request_id is answered with the same bytes); the caller passes the encoder in
a `Replay` and converts the returned value itself, outside the transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from accrue.catalog.model import (
    ECONOMIC_FIELDS,
    Price,
    PriceTerms,
    Product,
    ProductChanges,
    apply_product_changes,
)
from accrue.event_log.service import EventRecorder
from accrue.kernel.clock import Clock
from accrue.kernel.errors import NotFound, ResourceArchived
from accrue.kernel.ids import IdGenerator
from accrue.kernel.lifecycle import LifecycleState
from accrue.kernel.paging import Page, PageRequest, paginate
from accrue.platform.idempotency import MutationRunner, Outcome, Replay
from accrue.ports import UnitOfWork, UnitOfWorkFactory


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
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        runner: MutationRunner,
        clock: Clock,
        ids: IdGenerator,
        events: EventRecorder,
    ) -> None:
        self._uow = uow_factory
        self._runner = runner
        self._clock = clock
        self._ids = ids
        self._events = events

    def _changed(self, uow: UnitOfWork, change: str, subject: Product | Price) -> None:
        kind = "product" if isinstance(subject, Product) else "price"
        self._events.record(
            uow, subject.tenant_id, type=f"{kind}.{change}", resource_id=subject.id, subject=subject
        )

    def _create_product(self, uow: UnitOfWork, tenant_id: str, new: NewProduct) -> Product:
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

    def _get_product(
        self, uow: UnitOfWork, tenant_id: str, product_id: str, *, for_update: bool = False
    ) -> Product:
        product = uow.products.get(tenant_id, product_id, for_update=for_update)
        if product is None:
            raise NotFound("product", product_id)
        return product

    def _list_products(
        self, uow: UnitOfWork, tenant_id: str, page: PageRequest, *, show_archived: bool
    ) -> Page[Product]:
        items = uow.products.list(tenant_id, page, show_archived=show_archived)
        return paginate(items, page)

    def _update_product(
        self, uow: UnitOfWork, tenant_id: str, product_id: str, changes: ProductChanges
    ) -> Product:
        product = self._get_product(uow, tenant_id, product_id, for_update=True)
        updated = apply_product_changes(product, changes, self._clock.now())
        uow.products.update(updated)
        self._changed(uow, "updated", updated)
        return updated

    def _archive_product(self, uow: UnitOfWork, tenant_id: str, product_id: str) -> Product:
        product = self._get_product(uow, tenant_id, product_id, for_update=True)
        if product.state is LifecycleState.ARCHIVED:
            return product
        archived = replace(product, state=LifecycleState.ARCHIVED, update_time=self._clock.now())
        uow.products.update(archived)
        self._changed(uow, "archived", archived)
        return archived

    def _create_price(self, uow: UnitOfWork, tenant_id: str, new: NewPrice) -> Price:
        product = self._get_product(uow, tenant_id, new.product_id)
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

    def _get_price(
        self, uow: UnitOfWork, tenant_id: str, price_id: str, *, for_update: bool = False
    ) -> Price:
        price = uow.prices.get(tenant_id, price_id, for_update=for_update)
        if price is None:
            raise NotFound("price", price_id)
        return price

    def _list_prices(
        self,
        uow: UnitOfWork,
        tenant_id: str,
        page: PageRequest,
        *,
        product_id: str,
        show_archived: bool,
    ) -> Page[Price]:
        if product_id:
            self._get_product(
                uow, tenant_id, product_id
            )  # a typo'd product is NOT_FOUND, not empty
        items = uow.prices.list(tenant_id, page, product_id=product_id, show_archived=show_archived)
        return paginate(items, page)

    def _update_price(
        self, uow: UnitOfWork, tenant_id: str, price_id: str, changes: PriceChanges
    ) -> Price:
        price = self._get_price(uow, tenant_id, price_id, for_update=True)
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

    def _archive_price(self, uow: UnitOfWork, tenant_id: str, price_id: str) -> Price:
        price = self._get_price(uow, tenant_id, price_id, for_update=True)
        if price.state is LifecycleState.ARCHIVED:
            return price
        archived = replace(price, state=LifecycleState.ARCHIVED, update_time=self._clock.now())
        uow.prices.update(archived)
        self._changed(uow, "archived", archived)
        return archived

    # -- the use cases: each owns its transaction ---------------------------------

    def create_product(
        self, tenant_id: str, new: NewProduct, replay: Replay[Product]
    ) -> Outcome[Product]:
        return self._runner.run(
            replay.identity, lambda uow: self._create_product(uow, tenant_id, new), replay.encode
        )

    def get_product(self, tenant_id: str, product_id: str) -> Product:
        with self._uow(write=False) as uow:
            return self._get_product(uow, tenant_id, product_id)

    def list_products(
        self, tenant_id: str, page: PageRequest, *, show_archived: bool
    ) -> Page[Product]:
        with self._uow(write=False) as uow:
            return self._list_products(uow, tenant_id, page, show_archived=show_archived)

    def update_product(
        self, tenant_id: str, product_id: str, changes: ProductChanges, replay: Replay[Product]
    ) -> Outcome[Product]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._update_product(uow, tenant_id, product_id, changes),
            replay.encode,
        )

    def archive_product(
        self, tenant_id: str, product_id: str, replay: Replay[Product]
    ) -> Outcome[Product]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._archive_product(uow, tenant_id, product_id),
            replay.encode,
        )

    def create_price(self, tenant_id: str, new: NewPrice, replay: Replay[Price]) -> Outcome[Price]:
        return self._runner.run(
            replay.identity, lambda uow: self._create_price(uow, tenant_id, new), replay.encode
        )

    def get_price(self, tenant_id: str, price_id: str) -> Price:
        with self._uow(write=False) as uow:
            return self._get_price(uow, tenant_id, price_id)

    def list_prices(
        self, tenant_id: str, page: PageRequest, *, product_id: str, show_archived: bool
    ) -> Page[Price]:
        with self._uow(write=False) as uow:
            return self._list_prices(
                uow, tenant_id, page, product_id=product_id, show_archived=show_archived
            )

    def update_price(
        self,
        tenant_id: str,
        price_id: str,
        changes_to: Callable[[Price], PriceChanges],
        replay: Replay[Price],
    ) -> Outcome[Price]:
        """`changes_to` turns the current (locked) price into the changes to apply:
        a field mask may leave economic fields unset, merged from what is stored."""

        def work(uow: UnitOfWork) -> Price:
            current = self._get_price(uow, tenant_id, price_id, for_update=True)
            return self._update_price(uow, tenant_id, current.id, changes_to(current))

        return self._runner.run(replay.identity, work, replay.encode)

    def archive_price(self, tenant_id: str, price_id: str, replay: Replay[Price]) -> Outcome[Price]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._archive_price(uow, tenant_id, price_id),
            replay.encode,
        )
