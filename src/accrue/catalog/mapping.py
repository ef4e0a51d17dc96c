"""Row <-> model conversion for the catalog tables."""

from __future__ import annotations

from typing import Any

from accrue.catalog.model import (
    Price,
    PriceTerms,
    PriceTier,
    PricingScheme,
    Product,
    Recurring,
    TaxBehavior,
    UsageType,
)
from accrue.kernel.calendar import IntervalUnit
from accrue.kernel.lifecycle import LifecycleState


def product_row(product: Product) -> dict[str, Any]:
    return {
        "tenant_id": product.tenant_id,
        "id": product.id,
        "display_name": product.display_name,
        "description": product.description,
        "state": product.state.value,
        "metadata": product.metadata,
        "create_time": product.create_time,
        "update_time": product.update_time,
    }


def product_from_row(row: Any) -> Product:
    return Product(
        id=row.id,
        tenant_id=row.tenant_id,
        display_name=row.display_name,
        description=row.description,
        state=LifecycleState(row.state),
        metadata=dict(row.metadata),
        create_time=row.create_time,
        update_time=row.update_time,
    )


def price_row(price: Price) -> dict[str, Any]:
    terms = price.terms
    recurring = terms.recurring
    return {
        "tenant_id": price.tenant_id,
        "id": price.id,
        "product_id": price.product_id,
        "currency_code": terms.currency_code,
        "pricing_scheme": terms.scheme.value,
        "unit_amount_minor": terms.unit_amount_minor,
        "tiers": [
            {"up_to": t.up_to, "unit": t.unit_amount_minor, "flat": t.flat_amount_minor}
            for t in terms.tiers
        ],
        "interval_unit": recurring.interval_unit.value if recurring else None,
        "interval_count": recurring.interval_count if recurring else None,
        "usage_type": recurring.usage_type.value if recurring else None,
        "meter_id": (recurring.meter_id or None) if recurring else None,
        "tax_behavior": terms.tax_behavior.value,
        "package_size": terms.package_size or None,
        "nickname": price.nickname,
        "state": price.state.value,
        "in_use": price.in_use,
        "metadata": price.metadata,
        "create_time": price.create_time,
        "update_time": price.update_time,
    }


def price_from_row(row: Any) -> Price:
    recurring = None
    if row.interval_unit is not None:
        recurring = Recurring(
            interval_unit=IntervalUnit(row.interval_unit),
            interval_count=row.interval_count,
            usage_type=UsageType(row.usage_type),
            meter_id=row.meter_id or "",
        )
    terms = PriceTerms(
        currency_code=row.currency_code,
        scheme=PricingScheme(row.pricing_scheme),
        unit_amount_minor=row.unit_amount_minor,
        tiers=tuple(PriceTier(t["up_to"], t["unit"], t["flat"]) for t in row.tiers),
        recurring=recurring,
        tax_behavior=TaxBehavior(row.tax_behavior),
        package_size=row.package_size or 0,
    )
    return Price(
        id=row.id,
        tenant_id=row.tenant_id,
        product_id=row.product_id,
        terms=terms,
        nickname=row.nickname,
        state=LifecycleState(row.state),
        in_use=bool(row.in_use),
        metadata=dict(row.metadata),
        create_time=row.create_time,
        update_time=row.update_time,
    )
