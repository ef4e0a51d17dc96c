"""How prices turn quantities into amounts, exactly, for every scheme."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accrue.catalog.model import Price, PriceTerms, PriceTier, PricingScheme, Recurring
from accrue.kernel.calendar import IntervalUnit
from accrue.kernel.errors import PriceInUse, ValidationFailed
from accrue.kernel.lifecycle import LifecycleState
from accrue.kernel.money import Money

NOW = datetime(2026, 1, 31, tzinfo=UTC)


def tiered(scheme: PricingScheme, *tiers: PriceTier) -> PriceTerms:
    return PriceTerms(currency_code="USD", scheme=scheme, tiers=tiers)


GRADUATED = tiered(
    PricingScheme.TIERED,
    PriceTier(up_to=5, unit_amount_minor=1000),
    PriceTier(up_to=10, unit_amount_minor=800, flat_amount_minor=500),
    PriceTier(up_to=None, unit_amount_minor=500),
)


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (0, 0),
        (1, 1000),
        (5, 5000),
        (6, 5000 + 800 + 500),
        (10, 5000 + 4000 + 500),
        (12, 5000 + 4500 + 1000),
    ],
)
def test_graduated_tiers_charge_each_band_at_its_own_rate(quantity: int, expected: int) -> None:
    assert GRADUATED.amount_for(quantity) == Money(expected, "USD")


@pytest.mark.parametrize(
    ("quantity", "expected"), [(1, 1000), (5, 5000), (6, 6 * 800 + 500), (12, 12 * 500)]
)
def test_volume_tiers_charge_every_unit_at_the_reached_band(quantity: int, expected: int) -> None:
    volume = tiered(PricingScheme.VOLUME, *GRADUATED.tiers)
    assert volume.amount_for(quantity) == Money(expected, "USD")


def test_flat_price_ignores_quantity_and_per_unit_multiplies() -> None:
    flat = PriceTerms(currency_code="JPY", scheme=PricingScheme.FLAT, unit_amount_minor=980)
    per_unit = PriceTerms(
        currency_code="KWD", scheme=PricingScheme.PER_UNIT, unit_amount_minor=1250
    )
    assert flat.amount_for(7) == Money(980, "JPY")
    assert per_unit.amount_for(7) == Money(8750, "KWD")


tier_lists = st.lists(
    st.tuples(st.integers(1, 50), st.integers(0, 10_000), st.integers(0, 5_000)),
    min_size=1,
    max_size=6,
)


def _tiers(raw: list[tuple[int, int, int]]) -> tuple[PriceTier, ...]:
    bound, tiers = 0, []
    for index, (width, unit, flat) in enumerate(raw):
        bound += width
        last = index == len(raw) - 1
        tiers.append(PriceTier(None if last else bound, unit, flat))
    return tuple(tiers)


@given(raw=tier_lists, quantity=st.integers(0, 400))
def test_graduated_amount_is_the_sum_of_its_bands(
    raw: list[tuple[int, int, int]], quantity: int
) -> None:
    tiers = _tiers(raw)
    terms = tiered(PricingScheme.TIERED, *tiers)
    terms.validate()
    expected, lower = 0, 0
    for tier in tiers:
        upper = quantity if tier.up_to is None else min(quantity, tier.up_to)
        if upper > lower:
            expected += (upper - lower) * tier.unit_amount_minor + tier.flat_amount_minor
        lower = tier.up_to or lower
    assert terms.amount_for(quantity).amount_minor == expected


@given(raw=tier_lists, quantity=st.integers(0, 400))
def test_graduated_amount_never_decreases_with_quantity(
    raw: list[tuple[int, int, int]], quantity: int
) -> None:
    terms = tiered(PricingScheme.TIERED, *_tiers(raw))
    assert terms.amount_for(quantity + 1).amount_minor >= terms.amount_for(quantity).amount_minor


def test_invalid_terms_report_every_problem() -> None:
    terms = tiered(
        PricingScheme.TIERED, PriceTier(up_to=None), PriceTier(up_to=3, unit_amount_minor=-1)
    )
    with pytest.raises(ValidationFailed) as caught:
        terms.validate()
    fields = [v.field for v in caught.value.field_violations]
    assert fields == ["price.tiers[0].up_to", "price.tiers[1].up_to", "price.tiers[1].unit_amount"]


def test_interval_longer_than_three_years_is_refused() -> None:
    terms = PriceTerms(
        currency_code="USD",
        scheme=PricingScheme.FLAT,
        unit_amount_minor=100,
        recurring=Recurring(IntervalUnit.MONTH, 37),
    )
    with pytest.raises(ValidationFailed):
        terms.validate()


def _price(in_use: bool) -> Price:
    terms = PriceTerms(currency_code="USD", scheme=PricingScheme.FLAT, unit_amount_minor=100)
    return Price(
        "price_1", "ten_1", "prod_1", terms, "", LifecycleState.ACTIVE, in_use, {}, NOW, NOW
    )


def test_used_price_refuses_new_terms() -> None:
    new_terms = PriceTerms(currency_code="USD", scheme=PricingScheme.FLAT, unit_amount_minor=200)
    with pytest.raises(PriceInUse):
        _price(in_use=True).with_terms(new_terms, changed=frozenset({"unit_amount"}), now=NOW)
    assert (
        _price(in_use=False)
        .with_terms(new_terms, changed=frozenset({"unit_amount"}), now=NOW)
        .terms
        == new_terms
    )


def package(size: int, per_package: int = 500) -> PriceTerms:
    return PriceTerms(
        currency_code="USD",
        scheme=PricingScheme.PACKAGE,
        unit_amount_minor=per_package,
        package_size=size,
    )


@pytest.mark.parametrize(
    ("quantity", "size", "expected"),
    [(0, 100, 0), (1, 100, 5), (100, 100, 5), (101, 100, 10), (1001, 100, 55), (7, 1, 35)],
)
def test_package_price_counts_whole_packages_rounding_a_partial_one_up(
    quantity: int, size: int, expected: int
) -> None:
    assert package(size, per_package=5).amount_for(quantity) == Money(expected, "USD")


@given(
    micros=st.integers(0, 10**12),
    size=st.integers(1, 10**6),
    per_package=st.integers(0, 10**6),
)
def test_metered_package_amount_is_the_packages_that_hold_the_quantity(
    micros: int, size: int, per_package: int
) -> None:
    from accrue.usage.model import UNIT
    from accrue.usage.pricing import metered_amount

    got = metered_amount(package(size, per_package), micros)
    # The fewest packages whose units reach the quantity (exact integer arithmetic).
    packages = -(-micros // (size * UNIT))
    assert got.packages == packages
    assert got.amount_minor == packages * per_package
    assert (packages - 1) * size * UNIT < micros <= packages * size * UNIT or micros == 0
    if micros % UNIT == 0:
        assert (
            package(size, per_package).amount_for(micros // UNIT).amount_minor == got.amount_minor
        )


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        (package(0), "price.package_size"),
        (package(10**12 + 1), "price.package_size"),
        (
            PriceTerms("USD", PricingScheme.PER_UNIT, unit_amount_minor=1, package_size=5),
            "price.package_size",
        ),
        (PriceTerms("USD", PricingScheme.PACKAGE, package_size=5), "price.unit_amount"),
    ],
)
def test_package_terms_are_validated(terms: PriceTerms, field: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        terms.validate()
    assert [v.field for v in raised.value.field_violations] == [field]
