"""CatalogService handlers: convert the request, call one use case, convert back.

The use cases own their transactions; nothing here runs inside one.
"""

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
from accrue.catalog.model import Price, ProductChanges
from accrue.catalog.service import NewPrice, NewProduct, PriceChanges
from accrue.catalog.use_cases import CatalogUseCases
from accrue.kernel.money import Currency
from accrue.kernel.paging import PageRequest
from accrue.platform.transport.call import CallContext
from accrue.platform.transport.convert import mask_fields
from accrue.platform.transport.handler_support import HandlerSupport


class CatalogHandler:
    def __init__(self, support: HandlerSupport, catalog: CatalogUseCases) -> None:
        self._support = support
        self._catalog = catalog

    def create_product(self, request: pb.CreateProductRequest, call: CallContext) -> pb.Product:
        new = NewProduct(
            display_name=request.product.display_name,
            description=request.product.description,
            metadata=dict(request.product.metadata),
        )
        replay = self._support.replay(call, request, product_to_pb)
        outcome = self._catalog.create_product(call.tenant_id, new, replay)
        return self._support.answer(outcome, pb.Product, product_to_pb)

    def get_product(self, request: pb.GetProductRequest, call: CallContext) -> pb.Product:
        return product_to_pb(self._catalog.get_product(call.tenant_id, request.id))

    def list_products(
        self, request: pb.ListProductsRequest, call: CallContext
    ) -> pb.ListProductsResponse:
        page = PageRequest.parse(
            page_size=request.page_size,
            page_token=request.page_token,
            query={"show_archived": request.show_archived},
        )
        result = self._catalog.list_products(
            call.tenant_id, page, show_archived=request.show_archived
        )
        return pb.ListProductsResponse(
            products=[product_to_pb(p) for p in result.items],
            next_page_token=result.next_page_token,
        )

    def update_product(self, request: pb.UpdateProductRequest, call: CallContext) -> pb.Product:
        fields = mask_fields(request.update_mask, allowed=PRODUCT_UPDATABLE)
        product = request.product
        changes = ProductChanges(
            display_name=product.display_name if "display_name" in fields else None,
            description=product.description if "description" in fields else None,
            metadata=dict(product.metadata) if "metadata" in fields else None,
            fields=fields,
        )
        replay = self._support.replay(call, request, product_to_pb)
        outcome = self._catalog.update_product(call.tenant_id, product.id, changes, replay)
        return self._support.answer(outcome, pb.Product, product_to_pb)

    def archive_product(self, request: pb.ArchiveProductRequest, call: CallContext) -> pb.Product:
        replay = self._support.replay(call, request, product_to_pb)
        outcome = self._catalog.archive_product(call.tenant_id, request.id, replay)
        return self._support.answer(outcome, pb.Product, product_to_pb)

    def create_price(self, request: pb.CreatePriceRequest, call: CallContext) -> pb.Price:
        price = request.price
        currency = Currency.of(price.currency_code).code
        new = NewPrice(
            product_id=price.product_id,
            terms=price_terms_from_pb(price, currency_code=currency),
            nickname=price.nickname,
            metadata=dict(price.metadata),
        )
        replay = self._support.replay(call, request, price_to_pb)
        outcome = self._catalog.create_price(call.tenant_id, new, replay)
        return self._support.answer(outcome, pb.Price, price_to_pb)

    def get_price(self, request: pb.GetPriceRequest, call: CallContext) -> pb.Price:
        return price_to_pb(self._catalog.get_price(call.tenant_id, request.id))

    def list_prices(
        self, request: pb.ListPricesRequest, call: CallContext
    ) -> pb.ListPricesResponse:
        page = PageRequest.parse(
            page_size=request.page_size,
            page_token=request.page_token,
            query={"product_id": request.product_id, "show_archived": request.show_archived},
        )
        result = self._catalog.list_prices(
            call.tenant_id,
            page,
            product_id=request.product_id,
            show_archived=request.show_archived,
        )
        return pb.ListPricesResponse(
            prices=[price_to_pb(p) for p in result.items],
            next_page_token=result.next_page_token,
        )

    def update_price(self, request: pb.UpdatePriceRequest, call: CallContext) -> pb.Price:
        fields = mask_fields(request.update_mask, allowed=PRICE_UPDATABLE)

        def changes_to(current: Price) -> PriceChanges:
            # Pure: the request merged over the stored price (a mask may leave
            # economic fields unset); the use case calls it with the locked price.
            merged = merged_price_pb(current, request.price, fields)
            return PriceChanges(
                fields=fields,
                terms=price_terms_from_pb(merged, currency_code=current.terms.currency_code),
                nickname=request.price.nickname,
                metadata=dict(request.price.metadata),
            )

        replay = self._support.replay(call, request, price_to_pb)
        outcome = self._catalog.update_price(call.tenant_id, request.price.id, changes_to, replay)
        return self._support.answer(outcome, pb.Price, price_to_pb)

    def archive_price(self, request: pb.ArchivePriceRequest, call: CallContext) -> pb.Price:
        replay = self._support.replay(call, request, price_to_pb)
        outcome = self._catalog.archive_price(call.tenant_id, request.id, replay)
        return self._support.answer(outcome, pb.Price, price_to_pb)
