"""Catalog use cases, each owning its transaction.

A mutation runs in one unit of work through the platform's `MutationRunner`,
which stores the encoded response with the change, so a retry with the same
request_id is answered with the same bytes. The caller passes the encoder in a
`Replay` and converts the returned value itself, outside the transaction.
`CatalogService` holds the steps, each inside the unit of work it is given.
"""

from __future__ import annotations

from collections.abc import Callable

from accrue.catalog.model import Price, Product, ProductChanges
from accrue.catalog.ports import CatalogUnitOfWork, CatalogUnitOfWorkFactory
from accrue.catalog.service import CatalogService, NewPrice, NewProduct, PriceChanges
from accrue.kernel.paging import Page, PageRequest
from accrue.platform.idempotency import MutationRunner, Outcome, Replay


class CatalogUseCases:
    def __init__(
        self, uow_factory: CatalogUnitOfWorkFactory, runner: MutationRunner, service: CatalogService
    ) -> None:
        self._uow = uow_factory
        self._runner = runner
        self._service = service

    def create_product(
        self, tenant_id: str, new: NewProduct, replay: Replay[Product]
    ) -> Outcome[Product]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._service.create_product(uow, tenant_id, new),
            replay.encode,
        )

    def get_product(self, tenant_id: str, product_id: str) -> Product:
        with self._uow(write=False) as uow:
            return self._service.get_product(uow, tenant_id, product_id)

    def list_products(
        self, tenant_id: str, page: PageRequest, *, show_archived: bool
    ) -> Page[Product]:
        with self._uow(write=False) as uow:
            return self._service.list_products(uow, tenant_id, page, show_archived=show_archived)

    def update_product(
        self, tenant_id: str, product_id: str, changes: ProductChanges, replay: Replay[Product]
    ) -> Outcome[Product]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._service.update_product(uow, tenant_id, product_id, changes),
            replay.encode,
        )

    def archive_product(
        self, tenant_id: str, product_id: str, replay: Replay[Product]
    ) -> Outcome[Product]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._service.archive_product(uow, tenant_id, product_id),
            replay.encode,
        )

    def create_price(self, tenant_id: str, new: NewPrice, replay: Replay[Price]) -> Outcome[Price]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._service.create_price(uow, tenant_id, new),
            replay.encode,
        )

    def get_price(self, tenant_id: str, price_id: str) -> Price:
        with self._uow(write=False) as uow:
            return self._service.get_price(uow, tenant_id, price_id)

    def list_prices(
        self, tenant_id: str, page: PageRequest, *, product_id: str, show_archived: bool
    ) -> Page[Price]:
        with self._uow(write=False) as uow:
            return self._service.list_prices(
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

        def work(uow: CatalogUnitOfWork) -> Price:
            current = self._service.get_price(uow, tenant_id, price_id, for_update=True)
            return self._service.update_price(uow, tenant_id, current.id, changes_to(current))

        return self._runner.run(replay.identity, work, replay.encode)

    def archive_price(self, tenant_id: str, price_id: str, replay: Replay[Price]) -> Outcome[Price]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._service.archive_price(uow, tenant_id, price_id),
            replay.encode,
        )
