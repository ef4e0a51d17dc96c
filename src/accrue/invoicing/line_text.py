"""What an invoice line says, in words a customer reads.

The line's amount and its exact derivation (seconds, fraction, unrounded
value, rounding rule) are kept beside the text; the text is for people:
the product name (and the price's nickname), quantity and *unit* price with
the currency's own decimals, the period as civil dates in the customer's time
zone (ISO dates, locale-neutral, no UTC instants), and for a partial period
the share of it in days ("14 of 30 days").

Every path that bills (subscription creation, renewals, changes, the bill
run, previews) builds its lines through `accrue.subscriptions.charges` and
`LineCharge.from_proration`, which call these functions, so they all read the
same.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from accrue.kernel.money import Money

DASH = "\u2013"  # en dash between the two ends of a period
TIMES = "\u00d7"


def item_label(product_name: str, nickname: str) -> str:
    """`Pro (Monthly)`: the product's display name and the price's nickname, if any."""
    if product_name and nickname:
        return f"{product_name} ({nickname})"
    return product_name or nickname


def civil_date(instant: datetime, time_zone: str) -> str:
    """`2027-04-01` in `time_zone`; with `HH:MM` when the instant is not a midnight there."""
    local = instant.astimezone(ZoneInfo(time_zone or "UTC"))
    if (local.hour, local.minute, local.second) == (0, 0, 0):
        return f"{local:%Y-%m-%d}"
    return f"{local:%Y-%m-%d %H:%M}"


def calendar_date(instant: datetime, time_zone: str) -> str:
    """`2027-04-01`: the day `instant` falls on in `time_zone`."""
    return f"{instant.astimezone(ZoneInfo(time_zone or 'UTC')):%Y-%m-%d}"


def period_text(start: datetime, end: datetime, time_zone: str) -> str:
    return f"{civil_date(start, time_zone)} {DASH} {civil_date(end, time_zone)}"


def quantity_text(quantity: int, unit_amount_minor: int | None, currency_code: str) -> str:
    """`2 x 15.00 USD` (with a multiplication sign), or `quantity 3`.

    Tiered and volume prices have no single unit price to show.
    """
    if unit_amount_minor is None:
        return f"quantity {quantity}"
    return f"{quantity} {TIMES} {Money(unit_amount_minor, currency_code).format()}"


def days_in(start: datetime, end: datetime, time_zone: str) -> int:
    """Calendar days of [start, end) in `time_zone` (DST days count as one day)."""
    zone = ZoneInfo(time_zone or "UTC")
    return (end.astimezone(zone).date() - start.astimezone(zone).date()).days


def share_text(days: Fraction, period_days: int) -> str:
    """`14 of 30 days`: `days` of a period of `period_days`, to a tenth of a day."""
    exact = Decimal(days.numerator) / Decimal(days.denominator)
    shown = str(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)).removesuffix(".0")
    unit = "day" if period_days == 1 else "days"
    return f"{shown} of {period_days} {unit}"


def whole_period_line(
    *,
    label: str,
    quantity: int,
    unit_amount_minor: int | None,
    currency_code: str,
    start: datetime,
    end: datetime,
    time_zone: str,
) -> str:
    """`Pro (Monthly), 2 x 15.00 USD, 2027-04-01 - 2027-05-01`."""
    parts = [label] if label else []
    parts.append(quantity_text(quantity, unit_amount_minor, currency_code))
    parts.append(period_text(start, end, time_zone))
    return ", ".join(parts)


def partial_period_line(
    *,
    label: str,
    credit: bool,
    quantity: int,
    unit_amount_minor: int | None,
    currency_code: str,
    used_from: datetime,
    used_to: datetime,
    fraction: Fraction,
    full_start: datetime,
    full_end: datetime,
    time_zone: str,
) -> str:
    """`Unused time on Pro, 2 x 15.00 USD, 14 of 30 days, 2027-04-17 - 2027-05-01`.

    A credit gives back prepaid time ("Unused time on"); a charge bills part
    of a period ("Remaining time on"). The days are the period's calendar days
    in the customer's time zone; the exact per-second fraction is the line's
    derivation.
    """
    what = "Unused time" if credit else "Remaining time"
    period_days = days_in(full_start, full_end, time_zone)
    head = f"{what} on {label}" if label else what
    return ", ".join(
        (
            head,
            quantity_text(quantity, unit_amount_minor, currency_code),
            share_text(
                _used_days(
                    fraction,
                    used_from=used_from,
                    used_to=used_to,
                    full_start=full_start,
                    period_days=period_days,
                    zone=time_zone,
                ),
                period_days,
            ),
            period_text(used_from, used_to, time_zone),
        )
    )


def _used_days(
    fraction: Fraction,
    *,
    used_from: datetime,
    used_to: datetime,
    full_start: datetime,
    period_days: int,
    zone: str,
) -> Fraction:
    """Whole calendar days when the used part starts and ends at the period's time of day.

    A DST change makes a day 23 or 25 hours, so the per-second fraction of a
    month is not a whole number of its days; the customer counts calendar days.
    """
    tz = ZoneInfo(zone or "UTC")
    start, begin, end = (t.astimezone(tz) for t in (full_start, used_from, used_to))
    if begin.time() == start.time() and end.time() == start.time():
        return Fraction(days_in(used_from, used_to, zone))
    return fraction * period_days


def one_off_line(
    *, label: str, quantity: int, unit_amount_minor: int | None, currency_code: str
) -> str:
    """`Setup fee, 1 x 50.00 USD` for a price billed once."""
    parts = [label] if label else []
    parts.append(quantity_text(quantity, unit_amount_minor, currency_code))
    return ", ".join(parts)
