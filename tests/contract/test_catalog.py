"""CatalogService through the real server, over gRPC and Connect."""

from __future__ import annotations

import uuid

from google.protobuf import field_mask_pb2

from accrue.billing.v1 import catalog_pb2 as pb
from accrue.billing.v1 import common_pb2
from accrue.billing.v1.money_pb2 import Money
from tests.conftest import Transport
from tests.support import RunningServer

CATALOG = "accrue.billing.v1.CatalogService"


def make_product(rpc: Transport, name: str = "Pro plan") -> pb.Product:
    return rpc.call(
        CATALOG, "CreateProduct", pb.CreateProductRequest(product=pb.Product(display_name=name))
    )


def usd(amount: int) -> Money:
    return Money(amount_minor=amount, currency_code="USD")


def test_created_product_can_be_read_back(rpc: Transport) -> None:
    created = rpc.call(
        CATALOG,
        "CreateProduct",
        pb.CreateProductRequest(
            product=pb.Product(
                display_name="Pro", description="All features", metadata={"tier": "pro"}
            )
        ),
    )
    assert created.id.startswith("prod_")
    assert created.state == common_pb2.LIFECYCLE_STATE_ACTIVE
    fetched = rpc.call(CATALOG, "GetProduct", pb.GetProductRequest(id=created.id))
    assert fetched == created


def test_list_products_pages_oldest_first_without_gaps(rpc: Transport) -> None:
    ids = [make_product(rpc, f"p{i}").id for i in range(7)]
    seen: list[str] = []
    token = ""
    while True:
        page = rpc.call(
            CATALOG, "ListProducts", pb.ListProductsRequest(page_size=3, page_token=token)
        )
        seen.extend(p.id for p in page.products)
        token = page.next_page_token
        if not token:
            break
    assert seen == ids


def test_page_token_from_another_query_is_rejected(rpc: Transport) -> None:
    for i in range(3):
        make_product(rpc, f"p{i}")
    page = rpc.call(CATALOG, "ListProducts", pb.ListProductsRequest(page_size=1))
    failure = rpc.fail(
        CATALOG,
        "ListProducts",
        pb.ListProductsRequest(page_size=1, page_token=page.next_page_token, show_archived=True),
    )
    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "INVALID_PAGE_TOKEN")


def test_archived_products_are_hidden_unless_asked_for(rpc: Transport) -> None:
    kept, archived = make_product(rpc, "kept"), make_product(rpc, "gone")
    result = rpc.call(CATALOG, "ArchiveProduct", pb.ArchiveProductRequest(id=archived.id))
    assert result.state == common_pb2.LIFECYCLE_STATE_ARCHIVED
    active = rpc.call(CATALOG, "ListProducts", pb.ListProductsRequest())
    assert [p.id for p in active.products] == [kept.id]
    everything = rpc.call(CATALOG, "ListProducts", pb.ListProductsRequest(show_archived=True))
    assert [p.id for p in everything.products] == [kept.id, archived.id]


def test_update_product_changes_only_masked_fields(rpc: Transport) -> None:
    product = make_product(rpc, "Old name")
    updated = rpc.call(
        CATALOG,
        "UpdateProduct",
        pb.UpdateProductRequest(
            product=pb.Product(id=product.id, display_name="New name", description="ignored"),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
        ),
    )
    assert updated.display_name == "New name"
    assert updated.description == ""


def test_update_mask_with_unknown_field_is_invalid(rpc: Transport) -> None:
    product = make_product(rpc)
    failure = rpc.fail(
        CATALOG,
        "UpdateProduct",
        pb.UpdateProductRequest(
            product=pb.Product(id=product.id),
            update_mask=field_mask_pb2.FieldMask(paths=["state"]),
        ),
    )
    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")
    assert failure.field_violations == ["update_mask.paths"]


def test_per_unit_price_round_trips_with_recurring_interval(rpc: Transport) -> None:
    product = make_product(rpc)
    price = rpc.call(
        CATALOG,
        "CreatePrice",
        pb.CreatePriceRequest(
            price=pb.Price(
                product_id=product.id,
                currency_code="USD",
                pricing_scheme=pb.PRICING_SCHEME_PER_UNIT,
                unit_amount=usd(1250),
                recurring=pb.Recurring(interval_unit=pb.INTERVAL_UNIT_MONTH, interval_count=1),
                tax_behavior=pb.TAX_BEHAVIOR_INCLUSIVE,
            )
        ),
    )
    assert price.id.startswith("price_")
    assert price.unit_amount == usd(1250)
    assert price.recurring.usage_type == pb.USAGE_TYPE_LICENSED
    assert not price.in_use
    assert rpc.call(CATALOG, "GetPrice", pb.GetPriceRequest(id=price.id)) == price


def test_tiered_price_keeps_open_ended_last_tier(rpc: Transport) -> None:
    product = make_product(rpc)
    price = rpc.call(
        CATALOG,
        "CreatePrice",
        pb.CreatePriceRequest(
            price=pb.Price(
                product_id=product.id,
                currency_code="JPY",
                pricing_scheme=pb.PRICING_SCHEME_TIERED,
                tiers=[
                    pb.PriceTier(
                        up_to=10, unit_amount=Money(amount_minor=100, currency_code="JPY")
                    ),
                    pb.PriceTier(unit_amount=Money(amount_minor=80, currency_code="JPY")),
                ],
            )
        ),
    )
    assert price.tiers[0].HasField("up_to") and price.tiers[0].up_to == 10
    assert not price.tiers[1].HasField("up_to")


def test_price_with_amount_in_other_currency_is_rejected(rpc: Transport) -> None:
    product = make_product(rpc)
    failure = rpc.fail(
        CATALOG,
        "CreatePrice",
        pb.CreatePriceRequest(
            price=pb.Price(
                product_id=product.id,
                currency_code="USD",
                pricing_scheme=pb.PRICING_SCHEME_FLAT,
                unit_amount=Money(amount_minor=100, currency_code="EUR"),
            )
        ),
    )
    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "CURRENCY_MISMATCH")


def test_unknown_currency_is_rejected(rpc: Transport) -> None:
    product = make_product(rpc)
    failure = rpc.fail(
        CATALOG,
        "CreatePrice",
        pb.CreatePriceRequest(
            price=pb.Price(
                product_id=product.id,
                currency_code="XXY",
                pricing_scheme=pb.PRICING_SCHEME_FLAT,
                unit_amount=Money(amount_minor=100, currency_code="XXY"),
            )
        ),
    )
    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "CURRENCY_UNSUPPORTED")


def test_tiers_out_of_order_list_every_violation(rpc: Transport) -> None:
    product = make_product(rpc)
    failure = rpc.fail(
        CATALOG,
        "CreatePrice",
        pb.CreatePriceRequest(
            price=pb.Price(
                product_id=product.id,
                currency_code="USD",
                pricing_scheme=pb.PRICING_SCHEME_VOLUME,
                tiers=[pb.PriceTier(up_to=10), pb.PriceTier(up_to=5), pb.PriceTier(up_to=20)],
            )
        ),
    )
    assert failure.reason == "VALIDATION_FAILED"
    assert set(failure.field_violations) == {"price.tiers[1].up_to", "price.tiers[2].up_to"}


def test_price_for_archived_product_is_refused(rpc: Transport) -> None:
    product = make_product(rpc)
    rpc.call(CATALOG, "ArchiveProduct", pb.ArchiveProductRequest(id=product.id))
    failure = rpc.fail(
        CATALOG,
        "CreatePrice",
        pb.CreatePriceRequest(
            price=pb.Price(
                product_id=product.id,
                currency_code="USD",
                pricing_scheme=pb.PRICING_SCHEME_FLAT,
                unit_amount=usd(100),
            )
        ),
    )
    assert (failure.code, failure.reason) == ("FAILED_PRECONDITION", "RESOURCE_ARCHIVED")


def _flat_price(rpc: Transport) -> pb.Price:
    product = make_product(rpc)
    return rpc.call(
        CATALOG,
        "CreatePrice",
        pb.CreatePriceRequest(
            price=pb.Price(
                product_id=product.id,
                currency_code="USD",
                pricing_scheme=pb.PRICING_SCHEME_FLAT,
                unit_amount=usd(1000),
            ),
            request_id=str(uuid.uuid4()),
        ),
    )


def test_unused_price_terms_can_change(rpc: Transport) -> None:
    price = _flat_price(rpc)
    updated = rpc.call(
        CATALOG,
        "UpdatePrice",
        pb.UpdatePriceRequest(
            price=pb.Price(id=price.id, unit_amount=usd(2000), nickname="launch"),
            update_mask=field_mask_pb2.FieldMask(paths=["unit_amount", "nickname"]),
        ),
    )
    assert updated.unit_amount == usd(2000)
    assert updated.nickname == "launch"


def test_used_price_terms_are_frozen_but_labels_are_not(
    rpc: Transport, server: RunningServer, api_key: str
) -> None:
    price = _flat_price(rpc)
    with server.uow(write=True) as uow:
        uow.prices.mark_in_use(server.tenant_of(api_key), price.id)
        uow.commit()
    failure = rpc.fail(
        CATALOG,
        "UpdatePrice",
        pb.UpdatePriceRequest(
            price=pb.Price(id=price.id, unit_amount=usd(2000)),
            update_mask=field_mask_pb2.FieldMask(paths=["unit_amount"]),
        ),
    )
    assert (failure.code, failure.reason) == ("FAILED_PRECONDITION", "PRICE_IN_USE")
    relabelled = rpc.call(
        CATALOG,
        "UpdatePrice",
        pb.UpdatePriceRequest(
            price=pb.Price(id=price.id, nickname="legacy"),
            update_mask=field_mask_pb2.FieldMask(paths=["nickname"]),
        ),
    )
    assert relabelled.nickname == "legacy"
    assert relabelled.unit_amount == usd(1000)
    assert relabelled.in_use


def test_card_number_in_any_field_is_refused_and_nothing_is_written(rpc: Transport) -> None:
    failure = rpc.fail(
        CATALOG,
        "CreateProduct",
        pb.CreateProductRequest(
            product=pb.Product(
                display_name="Pro", metadata={"ref": "5555 5555 5555 4444"}, description="ok"
            )
        ),
    )
    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")
    assert failure.field_violations == ["product.metadata[ref]"]
    listed = rpc.call(CATALOG, "ListProducts", pb.ListProductsRequest(show_archived=True))
    assert list(listed.products) == []
