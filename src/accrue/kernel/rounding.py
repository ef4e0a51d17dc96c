"""The platform's one rounding step from an exact amount to minor units.

Proration and tax produce exact rational amounts (`Fraction`, in minor units of
the line's currency). Each line is rounded exactly once, by `round_minor`, and
invoice totals are sums of rounded lines, so every document ties out to the
minor unit. Because Money is already an integer count of minor units, rounding
to an integer is rounding to the currency's minor unit whatever its exponent
(JPY 0, USD 2, KWD 3).

The platform rule is ROUND_HALF_EVEN ("banker's rounding"): an exact half goes
to the even neighbour, so ties do not drift totals upwards across many lines.
ROUND_HALF_UP (half away from zero, as `decimal.ROUND_HALF_UP`) is available
for jurisdictions that require it.

Both rules are symmetric, `round_minor(-x) == -round_minor(x)`, so a credit is
always the exact negation of the matching charge, and both are within half a
minor unit of the exact value: `|round_minor(x) - x| <= 1/2`. Summing n rounded
lines is therefore within n/2 minor units of the exact sum.

The arithmetic is integer-only on the Fraction's numerator and denominator:
no floats, and no `decimal` context whose precision could silently round first.
"""

from __future__ import annotations

import enum
from fractions import Fraction


class RoundingRule(enum.Enum):
    """How an exact half is resolved; the value names the `decimal` constant."""

    HALF_EVEN = "ROUND_HALF_EVEN"
    HALF_UP = "ROUND_HALF_UP"


DEFAULT_RULE = RoundingRule.HALF_EVEN

# The largest distance between an exact value and its rounded line, in minor units.
MAX_ROUNDING_ERROR = Fraction(1, 2)


def round_minor(value: Fraction | int, *, rule: RoundingRule = DEFAULT_RULE) -> int:
    """`value` (exact, in minor units) rounded to a whole minor unit by `rule`."""
    # bool is an int and float a number; neither belongs on a money path.
    if isinstance(value, bool) or not isinstance(value, Fraction | int):
        raise TypeError(f"round_minor needs a Fraction or int, not {type(value).__name__}")
    exact = Fraction(value)
    floor, remainder = divmod(exact.numerator, exact.denominator)
    twice = 2 * remainder
    if twice < exact.denominator:
        return floor
    if twice > exact.denominator:
        return floor + 1
    if rule is RoundingRule.HALF_EVEN:
        return floor if floor % 2 == 0 else floor + 1
    # HALF_UP is half away from zero: up for positive ties, down for negative.
    return floor + 1 if exact > 0 else floor
