"""What the catalog's use cases need from persistence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from accrue.catalog.model import Price, Product
from accrue.event_log.ports import EventRepository
from accrue.kernel.paging import PageRequest
from accrue.platform.ports import Transactional


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


class CatalogUnitOfWork(Transactional, Protocol):
    """One transaction of the catalog's use cases: products, prices and the
    outbox their events go to; nothing of any other area."""

    @property
    def products(self) -> ProductRepository: ...
    @property
    def prices(self) -> PriceRepository: ...
    @property
    def events(self) -> EventRepository: ...


class CatalogUnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool) -> CatalogUnitOfWork: ...
