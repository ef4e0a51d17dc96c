"""What a metered quantity costs: per unit, flat, PACKAGE, graduated (TIERED) and VOLUME tiers.

Quantities are exact decimals (micros), so a line's amount is an exact
fraction of minor units, rounded once (ROUND_HALF_EVEN) at the end; the line's
explanation states the exact quantity and every tier it used, so anyone can
recompute it by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from accrue.catalog.model import PriceTerms, PricingScheme, packages
from accrue.invoicing.line_text import period_text
from accrue.invoicing.model import LineCharge
from accrue.kernel.money import Money
from accrue.kernel.rounding import DEFAULT_RULE, round_minor
from accrue.usage.model import UNIT, format_quantity

TIMES = "\u00d7"


@dataclass(frozen=True, slots=True)
class MeteredAmount:
    unrounded: Fraction
    amount_minor: int
    tiers_used: tuple[str, ...]
    # PACKAGE prices: the whole packages billed (a partial one rounded up); else 0.
    packages: int = 0


def metered_amount(terms: PriceTerms, quantity_micros: int) -> MeteredAmount:
    """The exact and rounded amount of `quantity_micros` (never negative) under `terms`."""
    q = Fraction(max(quantity_micros, 0), UNIT)
    money = _money(terms.currency_code)
    used: list[str] = []
    count = 0
    if terms.scheme is PricingScheme.PACKAGE:
        count = packages(q, terms.package_size)
        unit = terms.unit_amount_minor or 0
        total = Fraction(unit * count)
        used.append(
            f"{_q(q)} in packages of {terms.package_size}, rounded up = {count} packages"
            f" {TIMES} {money(unit)}"
        )
    elif terms.scheme is PricingScheme.FLAT:
        total = Fraction(terms.unit_amount_minor or 0)
        used.append(f"flat {money(terms.unit_amount_minor or 0)}")
    elif terms.scheme is PricingScheme.PER_UNIT:
        unit = terms.unit_amount_minor or 0
        total = unit * q
        used.append(f"{_q(q)} {TIMES} {money(unit)}")
    elif terms.scheme is PricingScheme.VOLUME:
        total = Fraction(0)
        for index, tier in enumerate(terms.tiers, start=1):
            if tier.up_to is None or q <= tier.up_to:
                total = tier.unit_amount_minor * q + tier.flat_amount_minor
                used.append(
                    _tier_text(index, q, tier.unit_amount_minor, tier.flat_amount_minor, money)
                )
                break
    else:
        total = Fraction(0)
        lower = Fraction(0)
        for index, tier in enumerate(terms.tiers, start=1):
            if q <= lower:
                break
            upper = q if tier.up_to is None else min(q, Fraction(tier.up_to))
            units = upper - lower
            total += tier.unit_amount_minor * units + tier.flat_amount_minor
            used.append(
                _tier_text(index, units, tier.unit_amount_minor, tier.flat_amount_minor, money)
            )
            if tier.up_to is None:
                break
            lower = Fraction(tier.up_to)
    return MeteredAmount(total, round_minor(total, rule=DEFAULT_RULE), tuple(used), count)


def metered_line(
    *,
    terms: PriceTerms,
    price_id: str,
    subscription_id: str,
    label: str,
    group_text: str,
    quantity_micros: int,
    period_start: datetime,
    period_end: datetime,
    time_zone: str,
    late_of: int | None = None,
) -> LineCharge:
    """The invoice line of a metered item for a period (or its late usage).

    `late_of`: for usage that arrived or was corrected after the period was
    invoiced, the quantity already billed; the line then charges the difference
    between the price of everything and the price of what was billed (negative
    when a correction lowered it).
    """
    full = metered_amount(terms, quantity_micros)
    amount, unrounded = full.amount_minor, full.unrounded
    quantity = quantity_micros
    what = "usage"
    if late_of is not None:
        billed = metered_amount(terms, late_of)
        amount -= billed.amount_minor
        unrounded -= billed.amount_minor
        quantity = quantity_micros - late_of
        # More usage than billed is late usage; less (a correction) is an adjustment.
        what = "late usage" if quantity > 0 and amount >= 0 else "usage adjustment"
    exact = format_quantity(quantity)
    parts = [label or price_id]
    if group_text:
        parts.append(group_text)
    parts.append(f"{what} {exact}")
    line_quantity, line_unit = (
        _whole(quantity),
        (terms.unit_amount_minor if terms.scheme is PricingScheme.PER_UNIT else None),
    )
    if terms.scheme is PricingScheme.PACKAGE:
        # The line counts packages at the package price, so quantity x unit is its amount.
        line_quantity = full.packages
        if late_of is not None:
            line_quantity -= metered_amount(terms, late_of).packages
        line_unit = terms.unit_amount_minor
        parts.append(f"{line_quantity} packages of {terms.package_size}")
    parts.append(period_text(period_start, period_end, time_zone))
    explanation = (
        f"{what} {exact} for the period; {'; '.join(full.tiers_used)}"
        f" = {_exact(full.unrounded)} minor units"
    )
    if late_of is not None:
        explanation += f"; less {metered_amount(terms, late_of).amount_minor} already billed"
    return LineCharge(
        description=", ".join(parts),
        price_id=price_id,
        subscription_id=subscription_id,
        quantity=line_quantity,
        unit_amount_minor=line_unit,
        amount_minor=amount,
        tax_behavior=terms.tax_behavior,
        period_start=period_start,
        period_end=period_end,
        proration=False,
        fraction=Fraction(1),
        full_period_amount_minor=full.amount_minor,
        unrounded=unrounded,
        rounding=DEFAULT_RULE.value,
        explanation=explanation,
    )


def _whole(micros: int) -> int:
    """The line's integer quantity: the exact quantity rounded half-even to units
    (the exact decimal is in the description and the explanation)."""
    return round_minor(Fraction(micros, UNIT), rule=DEFAULT_RULE)


def _q(q: Fraction) -> str:
    return format_quantity(int(q * UNIT))


def _exact(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return format_quantity(int(value * UNIT)) if (value * UNIT).denominator == 1 else str(value)


def _money(currency_code: str) -> Callable[[int], str]:
    return lambda minor: Money(minor, currency_code).format()


def _tier_text(
    index: int, units: Fraction, unit: int, flat: int, money: Callable[[int], str]
) -> str:
    text = f"tier {index}: {_q(units)} {TIMES} {money(unit)}"
    if flat:
        text += f" + {money(flat)} flat"
    return text
