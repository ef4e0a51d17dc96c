"""Exact text and JSON forms of billing values the tables store whole.

Fractions are written as "p/q" and parsed back with `Fraction`, never through
floats: proration fractions and unrounded amounts can exceed 64 bits and are
part of an invoice's derivation, so they must read back exactly as computed.
Instants in JSON are ISO 8601 in UTC with microseconds, for the same reason.

An invoice line has one set of fields whether it lives in `invoice_lines`
(finalised on an invoice) or in a subscription's `pending_lines` JSON
(waiting for the next renewal), so a line moves between the two unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

from accrue.catalog.model import (
    PriceTerms,
    PriceTier,
    PricingScheme,
    Recurring,
    TaxBehavior,
    UsageType,
)
from accrue.invoicing.model import InvoiceLine, LineCharge
from accrue.invoicing.tax import TaxRate
from accrue.kernel.calendar import IntervalUnit

# The line fields that are instants: columns in `invoice_lines`, text in JSON.
_LINE_INSTANTS = ("period_start", "period_end")


def fraction_text(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def fraction_of(text: str) -> Fraction:
    return Fraction(text)


def instant_text(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def instant_of(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).astimezone(UTC)


def terms_json(terms: PriceTerms) -> dict[str, Any]:
    recurring = terms.recurring
    return {
        "currency_code": terms.currency_code,
        "scheme": terms.scheme.value,
        "unit_amount_minor": terms.unit_amount_minor,
        # The same tier shape as the `prices.tiers` column.
        "tiers": [
            {"up_to": tier.up_to, "unit": tier.unit_amount_minor, "flat": tier.flat_amount_minor}
            for tier in terms.tiers
        ],
        "recurring": None
        if recurring is None
        else {
            "interval_unit": recurring.interval_unit.value,
            "interval_count": recurring.interval_count,
            "usage_type": recurring.usage_type.value,
            **({"meter_id": recurring.meter_id} if recurring.meter_id else {}),
        },
        "tax_behavior": terms.tax_behavior.value,
        **({"package_size": terms.package_size} if terms.package_size else {}),
    }


def terms_of(data: Mapping[str, Any]) -> PriceTerms:
    recurring = data["recurring"]
    return PriceTerms(
        currency_code=data["currency_code"],
        scheme=PricingScheme(data["scheme"]),
        unit_amount_minor=data["unit_amount_minor"],
        tiers=tuple(PriceTier(tier["up_to"], tier["unit"], tier["flat"]) for tier in data["tiers"]),
        recurring=None
        if recurring is None
        else Recurring(
            interval_unit=IntervalUnit(recurring["interval_unit"]),
            interval_count=recurring["interval_count"],
            usage_type=UsageType(recurring["usage_type"]),
            meter_id=recurring.get("meter_id", ""),
        ),
        tax_behavior=TaxBehavior(data["tax_behavior"]),
        package_size=data.get("package_size", 0),
    )


# The `invoice_lines` columns of a line (without the tenant and invoice ids), in
# the order of `line_values`.
LINE_COLUMNS = (
    "line_number",
    "description",
    "price_id",
    "subscription_id",
    "quantity",
    "unit_amount_minor",
    "amount_minor",
    "tax_behavior",
    "net_minor",
    "tax_minor",
    "tax_jurisdiction",
    "tax_name",
    "tax_rate",
    "unrounded_tax",
    "period_start",
    "period_end",
    "proration",
    "fraction",
    "full_period_amount_minor",
    "unrounded",
    "rounding",
    "explanation",
)


def line_values(line: InvoiceLine) -> tuple[Any, ...]:
    """A line's column values in `LINE_COLUMNS` order: a batch of lines is written as
    rows of values, without a dictionary per line."""
    charge = line.charge
    rate = line.tax_rate
    return (
        line.line_number,
        charge.description,
        charge.price_id,
        charge.subscription_id,
        charge.quantity,
        charge.unit_amount_minor,
        charge.amount_minor,
        charge.tax_behavior.value,
        line.net_minor,
        line.tax_minor,
        None if rate is None else rate.jurisdiction,
        None if rate is None else rate.name,
        None if rate is None else fraction_text(rate.rate),
        fraction_text(line.unrounded_tax),
        charge.period_start,
        charge.period_end,
        charge.proration,
        fraction_text(charge.fraction),
        charge.full_period_amount_minor,
        fraction_text(charge.unrounded),
        charge.rounding,
        charge.explanation,
    )


def line_fields(line: InvoiceLine) -> dict[str, Any]:
    """A line as `invoice_lines` columns (without the tenant and invoice ids)."""
    return dict(zip(LINE_COLUMNS, line_values(line), strict=True))


def line_of(fields: Mapping[Any, Any]) -> InvoiceLine:
    """The inverse of `line_fields`; reads a row's `_mapping` as it is."""
    rate = None
    if fields["tax_rate"] is not None:
        rate = TaxRate(
            jurisdiction=fields["tax_jurisdiction"],
            rate=fraction_of(fields["tax_rate"]),
            name=fields["tax_name"],
        )
    charge = LineCharge(
        description=fields["description"],
        price_id=fields["price_id"],
        subscription_id=fields["subscription_id"],
        quantity=fields["quantity"],
        unit_amount_minor=fields["unit_amount_minor"],
        amount_minor=fields["amount_minor"],
        tax_behavior=TaxBehavior(fields["tax_behavior"]),
        period_start=fields["period_start"],
        period_end=fields["period_end"],
        proration=bool(fields["proration"]),
        fraction=fraction_of(fields["fraction"]),
        full_period_amount_minor=fields["full_period_amount_minor"],
        unrounded=fraction_of(fields["unrounded"]),
        rounding=fields["rounding"],
        explanation=fields["explanation"],
    )
    return InvoiceLine(
        charge=charge,
        net_minor=fields["net_minor"],
        tax_minor=fields["tax_minor"],
        tax_rate=rate,
        unrounded_tax=fraction_of(fields["unrounded_tax"]),
        line_number=fields["line_number"],
    )


def lines_json(lines: Iterable[InvoiceLine]) -> list[dict[str, Any]]:
    encoded = []
    for line in lines:
        fields = line_fields(line)
        for name in _LINE_INSTANTS:
            fields[name] = instant_text(fields[name])
        encoded.append(fields)
    return encoded


def lines_of(data: Iterable[Mapping[str, Any]]) -> tuple[InvoiceLine, ...]:
    return tuple(
        line_of({**fields, **{name: instant_of(fields[name]) for name in _LINE_INSTANTS}})
        for fields in data
    )
