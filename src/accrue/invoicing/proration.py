"""Per-second proration of a price over part of a billing period.

A line's exact amount is `period amount x seconds / period seconds`, kept as a
Fraction of minor units and rounded once (see `accrue.kernel.rounding`). The
line records that derivation (fraction, unrounded value, rule) so an invoice
explanation can show how every cent came about, not just the result.

Instants are taken at one-second resolution (sub-second parts are dropped),
must be timezone-aware, and are reported in UTC. A billing period is the
half-open interval [start, end).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction

from accrue.catalog.model import PriceTerms
from accrue.invoicing.line_text import partial_period_line
from accrue.kernel.calendar import Period
from accrue.kernel.errors import CurrencyMismatch, ValidationFailed
from accrue.kernel.money import Currency, Money, check_amount
from accrue.kernel.rounding import DEFAULT_RULE, RoundingRule, round_minor

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class ProrationLine:
    """One prorated line and the exact derivation of its amount.

    `amount` is signed (credits are negative) and equals
    `round_minor(unrounded, rule=RoundingRule(rounding))`, where
    `unrounded = sign x full_period_amount_minor x fraction` and
    `fraction = seconds / period_seconds`. `unit_amount_minor` is the price's
    unit amount, None for tiered and volume prices, which have no single one.
    """

    description: str
    amount: Money
    quantity: int
    unit_amount_minor: int | None
    period_start: datetime
    period_end: datetime
    fraction: Fraction
    unrounded: Fraction
    rounding: str
    full_period_amount_minor: int
    seconds: int
    period_seconds: int
    # The whole period the fraction is of (its calendar days name the share in words).
    full_start: datetime | None = None
    full_end: datetime | None = None
    credit: bool = False

    def text(self, *, label: str = "", time_zone: str = "") -> str:
        """The line in words, e.g. `Unused time on Pro, 2 x 15.00 USD, 14 of 30 days, ...`."""
        return partial_period_line(
            label=label,
            credit=self.credit,
            quantity=self.quantity,
            unit_amount_minor=self.unit_amount_minor,
            currency_code=self.amount.currency_code,
            used_from=self.period_start,
            used_to=self.period_end,
            fraction=self.fraction,
            full_start=self.full_start or self.period_start,
            full_end=self.full_end or self.period_end,
            time_zone=time_zone,
        )

    @property
    def derivation(self) -> str:
        """The arithmetic behind `amount`, e.g. `-1000 x 1339200/2678400 = -500 (...)`."""
        sign = "-" if self.unrounded < 0 else ""
        return (
            f"{sign}{self.full_period_amount_minor} x {self.seconds}/{self.period_seconds}"
            f" = {self.unrounded} -> {self.amount.amount_minor} ({self.rounding})"
        )


def prorate_change(
    *,
    old_terms: PriceTerms,
    old_quantity: int,
    new_terms: PriceTerms,
    new_quantity: int,
    period_start: datetime,
    period_end: datetime,
    change_at: datetime,
    rule: RoundingRule = DEFAULT_RULE,
) -> list[ProrationLine]:
    """The credit for the old price's unused time and the charge for the new one's.

    Both lines cover [change_at, period_end); the credit comes first and is
    negative. A change at period_start credits and charges full periods.
    """
    if old_terms.currency_code != new_terms.currency_code:
        raise CurrencyMismatch(
            f"cannot prorate from {old_terms.currency_code} to {new_terms.currency_code}",
            metadata={"left": old_terms.currency_code, "right": new_terms.currency_code},
        )
    _check_quantity(old_quantity, "old_quantity")
    _check_quantity(new_quantity, "new_quantity")
    start, end = _period_seconds(period_start, period_end)
    if not start <= _seconds(change_at, "change_at") < end:
        raise ValidationFailed.on("change_at", "must be within [period_start, period_end)")
    period = Period(_EPOCH + start * _SECOND, _EPOCH + end * _SECOND)
    return [
        prorate_partial_period(
            terms,
            quantity,
            period=period,
            used_from=change_at,
            used_to=period_end,
            credit=credit,
            rule=rule,
        )
        for terms, quantity, credit in (
            (old_terms, old_quantity, True),
            (new_terms, new_quantity, False),
        )
    ]


def prorate_partial_period(
    terms: PriceTerms,
    quantity: int,
    *,
    period: Period,
    used_from: datetime,
    used_to: datetime,
    credit: bool = False,
    rule: RoundingRule = DEFAULT_RULE,
) -> ProrationLine:
    """The share of one period's amount for [used_from, used_to) of `period`.

    For a partial first period or a cancellation billed in arrears this is a
    charge; `credit=True` returns the negative line that refunds prepaid time.
    """
    Currency.of(terms.currency_code)
    _check_quantity(quantity, "quantity")
    start, end = _period_seconds(period.start, period.end)
    begin = _seconds(used_from, "used_from")
    finish = _seconds(used_to, "used_to")
    if not start <= begin < finish <= end:
        raise ValidationFailed.on(
            "used_to", "need period.start <= used_from < used_to <= period.end"
        )
    full = terms.amount_for(quantity)
    fraction = Fraction(finish - begin, end - start)
    unrounded = (-1 if credit else 1) * full.amount_minor * fraction
    amount = round_minor(unrounded, rule=rule)
    first, last = _instant(begin), _instant(finish)
    return ProrationLine(
        description=partial_period_line(
            label="",
            credit=credit,
            quantity=quantity,
            unit_amount_minor=terms.shown_unit_amount_minor,
            currency_code=terms.currency_code,
            used_from=first,
            used_to=last,
            fraction=fraction,
            full_start=_instant(start),
            full_end=_instant(end),
            time_zone="UTC",
        ),
        amount=Money(check_amount(amount, field="amount"), terms.currency_code),
        quantity=quantity,
        unit_amount_minor=terms.shown_unit_amount_minor,
        period_start=first,
        period_end=last,
        fraction=fraction,
        unrounded=unrounded,
        rounding=rule.value,
        full_period_amount_minor=full.amount_minor,
        seconds=finish - begin,
        period_seconds=end - start,
        full_start=_instant(start),
        full_end=_instant(end),
        credit=credit,
    )


def _check_quantity(quantity: int, field: str) -> None:
    if quantity < 0:
        raise ValidationFailed.on(field, "must not be negative")


def _period_seconds(period_start: datetime, period_end: datetime) -> tuple[int, int]:
    start = _seconds(period_start, "period_start")
    end = _seconds(period_end, "period_end")
    if end <= start:
        raise ValidationFailed.on("period_end", "must be at least one second after period_start")
    return start, end


def _seconds(instant: datetime, field: str) -> int:
    """Whole seconds since the epoch; exact timedelta arithmetic, never a float timestamp."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValidationFailed.on(field, "must be timezone-aware")
    return (instant - _EPOCH) // _SECOND


def _instant(seconds: int) -> datetime:
    return _EPOCH + timedelta(seconds=seconds)
