"""Tax rates behind a provider interface, and the exact per-line tax computation.

Invoices ask a `TaxProvider` which rates apply to a customer's location; the
built-in `RateTableTaxProvider` answers from a static table, and an external
tax service can stand in behind the same Protocol.

Tax is computed per line from exact Fractions and rounded once per line by the
platform rule (ROUND_HALF_EVEN, see `accrue.kernel.rounding`); an invoice's tax
total is the sum of its rounded line taxes, never a tax recomputed on the sum.
So each line tax is within 1/2 minor unit of its exact value, a total of n line
taxes is within n/2 of the exact tax on the summed amounts, and within
(n + 1)/2 (as an integer: floor((n + 1) / 2)) of that exact tax rounded once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType
from typing import Protocol

from accrue.catalog.model import TaxBehavior
from accrue.customers.model import TaxLocation
from accrue.kernel.errors import ValidationFailed
from accrue.kernel.money import Currency, Money, check_amount
from accrue.kernel.rounding import DEFAULT_RULE, RoundingRule, round_minor


@dataclass(frozen=True, slots=True)
class TaxRate:
    """A rate for a jurisdiction ("DE", "US-CA"); `rate` is exact, 19% is Fraction(19, 100)."""

    jurisdiction: str
    rate: Fraction
    name: str

    def __post_init__(self) -> None:
        # A float rate would carry binary error into every amount; refuse it here.
        if not isinstance(self.rate, Fraction):
            raise ValidationFailed.on("tax_rate.rate", "must be an exact Fraction")
        if not 0 <= self.rate <= 1:
            raise ValidationFailed.on("tax_rate.rate", "must be between 0 and 1")


class TaxProvider(Protocol):
    def rates_for(self, location: TaxLocation) -> list[TaxRate]:
        """The rates that apply at `location`; empty when none do or it is unknown."""
        ...


class RateTableTaxProvider:
    """Looks rates up by "COUNTRY-REGION", then by "COUNTRY" (ISO 3166 codes).

    A regional entry replaces the country's, so it lists every rate that applies
    there (national and regional alike); the first key found wins.
    """

    def __init__(self, table: Mapping[str, Sequence[TaxRate]]) -> None:
        self._table = {key.upper(): tuple(rates) for key, rates in table.items()}

    def rates_for(self, location: TaxLocation) -> list[TaxRate]:
        country = location.country_code.strip().upper()
        region = location.region_code.strip().upper()
        keys = [f"{country}-{region}", country] if region else [country]
        for key in keys:
            rates = self._table.get(key)
            if rates is not None:
                return list(rates)
        return []


def _rate(jurisdiction: str, percent: Fraction, name: str) -> tuple[TaxRate]:
    return (TaxRate(jurisdiction, percent / 100, name),)


# Illustrative rates only, so that a fresh deployment computes plausible tax;
# they are not tax advice and not kept current. Real deployments configure
# their own table or plug in a tax service.
DEFAULT_TABLE: Mapping[str, tuple[TaxRate, ...]] = MappingProxyType(
    {
        "DE": _rate("DE", Fraction(19), "VAT"),
        "FR": _rate("FR", Fraction(20), "VAT"),
        "GB": _rate("GB", Fraction(20), "VAT"),
        "US-CA": _rate("US-CA", Fraction(725, 100), "Sales tax"),
        "US-NY": _rate("US-NY", Fraction(4), "Sales tax"),
        "JP": _rate("JP", Fraction(10), "Consumption tax"),
        "KW": _rate("KW", Fraction(0), "No sales tax"),
    }
)


@dataclass(frozen=True, slots=True)
class TaxComputation:
    """One line's tax and its derivation; `net_minor + tax_minor == gross_minor` always."""

    currency_code: str
    net_minor: int
    tax_minor: int
    gross_minor: int
    unrounded_tax: Fraction
    rate: TaxRate
    behavior: TaxBehavior
    rounding: str

    @property
    def tax(self) -> Money:
        return Money(self.tax_minor, self.currency_code)


def tax_line(
    amount_minor: int,
    rate: TaxRate,
    *,
    behavior: TaxBehavior,
    currency_code: str,
    rule: RoundingRule = DEFAULT_RULE,
) -> TaxComputation:
    """The tax on one line of `amount_minor`, rounded once by `rule`.

    EXCLUSIVE: the amount is net; tax = round(amount x rate), gross = amount + tax.
    INCLUSIVE: the amount is gross; tax = round(amount x rate / (1 + rate)) and
    net = amount - tax, so net + tax equals the amount to the minor unit.
    Negative amounts (credits) get exactly the negated tax of the positive amount.
    """
    Currency.of(currency_code)
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise ValidationFailed.on("amount", "must be an integer number of minor units")
    check_amount(amount_minor, field="amount")
    if behavior is TaxBehavior.EXCLUSIVE:
        unrounded = amount_minor * rate.rate
    else:
        unrounded = amount_minor * rate.rate / (1 + rate.rate)
    tax = round_minor(unrounded, rule=rule)
    if behavior is TaxBehavior.EXCLUSIVE:
        net, gross = amount_minor, check_amount(amount_minor + tax, field="gross")
    else:
        net, gross = amount_minor - tax, amount_minor
    return TaxComputation(
        currency_code=currency_code,
        net_minor=net,
        tax_minor=tax,
        gross_minor=gross,
        unrounded_tax=unrounded,
        rate=rate,
        behavior=behavior,
        rounding=rule.value,
    )


def combined_rate(rates: Sequence[TaxRate]) -> TaxRate | None:
    """One rate for a line: the sum of every rate that applies, or None if none does.

    Summing first and rounding once keeps a line's tax a single rounded
    amount; the jurisdictions and names are joined so the line still says
    what was applied.
    """
    if not rates:
        return None
    if len(rates) == 1:
        return rates[0]
    return TaxRate(
        "+".join(r.jurisdiction for r in rates),
        sum((r.rate for r in rates), Fraction(0)),
        " + ".join(r.name for r in rates),
    )
