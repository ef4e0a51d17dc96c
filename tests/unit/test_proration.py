"""Per-second proration: exact Fractions, rounded once per line, tying out to the minor unit.

Rounding bound used throughout: every line is `round_minor(unrounded)`, within
1/2 minor unit of its exact value, so n lines sum to within n/2 minor units of
their exact total. A change and its reversal at the same instant net to exactly
zero, because both rules are symmetric and both changes use the same fraction.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accrue.catalog.model import PriceTerms, PriceTier, PricingScheme
from accrue.invoicing.proration import Period, ProrationLine, prorate_change, prorate_partial_period
from accrue.kernel.errors import CurrencyMismatch, ValidationFailed
from accrue.kernel.money import Money
from accrue.kernel.rounding import MAX_ROUNDING_ERROR, RoundingRule, round_minor

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 2, 1, tzinfo=UTC)  # 31 days
MID = START + (END - START) / 2
props = settings(max_examples=200, deadline=None)


def flat(amount: int, currency: str = "USD") -> PriceTerms:
    return PriceTerms(currency_code=currency, scheme=PricingScheme.FLAT, unit_amount_minor=amount)


def per_unit(amount: int, currency: str = "USD") -> PriceTerms:
    return PriceTerms(
        currency_code=currency, scheme=PricingScheme.PER_UNIT, unit_amount_minor=amount
    )


def change(
    old: PriceTerms, new: PriceTerms, at: datetime, qty: tuple[int, int] = (1, 1)
) -> list[ProrationLine]:
    return prorate_change(
        old_terms=old,
        old_quantity=qty[0],
        new_terms=new,
        new_quantity=qty[1],
        period_start=START,
        period_end=END,
        change_at=at,
    )


def test_ten_to_twenty_dollars_at_mid_period() -> None:
    credit, charge = change(flat(1000), flat(2000), MID)
    assert credit.amount == Money(-500, "USD")
    assert charge.amount == Money(1000, "USD")
    assert credit.fraction == charge.fraction == Fraction(1, 2)
    assert (credit.unrounded, charge.unrounded) == (Fraction(-500), Fraction(1000))
    assert (credit.period_start, credit.period_end) == (MID, END)
    assert credit.rounding == "ROUND_HALF_EVEN"
    assert credit.derivation == "-1000 x 1339200/2678400 = -500 -> -500 (ROUND_HALF_EVEN)"


def test_change_at_period_start_gives_full_period_amounts() -> None:
    credit, charge = change(per_unit(1000), per_unit(2000), START, qty=(2, 3))
    assert (credit.amount.amount_minor, charge.amount.amount_minor) == (-2000, 6000)
    assert credit.fraction == 1
    assert (charge.quantity, charge.unit_amount_minor) == (3, 2000)


@pytest.mark.parametrize(
    "at",
    [END, END + timedelta(days=1), START - timedelta(seconds=1), START - timedelta(microseconds=1)],
)
def test_change_outside_the_period_is_refused(at: datetime) -> None:
    # Instants are floored to the second, so 1 microsecond before the start is outside.
    with pytest.raises(ValidationFailed) as caught:
        change(flat(1000), flat(2000), at)
    assert caught.value.field_violations[0].field == "change_at"


def test_naive_times_and_empty_periods_are_refused() -> None:
    with pytest.raises(ValidationFailed):
        change(flat(1000), flat(2000), datetime(2026, 1, 10))
    with pytest.raises(ValidationFailed):
        prorate_change(
            old_terms=flat(1),
            old_quantity=1,
            new_terms=flat(2),
            new_quantity=1,
            period_start=START,
            period_end=START,
            change_at=START,
        )
    with pytest.raises(ValidationFailed):
        change(per_unit(1), per_unit(2), MID, qty=(-1, 1))


def test_sub_second_parts_are_dropped() -> None:
    credit, charge = change(flat(2678400), flat(0), END - timedelta(microseconds=1))
    assert (credit.seconds, credit.period_end, credit.amount.amount_minor) == (1, END, -1)
    assert charge.amount.amount_minor == 0


def test_currencies_must_match() -> None:
    with pytest.raises(CurrencyMismatch):
        change(flat(1000), flat(2000, "EUR"), MID)


def test_other_offsets_are_reported_in_utc() -> None:
    at = MID.astimezone(timezone(timedelta(hours=9)))
    credit, _ = change(flat(1000), flat(2000), at)
    assert credit.period_start == MID
    assert credit.period_start.utcoffset() == timedelta(0)


def test_jpy_rounds_to_whole_yen() -> None:
    # 3-day period, change after 1 day: 2/3 remains; 1000 x 2/3 = 666.67 -> 667.
    period = Period(START, START + timedelta(days=3))
    lines = prorate_change(
        old_terms=flat(1000, "JPY"),
        old_quantity=1,
        new_terms=flat(3000, "JPY"),
        new_quantity=1,
        period_start=period.start,
        period_end=period.end,
        change_at=START + timedelta(days=1),
    )
    assert [line.amount for line in lines] == [Money(-667, "JPY"), Money(2000, "JPY")]


def test_kwd_rounds_to_the_fils() -> None:
    # 10.000 -> 25.500 KWD with 1 day of a 7-day period left: 1428.571 and 3642.857 fils.
    lines = prorate_change(
        old_terms=flat(10_000, "KWD"),
        old_quantity=1,
        new_terms=flat(25_500, "KWD"),
        new_quantity=1,
        period_start=START,
        period_end=START + timedelta(days=7),
        change_at=START + timedelta(days=6),
    )
    assert [line.amount.amount_minor for line in lines] == [-1429, 3643]
    assert lines[1].amount.format() == "3.643 KWD"


@pytest.mark.parametrize(
    ("rule", "expected"), [(RoundingRule.HALF_EVEN, 2), (RoundingRule.HALF_UP, 3)]
)
def test_an_exact_half_follows_the_rule(rule: RoundingRule, expected: int) -> None:
    line = prorate_partial_period(
        flat(5), 1, period=Period(START, END), used_from=MID, used_to=END, rule=rule
    )
    assert line.unrounded == Fraction(5, 2)
    assert line.amount.amount_minor == expected
    assert line.rounding == rule.value


def test_partial_first_period_and_cancellation_credit() -> None:
    period = Period(START, END)
    first = prorate_partial_period(
        per_unit(3100), 2, period=period, used_from=START + timedelta(days=10), used_to=END
    )
    assert first.amount.amount_minor == 4200  # 6200 x 21/31
    refund = prorate_partial_period(
        per_unit(3100),
        2,
        period=period,
        used_from=START + timedelta(days=30),
        used_to=END,
        credit=True,
    )
    assert refund.amount.amount_minor == -200
    # The unit price (not the line's full-period total) and the share in days.
    assert refund.description == (
        "Unused time, 2 \u00d7 31.00 USD, 1 of 31 days, 2026-01-31 \u2013 2026-02-01"
    )
    with pytest.raises(ValidationFailed):
        prorate_partial_period(per_unit(1), 1, period=period, used_from=END, used_to=END)
    with pytest.raises(ValidationFailed):
        prorate_partial_period(
            per_unit(1), 1, period=period, used_from=START, used_to=END + timedelta(days=1)
        )


def test_tiered_prices_prorate_their_period_amount() -> None:
    tiers = PriceTerms(
        currency_code="USD",
        scheme=PricingScheme.TIERED,
        tiers=(
            PriceTier(up_to=5, unit_amount_minor=1000),
            PriceTier(up_to=None, unit_amount_minor=500),
        ),
    )
    line = prorate_partial_period(tiers, 7, period=Period(START, END), used_from=MID, used_to=END)
    assert (line.full_period_amount_minor, line.amount.amount_minor, line.unit_amount_minor) == (
        6000,
        3000,
        None,
    )


# Hypothesis: bounded amounts, quantities and periods (up to ~3 years, to the second).

amounts = st.integers(0, 10**9)
quantities = st.integers(0, 1000)
currencies = st.sampled_from(["USD", "JPY", "KWD"])
rules = st.sampled_from(list(RoundingRule))


@st.composite
def periods(draw: st.DrawFn) -> tuple[datetime, datetime, datetime]:
    length = draw(st.integers(1, 3 * 366 * 86400))
    offset = draw(st.integers(0, length - 1))
    start = START + timedelta(seconds=draw(st.integers(0, 10 * 365 * 86400)))
    return start, start + timedelta(seconds=length), start + timedelta(seconds=offset)


def _lines(
    old: int,
    new: int,
    qty: tuple[int, int],
    span: tuple[datetime, datetime, datetime],
    currency: str,
) -> list[ProrationLine]:
    start, end, at = span
    return prorate_change(
        old_terms=per_unit(old, currency),
        old_quantity=qty[0],
        new_terms=per_unit(new, currency),
        new_quantity=qty[1],
        period_start=start,
        period_end=end,
        change_at=at,
    )


@props
@given(
    old=amounts,
    new=amounts,
    qty=st.tuples(quantities, quantities),
    span=periods(),
    currency=currencies,
)
def test_each_line_is_its_exact_value_rounded_once_and_bounded(
    old: int,
    new: int,
    qty: tuple[int, int],
    span: tuple[datetime, datetime, datetime],
    currency: str,
) -> None:
    lines = _lines(old, new, qty, span, currency)
    exact_total = sum((line.unrounded for line in lines), Fraction(0))
    for line, unit, sign in zip(lines, (old, new), (-1, 1), strict=True):
        assert line.amount.amount_minor == round_minor(line.unrounded, rule=RoundingRule.HALF_EVEN)
        assert line.unrounded == sign * line.full_period_amount_minor * line.fraction
        assert line.fraction == Fraction(line.seconds, line.period_seconds)
        assert 0 < line.fraction <= 1
        assert line.full_period_amount_minor == unit * line.quantity
        assert abs(line.amount.amount_minor) <= line.full_period_amount_minor
        assert abs(line.amount.amount_minor - line.unrounded) <= MAX_ROUNDING_ERROR
        assert sign * line.amount.amount_minor >= 0
        assert line.amount.currency_code == currency
    # Credits plus charges neither create nor lose more than 1/2 minor unit per line.
    rounded_total = sum(line.amount.amount_minor for line in lines)
    assert abs(rounded_total - exact_total) <= len(lines) * MAX_ROUNDING_ERROR


@props
@given(
    old=amounts,
    new=amounts,
    qty=st.tuples(quantities, quantities),
    span=periods(),
    currency=currencies,
)
def test_a_change_and_its_reversal_at_the_same_instant_net_to_zero(
    old: int,
    new: int,
    qty: tuple[int, int],
    span: tuple[datetime, datetime, datetime],
    currency: str,
) -> None:
    forward = _lines(old, new, qty, span, currency)
    back = _lines(new, old, (qty[1], qty[0]), span, currency)
    lines = forward + back
    net = sum(line.amount.amount_minor for line in lines)
    # The general bound is 4 lines x 1/2 = 2 minor units from the exact net of 0;
    # symmetric rounding of the same fractions makes it exactly 0.
    assert sum((line.unrounded for line in lines), Fraction(0)) == 0
    assert abs(net) <= len(lines) * MAX_ROUNDING_ERROR
    assert net == 0


@props
@given(value=st.fractions(min_value=-(10**12), max_value=10**12, max_denominator=10**7), rule=rules)
def test_rounding_is_symmetric_and_within_half_a_minor_unit(
    value: Fraction, rule: RoundingRule
) -> None:
    rounded = round_minor(value, rule=rule)
    assert round_minor(-value, rule=rule) == -rounded
    assert abs(rounded - value) <= MAX_ROUNDING_ERROR
    if rule is RoundingRule.HALF_EVEN:
        assert rounded == round(value)  # Python rounds Fractions half-to-even, exactly


def test_round_minor_refuses_floats() -> None:
    with pytest.raises(TypeError):
        round_minor(2.5)  # type: ignore[arg-type]
    assert round_minor(Fraction(-5, 2), rule=RoundingRule.HALF_UP) == -3
    assert round_minor(Fraction(-5, 2)) == -2
