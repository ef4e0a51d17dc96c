"""Money: exact integer minor units, per-currency exponents, no mixing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accrue.kernel.errors import AmountOutOfRange, CurrencyMismatch, CurrencyUnsupported
from accrue.kernel.money import MAX_AMOUNT_MINOR, Currency, Money, check_amount

amounts = st.integers(-MAX_AMOUNT_MINOR, MAX_AMOUNT_MINOR)


@pytest.mark.parametrize(
    ("code", "exponent"), [("JPY", 0), ("USD", 2), ("EUR", 2), ("KWD", 3), ("CLF", 4)]
)
def test_currency_exponents_come_from_the_iso_table(code: str, exponent: int) -> None:
    assert Currency.of(code).exponent == exponent


@pytest.mark.parametrize("code", ["usd", "XXX1", "", "ABC"])
def test_unknown_currency_is_refused(code: str) -> None:
    with pytest.raises(CurrencyUnsupported):
        Currency.of(code)


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(1234, "USD"), "12.34 USD"),
        (Money(-5, "USD"), "-0.05 USD"),
        (Money(1234, "JPY"), "1234 JPY"),
        (Money(1234, "KWD"), "1.234 KWD"),
    ],
)
def test_format_uses_the_currency_exponent(money: Money, text: str) -> None:
    assert money.format() == text


def test_adding_different_currencies_is_refused() -> None:
    with pytest.raises(CurrencyMismatch):
        _ = Money(1, "USD") + Money(1, "EUR")


@given(a=amounts, b=amounts, c=amounts)
def test_addition_is_exact_associative_and_reversible(a: int, b: int, c: int) -> None:
    x, y, z = Money(a, "USD"), Money(b, "USD"), Money(c, "USD")
    assert (x + y) + z == x + (y + z)
    assert (x + y) - y == x
    assert x + (-x) == Money.zero("USD")


@given(amount=st.integers(-(10**20), 10**20))
def test_amounts_beyond_the_platform_bound_are_refused(amount: int) -> None:
    if abs(amount) > MAX_AMOUNT_MINOR:
        with pytest.raises(AmountOutOfRange):
            check_amount(amount, field="x")
    else:
        assert check_amount(amount, field="x") == amount
