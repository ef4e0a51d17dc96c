"""Tax: the rate table behind the provider interface, and exact per-line tax.

Invoice totals are sums of rounded lines. Each line tax is within 1/2 minor
unit of its exact value, so n line taxes are within n/2 of the exact tax on the
summed amounts, and within (n + 1)/2 -- as an integer, (n + 1) // 2 -- of that
tax rounded once. The brief's n/2 against the once-rounded sum is not a true
bound: three 5 JPY lines at 10% tax 0 each, but 15 JPY taxes 2.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accrue.catalog.model import TaxBehavior
from accrue.customers.model import TaxLocation
from accrue.invoicing.tax import DEFAULT_TABLE, RateTableTaxProvider, TaxProvider, TaxRate, tax_line
from accrue.kernel.errors import AmountOutOfRange, CurrencyUnsupported, ValidationFailed
from accrue.kernel.money import MAX_AMOUNT_MINOR, Money
from accrue.kernel.rounding import MAX_ROUNDING_ERROR, RoundingRule, round_minor

VAT_DE = TaxRate("DE", Fraction(19, 100), "VAT")
CT_JP = TaxRate("JP", Fraction(10, 100), "Consumption tax")
EXCLUSIVE, INCLUSIVE = TaxBehavior.EXCLUSIVE, TaxBehavior.INCLUSIVE
props = settings(max_examples=300, deadline=None)


def default_provider() -> TaxProvider:
    return RateTableTaxProvider(DEFAULT_TABLE)


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        (TaxLocation("DE", "BY", "80331"), [("DE", Fraction(19, 100))]),
        (TaxLocation("fr"), [("FR", Fraction(20, 100))]),
        (TaxLocation("US", "CA", "94105"), [("US-CA", Fraction(725, 10000))]),
        (TaxLocation("US", "ny"), [("US-NY", Fraction(4, 100))]),
        (TaxLocation("US", "TX"), []),
        (TaxLocation("US"), []),
        (TaxLocation("KW"), [("KW", Fraction(0))]),
        (TaxLocation("ZZ"), []),
    ],
)
def test_rate_table_looks_up_region_then_country(
    location: TaxLocation, expected: list[tuple[str, Fraction]]
) -> None:
    rates = default_provider().rates_for(location)
    assert [(rate.jurisdiction, rate.rate) for rate in rates] == expected


def test_a_regional_entry_replaces_the_country_and_may_list_several_rates() -> None:
    gst = TaxRate("CA", Fraction(5, 100), "GST")
    pst = TaxRate("CA-BC", Fraction(7, 100), "PST")
    table = {"CA": [gst], "CA-BC": [gst, pst]}
    provider = RateTableTaxProvider(table)
    assert provider.rates_for(TaxLocation("CA", "BC")) == [gst, pst]
    assert provider.rates_for(TaxLocation("CA", "ON")) == [gst]
    provider.rates_for(TaxLocation("CA")).clear()
    table["CA"].clear()
    assert provider.rates_for(TaxLocation("CA")) == [gst]  # the provider keeps its own copy


@pytest.mark.parametrize("rate", [Fraction(-1, 100), Fraction(101, 100), 0.19])
def test_rates_must_be_exact_and_between_zero_and_one(rate: Fraction) -> None:
    with pytest.raises(ValidationFailed):
        TaxRate("DE", rate, "VAT")


@pytest.mark.parametrize(
    ("amount", "rate", "behavior", "net", "tax", "gross"),
    [
        (1000, VAT_DE, EXCLUSIVE, 1000, 190, 1190),
        (1190, VAT_DE, INCLUSIVE, 1000, 190, 1190),
        (1000, TaxRate("FR", Fraction(1, 5), "VAT"), INCLUSIVE, 833, 167, 1000),  # 166.67
        (999, TaxRate("US-CA", Fraction(725, 10000), "Sales tax"), EXCLUSIVE, 999, 72, 1071),
        (-1000, VAT_DE, EXCLUSIVE, -1000, -190, -1190),
        (1234, TaxRate("KW", Fraction(0), "None"), EXCLUSIVE, 1234, 0, 1234),
    ],
)
def test_examples(
    amount: int, rate: TaxRate, behavior: TaxBehavior, net: int, tax: int, gross: int
) -> None:
    result = tax_line(amount, rate, behavior=behavior, currency_code="USD")
    assert (result.net_minor, result.tax_minor, result.gross_minor) == (net, tax, gross)
    assert result.rounding == "ROUND_HALF_EVEN"
    assert result.tax == Money(tax, "USD")


@pytest.mark.parametrize(
    ("rule", "expected"), [(RoundingRule.HALF_EVEN, 0), (RoundingRule.HALF_UP, 1)]
)
def test_an_exact_half_follows_the_rule(rule: RoundingRule, expected: int) -> None:
    result = tax_line(5, CT_JP, behavior=EXCLUSIVE, currency_code="JPY", rule=rule)
    assert result.unrounded_tax == Fraction(1, 2)
    assert result.tax_minor == expected


def test_kwd_tax_is_rounded_to_the_fils() -> None:
    # 12.345 KWD at 19% = 2.34555 KWD -> 2.346.
    result = tax_line(12_345, VAT_DE, behavior=EXCLUSIVE, currency_code="KWD")
    assert (result.tax_minor, result.gross_minor) == (2346, 14_691)
    assert result.tax.format() == "2.346 KWD"


def test_per_line_taxes_can_differ_from_the_tax_on_the_sum_by_more_than_n_over_2() -> None:
    lines = [tax_line(5, CT_JP, behavior=EXCLUSIVE, currency_code="JPY") for _ in range(3)]
    on_sum = tax_line(15, CT_JP, behavior=EXCLUSIVE, currency_code="JPY")
    assert [line.tax_minor for line in lines] == [0, 0, 0]
    assert on_sum.tax_minor == 2
    assert abs(sum(line.tax_minor for line in lines) - on_sum.tax_minor) == (3 + 1) // 2


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(CurrencyUnsupported):
        tax_line(100, VAT_DE, behavior=EXCLUSIVE, currency_code="XXX")
    with pytest.raises(ValidationFailed):
        tax_line(100.0, VAT_DE, behavior=EXCLUSIVE, currency_code="EUR")  # type: ignore[arg-type]
    with pytest.raises(AmountOutOfRange):
        tax_line(MAX_AMOUNT_MINOR + 1, VAT_DE, behavior=INCLUSIVE, currency_code="EUR")
    with pytest.raises(AmountOutOfRange):
        tax_line(MAX_AMOUNT_MINOR, VAT_DE, behavior=EXCLUSIVE, currency_code="EUR")


amounts = st.integers(-(10**12), 10**12)
rates = st.fractions(min_value=0, max_value=1, max_denominator=100_000).map(
    lambda value: TaxRate("XX", value, "test")
)
behaviors = st.sampled_from(list(TaxBehavior))
rules = st.sampled_from(list(RoundingRule))


@props
@given(amount=amounts, rate=rates, rule=rules)
def test_inclusive_net_plus_tax_is_exactly_the_amount(
    amount: int, rate: TaxRate, rule: RoundingRule
) -> None:
    result = tax_line(amount, rate, behavior=INCLUSIVE, currency_code="EUR", rule=rule)
    assert result.net_minor + result.tax_minor == result.gross_minor == amount
    assert result.unrounded_tax == amount * rate.rate / (1 + rate.rate)
    assert result.tax_minor == round_minor(result.unrounded_tax, rule=rule)


@props
@given(amount=amounts, rate=rates, rule=rules)
def test_exclusive_gross_is_amount_plus_tax(amount: int, rate: TaxRate, rule: RoundingRule) -> None:
    result = tax_line(amount, rate, behavior=EXCLUSIVE, currency_code="EUR", rule=rule)
    assert result.net_minor == amount
    assert result.gross_minor == amount + result.tax_minor
    assert result.unrounded_tax == amount * rate.rate
    assert abs(result.tax_minor - result.unrounded_tax) <= MAX_ROUNDING_ERROR


@props
@given(a=amounts, b=amounts, rate=rates, behavior=behaviors, rule=rules)
def test_tax_is_monotone_in_amount_and_symmetric_for_credits(
    a: int, b: int, rate: TaxRate, behavior: TaxBehavior, rule: RoundingRule
) -> None:
    low, high = sorted((a, b))
    lower = tax_line(low, rate, behavior=behavior, currency_code="EUR", rule=rule)
    higher = tax_line(high, rate, behavior=behavior, currency_code="EUR", rule=rule)
    assert lower.tax_minor <= higher.tax_minor
    assert lower.net_minor <= higher.net_minor
    credit = tax_line(-low, rate, behavior=behavior, currency_code="EUR", rule=rule)
    assert credit.tax_minor == -lower.tax_minor


@props
@given(
    line_amounts=st.lists(st.integers(0, 10**9), min_size=1, max_size=30),
    rate=rates,
    behavior=behaviors,
)
def test_sum_of_line_taxes_stays_within_the_documented_bound(
    line_amounts: list[int], rate: TaxRate, behavior: TaxBehavior
) -> None:
    lines = [tax_line(a, rate, behavior=behavior, currency_code="USD") for a in line_amounts]
    on_sum = tax_line(sum(line_amounts), rate, behavior=behavior, currency_code="USD")
    n = len(lines)
    total = sum(line.tax_minor for line in lines)
    assert sum((line.unrounded_tax for line in lines), Fraction(0)) == on_sum.unrounded_tax
    assert abs(total - on_sum.unrounded_tax) <= n * MAX_ROUNDING_ERROR
    assert abs(total - on_sum.tax_minor) <= (n + 1) // 2
    # Lines always tie out: the invoice's net + tax equals its gross.
    assert sum(line.net_minor + line.tax_minor for line in lines) == sum(
        line.gross_minor for line in lines
    )
