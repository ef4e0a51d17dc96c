"""CatalogService handlers."""

from __future__ import annotations

from accrue.billing.v1 import catalog_pb2 as pb
from accrue.catalog.convert import (
    PRICE_UPDATABLE,
    PRODUCT_UPDATABLE,
    merged_price_pb,
    price_terms_from_pb,
    price_to_pb,
    product_to_pb,
)
from accrue.catalog.model import ProductChanges
from accrue.catalog.service import CatalogService, NewPrice, NewProduct, PriceChanges
from accrue.kernel.money import Currency
from accrue.kernel.paging import PageRequest
from accrue.platform.transport.call import CallContext
from accrue.platform.transport.convert import mask_fields
from accrue.platform.transport.handler_support import HandlerSupport
from accrue.ports import UnitOfWork


class CatalogHandler:
    def __init__(self, support: HandlerSupport, catalog: CatalogService) -> None:
        self._support = support
        self._catalog = catalog

    def create_product(self, request: pb.CreateProductRequest, call: CallContext) -> pb.Product:
        new = NewProduct(
            display_name=request.product.display_name,
            description=request.product.description,
            metadata=dict(request.product.metadata),
        )
        return self._support.mutate(
            call,
            request,
            pb.Product,
            lambda uow: product_to_pb(self._catalog.create_product(uow, call.tenant_id, new)),
        )

    def get_product(self, request: pb.GetProductRequest, call: CallContext) -> pb.Product:
        return self._support.read(
            lambda uow: product_to_pb(self._catalog.get_product(uow, call.tenant_id, request.id))
        )

    def list_products(
        self, request: pb.ListProductsRequest, call: CallContext
    ) -> pb.ListProductsResponse:
        page = PageRequest.parse(
            page_size=request.page_size,
            page_token=request.page_token,
            query={"show_archived": request.show_archived},
        )

        def work(uow: UnitOfWork) -> pb.ListProductsResponse:
            result = self._catalog.list_products(
                uow, call.tenant_id, page, show_archived=request.show_archived
            )
            return pb.ListProductsResponse(
                products=[product_to_pb(p) for p in result.items],
                next_page_token=result.next_page_token,
            )

        return self._support.read(work)

    def update_product(self, request: pb.UpdateProductRequest, call: CallContext) -> pb.Product:
        fields = mask_fields(request.update_mask, allowed=PRODUCT_UPDATABLE)
        product = request.product
        changes = ProductChanges(
            display_name=product.display_name if "display_name" in fields else None,
            description=product.description if "description" in fields else None,
            metadata=dict(product.metadata) if "metadata" in fields else None,
            fields=fields,
        )
        return self._support.mutate(
            call,
            request,
            pb.Product,
            lambda uow: product_to_pb(
                self._catalog.update_product(uow, call.tenant_id, product.id, changes)
            ),
        )

    def archive_product(self, request: pb.ArchiveProductRequest, call: CallContext) -> pb.Product:
        return self._support.mutate(
            call,
            request,
            pb.Product,
            lambda uow: product_to_pb(
                self._catalog.archive_product(uow, call.tenant_id, request.id)
            ),
        )

    def create_price(self, request: pb.CreatePriceRequest, call: CallContext) -> pb.Price:
        price = request.price
        currency = Currency.of(price.currency_code).code
        new = NewPrice(
            product_id=price.product_id,
            terms=price_terms_from_pb(price, currency_code=currency),
            nickname=price.nickname,
            metadata=dict(price.metadata),
        )
        return self._support.mutate(
            call,
            request,
            pb.Price,
            lambda uow: price_to_pb(self._catalog.create_price(uow, call.tenant_id, new)),
        )

    def get_price(self, request: pb.GetPriceRequest, call: CallContext) -> pb.Price:
        return self._support.read(
            lambda uow: price_to_pb(self._catalog.get_price(uow, call.tenant_id, request.id))
        )

    def list_prices(
        self, request: pb.ListPricesRequest, call: CallContext
    ) -> pb.ListPricesResponse:
        page = PageRequest.parse(
            page_size=request.page_size,
            page_token=request.page_token,
            query={"product_id": request.product_id, "show_archived": request.show_archived},
        )

        def work(uow: UnitOfWork) -> pb.ListPricesResponse:
            result = self._catalog.list_prices(
                uow,
                call.tenant_id,
                page,
                product_id=request.product_id,
                show_archived=request.show_archived,
            )
            return pb.ListPricesResponse(
                prices=[price_to_pb(p) for p in result.items],
                next_page_token=result.next_page_token,
            )

        return self._support.read(work)

    def update_price(self, request: pb.UpdatePriceRequest, call: CallContext) -> pb.Price:
        fields = mask_fields(request.update_mask, allowed=PRICE_UPDATABLE)

        def work(uow: UnitOfWork) -> pb.Price:
            current = self._catalog.get_price(
                uow, call.tenant_id, request.price.id, for_update=True
            )
            merged = merged_price_pb(current, request.price, fields)
            changes = PriceChanges(
                fields=fields,
                terms=price_terms_from_pb(merged, currency_code=current.terms.currency_code),
                nickname=request.price.nickname,
                metadata=dict(request.price.metadata),
            )
            return price_to_pb(self._catalog.update_price(uow, call.tenant_id, current.id, changes))

        return self._support.mutate(call, request, pb.Price, work)

    def archive_price(self, request: pb.ArchivePriceRequest, call: CallContext) -> pb.Price:
        return self._support.mutate(
            call,
            request,
            pb.Price,
            lambda uow: price_to_pb(self._catalog.archive_price(uow, call.tenant_id, request.id)),
        )
