"""Products and prices, and how a price turns a quantity into an amount.

A price's economic terms (scheme, amounts, tiers, interval, tax behaviour) are
frozen once the price has been used: history must keep meaning what it meant
when it was billed, so changing terms means a new price.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, replace
from datetime import datetime
from fractions import Fraction

from accrue.kernel.calendar import IntervalUnit
from accrue.kernel.errors import (
    CurrencyMismatch,
    PriceInUse,
    ResourceArchived,
    ValidationFailed,
    Violations,
)
from accrue.kernel.lifecycle import LifecycleState
from accrue.kernel.money import Currency, Money, check_amount


class PricingScheme(enum.Enum):
    FLAT = "flat"
    PER_UNIT = "per_unit"
    TIERED = "tiered"
    VOLUME = "volume"
    PACKAGE = "package"


class UsageType(enum.Enum):
    LICENSED = "licensed"
    METERED = "metered"


class TaxBehavior(enum.Enum):
    EXCLUSIVE = "exclusive"
    INCLUSIVE = "inclusive"


# The longest interval a price may have, per unit (three years in total).
MAX_INTERVAL_COUNT = {
    IntervalUnit.DAY: 1095,
    IntervalUnit.WEEK: 156,
    IntervalUnit.MONTH: 36,
    IntervalUnit.YEAR: 3,
}

# Fields of a price whose change would alter what a customer pays.
ECONOMIC_FIELDS = frozenset(
    {"pricing_scheme", "unit_amount", "tiers", "package_size", "recurring", "tax_behavior"}
)
# The largest package a PACKAGE price may have, in units.
MAX_PACKAGE_SIZE = 10**12


@dataclass(frozen=True, slots=True)
class Recurring:
    interval_unit: IntervalUnit
    interval_count: int
    usage_type: UsageType = UsageType.LICENSED
    # METERED prices: the meter whose aggregate is the quantity billed in arrears.
    meter_id: str = ""


@dataclass(frozen=True, slots=True)
class PriceTier:
    """A band of units; `up_to` is inclusive, None only on the last band."""

    up_to: int | None
    unit_amount_minor: int = 0
    flat_amount_minor: int = 0


@dataclass(frozen=True, slots=True)
class PriceTerms:
    """The economic terms of a price, validated as a whole."""

    currency_code: str
    scheme: PricingScheme
    unit_amount_minor: int | None = None
    tiers: tuple[PriceTier, ...] = ()
    recurring: Recurring | None = None
    tax_behavior: TaxBehavior = TaxBehavior.EXCLUSIVE
    # PACKAGE prices: units per package (`unit_amount_minor` is per package); else 0.
    package_size: int = 0

    def validate(self, prefix: str = "price") -> None:
        """Raise ValidationFailed listing every inconsistency of these terms."""
        Currency.of(self.currency_code)
        problems = Violations()
        flat_like = self.scheme in (
            PricingScheme.FLAT,
            PricingScheme.PER_UNIT,
            PricingScheme.PACKAGE,
        )
        if flat_like:
            if self.unit_amount_minor is None:
                problems.add(
                    f"{prefix}.unit_amount", "required for FLAT, PER_UNIT and PACKAGE prices"
                )
            elif self.unit_amount_minor < 0:
                problems.add(f"{prefix}.unit_amount", "must not be negative")
            else:
                check_amount(self.unit_amount_minor, field=f"{prefix}.unit_amount")
            if self.tiers:
                problems.add(
                    f"{prefix}.tiers", "must be empty for FLAT, PER_UNIT and PACKAGE prices"
                )
        else:
            if self.unit_amount_minor is not None:
                problems.add(f"{prefix}.unit_amount", "must be unset for TIERED and VOLUME prices")
            self._validate_tiers(problems, prefix)
        self._validate_package(problems, prefix)
        if self.recurring is not None:
            limit = MAX_INTERVAL_COUNT[self.recurring.interval_unit]
            if not 1 <= self.recurring.interval_count <= limit:
                problems.add(
                    f"{prefix}.recurring.interval_count",
                    f"must be between 1 and {limit} for {self.recurring.interval_unit.name}",
                )
            if self.recurring.meter_id and self.recurring.usage_type is not UsageType.METERED:
                problems.add(f"{prefix}.recurring.meter_id", "only METERED prices name a meter")
        problems.raise_if_any("the price terms are invalid")

    def _validate_package(self, problems: Violations, prefix: str) -> None:
        if self.scheme is not PricingScheme.PACKAGE:
            if self.package_size:
                problems.add(f"{prefix}.package_size", "only PACKAGE prices have a package size")
        elif not 1 <= self.package_size <= MAX_PACKAGE_SIZE:
            problems.add(
                f"{prefix}.package_size",
                f"must be between 1 and {MAX_PACKAGE_SIZE} units for a PACKAGE price",
            )

    def _validate_tiers(self, problems: Violations, prefix: str) -> None:
        if not self.tiers:
            problems.add(f"{prefix}.tiers", "required for TIERED and VOLUME prices")
            return
        previous = 0
        for index, tier in enumerate(self.tiers):
            path = f"{prefix}.tiers[{index}]"
            last = index == len(self.tiers) - 1
            if tier.up_to is None and not last:
                problems.add(f"{path}.up_to", "only the last tier may be open-ended")
            if tier.up_to is not None and last:
                problems.add(f"{path}.up_to", "the last tier must be open-ended")
            if tier.up_to is not None:
                if tier.up_to <= previous:
                    problems.add(f"{path}.up_to", "must be greater than the previous tier's")
                previous = tier.up_to
            for name, amount in (
                ("unit_amount", tier.unit_amount_minor),
                ("flat_amount", tier.flat_amount_minor),
            ):
                if amount < 0:
                    problems.add(f"{path}.{name}", "must not be negative")
                else:
                    check_amount(amount, field=f"{path}.{name}")

    @property
    def shown_unit_amount_minor(self) -> int | None:
        """The unit price a line may show as "quantity x unit": none for a PACKAGE price,
        whose amount is per package (the line's explanation counts the packages)."""
        return None if self.scheme is PricingScheme.PACKAGE else self.unit_amount_minor

    def amount_for(self, quantity: int) -> Money:
        """What `quantity` units cost for one period, in minor units."""
        if quantity < 0:
            raise ValueError("quantity must not be negative")
        minor = _amount_minor(self, quantity)
        return Money(check_amount(minor, field="amount"), self.currency_code)


def packages(quantity: Fraction | int, package_size: int) -> int:
    """Whole packages of `package_size` units that hold `quantity`: a partial one counts."""
    return math.ceil(Fraction(quantity) / package_size) if quantity > 0 else 0


def _amount_minor(terms: PriceTerms, quantity: int) -> int:
    if terms.scheme is PricingScheme.FLAT:
        return terms.unit_amount_minor or 0
    if terms.scheme is PricingScheme.PER_UNIT:
        return (terms.unit_amount_minor or 0) * quantity
    if terms.scheme is PricingScheme.PACKAGE:
        return (terms.unit_amount_minor or 0) * packages(quantity, terms.package_size)
    if terms.scheme is PricingScheme.VOLUME:
        for tier in terms.tiers:
            if tier.up_to is None or quantity <= tier.up_to:
                return tier.unit_amount_minor * quantity + tier.flat_amount_minor
        raise AssertionError("validated tiers end open-ended")
    total = 0
    lower = 0
    for tier in terms.tiers:
        if quantity <= lower:
            break
        upper = quantity if tier.up_to is None else min(quantity, tier.up_to)
        total += tier.unit_amount_minor * (upper - lower) + tier.flat_amount_minor
        if tier.up_to is None:
            break
        lower = tier.up_to
    return total


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    tenant_id: str
    display_name: str
    description: str
    state: LifecycleState
    metadata: dict[str, str]
    create_time: datetime
    update_time: datetime

    def ensure_active(self) -> None:
        if self.state is LifecycleState.ARCHIVED:
            raise ResourceArchived("product", self.id)


@dataclass(frozen=True, slots=True)
class Price:
    id: str
    tenant_id: str
    product_id: str
    terms: PriceTerms
    nickname: str
    state: LifecycleState
    in_use: bool
    metadata: dict[str, str]
    create_time: datetime
    update_time: datetime

    def ensure_active(self) -> None:
        if self.state is LifecycleState.ARCHIVED:
            raise ResourceArchived("price", self.id)

    def with_terms(self, terms: PriceTerms, *, changed: frozenset[str], now: datetime) -> Price:
        """This price with new economic terms, refused once the price has been used."""
        if changed & ECONOMIC_FIELDS and self.in_use:
            raise PriceInUse(
                f"price {self.id!r} has been used; create a new price instead",
                metadata={"price_id": self.id, "fields": ",".join(sorted(changed))},
            )
        if terms.currency_code != self.terms.currency_code:
            raise CurrencyMismatch("a price's currency never changes")
        terms.validate()
        return replace(self, terms=terms, update_time=now)


@dataclass(frozen=True, slots=True)
class ProductChanges:
    """The fields an update sets; None means leave unchanged."""

    display_name: str | None = None
    description: str | None = None
    metadata: dict[str, str] | None = None
    fields: frozenset[str] = field(default_factory=frozenset)


def apply_product_changes(product: Product, changes: ProductChanges, now: datetime) -> Product:
    """The product after `changes`; archived products are read-only."""
    product.ensure_active()
    if changes.display_name == "":
        raise ValidationFailed.on("product.display_name", "must not be empty")
    return replace(
        product,
        display_name=product.display_name if changes.display_name is None else changes.display_name,
        description=product.description if changes.description is None else changes.description,
        metadata=product.metadata if changes.metadata is None else changes.metadata,
        update_time=now,
    )
