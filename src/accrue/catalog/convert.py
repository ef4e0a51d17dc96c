"""Catalog messages <-> domain."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.message import Message

from accrue.billing.v1 import catalog_pb2, money_pb2
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
from accrue.events.v1 import events_pb2
from accrue.kernel.calendar import IntervalUnit
from accrue.kernel.errors import CurrencyMismatch, ValidationFailed
from accrue.platform.transport.convert import LIFECYCLE_TO_PB, timestamp

_SCHEME = {
    catalog_pb2.PRICING_SCHEME_FLAT: PricingScheme.FLAT,
    catalog_pb2.PRICING_SCHEME_PER_UNIT: PricingScheme.PER_UNIT,
    catalog_pb2.PRICING_SCHEME_TIERED: PricingScheme.TIERED,
    catalog_pb2.PRICING_SCHEME_VOLUME: PricingScheme.VOLUME,
    catalog_pb2.PRICING_SCHEME_PACKAGE: PricingScheme.PACKAGE,
}
_INTERVAL = {
    catalog_pb2.INTERVAL_UNIT_DAY: IntervalUnit.DAY,
    catalog_pb2.INTERVAL_UNIT_WEEK: IntervalUnit.WEEK,
    catalog_pb2.INTERVAL_UNIT_MONTH: IntervalUnit.MONTH,
    catalog_pb2.INTERVAL_UNIT_YEAR: IntervalUnit.YEAR,
}
_USAGE = {
    catalog_pb2.USAGE_TYPE_UNSPECIFIED: UsageType.LICENSED,
    catalog_pb2.USAGE_TYPE_LICENSED: UsageType.LICENSED,
    catalog_pb2.USAGE_TYPE_METERED: UsageType.METERED,
}
_TAX = {
    catalog_pb2.TAX_BEHAVIOR_UNSPECIFIED: TaxBehavior.EXCLUSIVE,
    catalog_pb2.TAX_BEHAVIOR_EXCLUSIVE: TaxBehavior.EXCLUSIVE,
    catalog_pb2.TAX_BEHAVIOR_INCLUSIVE: TaxBehavior.INCLUSIVE,
}
_SCHEME_PB = {v: k for k, v in _SCHEME.items()}
_INTERVAL_PB = {v: k for k, v in _INTERVAL.items()}
_USAGE_PB = {
    UsageType.LICENSED: catalog_pb2.USAGE_TYPE_LICENSED,
    UsageType.METERED: catalog_pb2.USAGE_TYPE_METERED,
}
_TAX_PB = {
    TaxBehavior.EXCLUSIVE: catalog_pb2.TAX_BEHAVIOR_EXCLUSIVE,
    TaxBehavior.INCLUSIVE: catalog_pb2.TAX_BEHAVIOR_INCLUSIVE,
}

PRODUCT_UPDATABLE = frozenset({"display_name", "description", "metadata"})
PRICE_UPDATABLE = frozenset(
    {
        "nickname",
        "metadata",
        "unit_amount",
        "tiers",
        "pricing_scheme",
        "package_size",
        "recurring",
        "tax_behavior",
    }
)


def product_to_pb(product: Product) -> catalog_pb2.Product:
    return catalog_pb2.Product(
        id=product.id,
        display_name=product.display_name,
        description=product.description,
        state=LIFECYCLE_TO_PB[product.state],
        metadata=product.metadata,
        create_time=timestamp(product.create_time),
        update_time=timestamp(product.update_time),
    )


def _money(amount_minor: int, currency_code: str) -> money_pb2.Money:
    return money_pb2.Money(amount_minor=amount_minor, currency_code=currency_code)


def price_to_pb(price: Price) -> catalog_pb2.Price:
    terms = price.terms
    message = catalog_pb2.Price(
        id=price.id,
        product_id=price.product_id,
        currency_code=terms.currency_code,
        pricing_scheme=_SCHEME_PB[terms.scheme],
        tax_behavior=_TAX_PB[terms.tax_behavior],
        nickname=price.nickname,
        state=LIFECYCLE_TO_PB[price.state],
        in_use=price.in_use,
        metadata=price.metadata,
        create_time=timestamp(price.create_time),
        update_time=timestamp(price.update_time),
        package_size=terms.package_size,
    )
    if terms.unit_amount_minor is not None:
        message.unit_amount.CopyFrom(_money(terms.unit_amount_minor, terms.currency_code))
    for tier in terms.tiers:
        pb_tier = message.tiers.add(
            unit_amount=_money(tier.unit_amount_minor, terms.currency_code),
            flat_amount=_money(tier.flat_amount_minor, terms.currency_code),
        )
        if tier.up_to is not None:
            pb_tier.up_to = tier.up_to
    if terms.recurring is not None:
        message.recurring.CopyFrom(
            catalog_pb2.Recurring(
                interval_unit=_INTERVAL_PB[terms.recurring.interval_unit],
                interval_count=terms.recurring.interval_count,
                usage_type=_USAGE_PB[terms.recurring.usage_type],
                meter_id=terms.recurring.meter_id,
            )
        )
    return message


def _amount(money: money_pb2.Money, currency_code: str, field: str) -> int:
    if money.currency_code != currency_code:
        raise CurrencyMismatch(
            f"{field}.currency_code must be the price's currency {currency_code}",
            metadata={"field": f"{field}.currency_code"},
        )
    return money.amount_minor


def _optional_amount(
    holder: catalog_pb2.PriceTier, name: str, currency_code: str, field: str
) -> int:
    if not holder.HasField(name):
        return 0
    return _amount(getattr(holder, name), currency_code, f"{field}.{name}")


def price_terms_from_pb(price: catalog_pb2.Price, *, currency_code: str) -> PriceTerms:
    """The terms carried by `price`, amounts checked against `currency_code`."""
    if price.pricing_scheme not in _SCHEME:
        raise ValidationFailed.on("price.pricing_scheme", "must be a defined scheme")
    recurring = None
    if price.HasField("recurring"):
        if price.recurring.interval_unit not in _INTERVAL:
            raise ValidationFailed.on("price.recurring.interval_unit", "must be a defined unit")
        recurring = Recurring(
            interval_unit=_INTERVAL[price.recurring.interval_unit],
            interval_count=price.recurring.interval_count,
            usage_type=_USAGE[price.recurring.usage_type],
            meter_id=price.recurring.meter_id,
        )
    tiers = tuple(
        PriceTier(
            up_to=tier.up_to if tier.HasField("up_to") else None,
            unit_amount_minor=_optional_amount(
                tier, "unit_amount", currency_code, f"price.tiers[{i}]"
            ),
            flat_amount_minor=_optional_amount(
                tier, "flat_amount", currency_code, f"price.tiers[{i}]"
            ),
        )
        for i, tier in enumerate(price.tiers)
    )
    unit = (
        _amount(price.unit_amount, currency_code, "price.unit_amount")
        if price.HasField("unit_amount")
        else None
    )
    return PriceTerms(
        currency_code=currency_code,
        scheme=_SCHEME[price.pricing_scheme],
        unit_amount_minor=unit,
        tiers=tiers,
        recurring=recurring,
        tax_behavior=_TAX.get(price.tax_behavior, TaxBehavior.EXCLUSIVE),
        package_size=price.package_size,
    )


def merged_price_pb(
    current: Price, update: catalog_pb2.Price, fields: frozenset[str]
) -> catalog_pb2.Price:
    """The stored price with the masked fields of `update` laid over it."""
    merged = price_to_pb(current)
    for name in fields & {"unit_amount", "recurring"}:
        merged.ClearField(name)
        if update.HasField(name):
            getattr(merged, name).CopyFrom(getattr(update, name))
    if "tiers" in fields:
        del merged.tiers[:]
        merged.tiers.extend(update.tiers)
    if "pricing_scheme" in fields:
        merged.pricing_scheme = update.pricing_scheme
    if "tax_behavior" in fields:
        merged.tax_behavior = update.tax_behavior
    if "package_size" in fields:
        merged.package_size = update.package_size
    return merged


# Shared with the subscription and invoice conversions.
INTERVAL_TO_PB = _INTERVAL_PB
TAX_BEHAVIOR_TO_PB = _TAX_PB
money_to_pb = _money


# The event payloads of this area's subjects, gathered by `accrue.payloads`.
EVENT_PAYLOADS: tuple[tuple[type, Callable[[Any], Message]], ...] = (
    (Product, lambda s: events_pb2.ProductChanged(product=product_to_pb(s))),
    (Price, lambda s: events_pb2.PriceChanged(price=price_to_pb(s))),
)
