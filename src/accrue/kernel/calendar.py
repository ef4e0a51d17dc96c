"""Billing periods in the customer's civil calendar.

A subscription is anchored to a civil date-time in the customer's IANA time
zone ("the 31st at 00:00 in America/New_York"). Boundary k is always computed
directly as anchor + k intervals in that calendar and only then converted to
UTC, never by adding to the previous boundary, so month ends cannot drift:
an anchor on the 31st gives Jan 31 -> Feb 28 (29) -> Mar 31 -> Apr 30.

Civil times that the zone skips or repeats are resolved by two fixed rules:

- a time inside a spring-forward gap resolves to the first valid instant after
  the gap (02:30 on a New York spring-forward day becomes 03:00 EDT);
- a time inside a fall-back overlap resolves to its first occurrence (fold=0).

Periods may therefore last 23 or 25 wall-clock hours, but no boundary is ever
shifted to another day, skipped or doubled. Everything works in whole seconds
so that period lengths, and proration fractions built on them, are exact.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from accrue.kernel.errors import ValidationFailed, Violations

_ONE_SECOND = timedelta(seconds=1)


def zone_of(name: str) -> ZoneInfo:
    """The IANA zone `name`, or ValidationFailed naming the bad value."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed.on("time_zone", f"{name!r} is not an IANA time zone") from None


def days_in_month(year: int, month: int) -> int:
    if month == 12:
        return 31
    return (date(year, month + 1, 1) - date(year, month, 1)).days


class IntervalUnit(enum.Enum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


class _Recurring(Protocol):
    """Anything recurring on an interval (a catalog price's `Recurring`)."""

    @property
    def interval_unit(self) -> IntervalUnit: ...
    @property
    def interval_count(self) -> int: ...


@dataclass(frozen=True, slots=True)
class BillingInterval:
    """How far apart boundaries are: `count` days, weeks, months or years."""

    unit: IntervalUnit
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValidationFailed.on("interval.count", "must be at least 1")

    @classmethod
    def from_recurring(cls, recurring: _Recurring) -> BillingInterval:
        return cls(recurring.interval_unit, recurring.interval_count)


@dataclass(frozen=True, slots=True)
class BillingAnchor:
    """The civil date-time boundary 0 falls on, in the customer's time zone.

    `day_of_month` may exceed the length of the origin month (an anchor on the
    31st created in February): every month clamps it to its own length, and
    the origin date (used by daily and weekly intervals) is clamped the same way.
    """

    year: int
    month: int
    day_of_month: int
    hour: int
    minute: int
    second: int
    time_zone: str

    def __post_init__(self) -> None:
        problems = Violations()
        for name, low, high in (
            ("year", 1, 9999),
            ("month", 1, 12),
            ("day_of_month", 1, 31),
            ("hour", 0, 23),
            ("minute", 0, 59),
            ("second", 0, 59),
        ):
            if not low <= getattr(self, name) <= high:
                problems.add(f"anchor.{name}", f"must be between {low} and {high}")
        problems.raise_if_any("the billing anchor is invalid")
        zone_of(self.time_zone)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def origin(self) -> datetime:
        """Boundary 0 as a naive civil date-time in the anchor's zone."""
        return self.in_month(self.year, self.month)

    @property
    def weekday(self) -> int:
        """Monday is 0; weekly boundaries fall on this day."""
        return self.origin.weekday()

    def in_month(self, year: int, month: int) -> datetime:
        """The anchor's naive civil date-time in `month`, its day clamped to the month."""
        day = min(self.day_of_month, days_in_month(year, month))
        return datetime(year, month, day, self.hour, self.minute, self.second)  # noqa: DTZ001


def anchor_from(instant: datetime, time_zone: str) -> BillingAnchor:
    """The anchor at `instant` as seen in `time_zone`, truncated to the second."""
    civil = _aware(instant, "instant").astimezone(zone_of(time_zone))
    return BillingAnchor(
        civil.year, civil.month, civil.day, civil.hour, civil.minute, civil.second, time_zone
    )


@dataclass(frozen=True, slots=True)
class Period:
    """The half-open interval [start, end) of UTC instants, in whole seconds."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = _aware(getattr(self, name), name)
            if value.utcoffset() != timedelta(0) or value.microsecond:
                raise ValueError(f"period {name} must be a whole second in UTC")
        if self.end <= self.start:
            raise ValueError("a period must end after it starts")

    @property
    def seconds(self) -> int:
        return (self.end - self.start) // _ONE_SECOND

    def __contains__(self, instant: datetime) -> bool:
        return self.start <= instant < self.end


def boundary(anchor: BillingAnchor, interval: BillingInterval, index: int) -> datetime:
    """Boundary number `index` (0 is the anchor itself; negative is before it)."""
    steps = index * interval.count
    origin = anchor.origin
    if interval.unit is IntervalUnit.MONTH:
        year, month0 = divmod(anchor.year * 12 + anchor.month - 1 + steps, 12)
        civil = anchor.in_month(year, month0 + 1)
    elif interval.unit is IntervalUnit.YEAR:
        civil = anchor.in_month(anchor.year + steps, anchor.month)
    elif interval.unit is IntervalUnit.WEEK:
        civil = origin + timedelta(weeks=steps)
    else:
        civil = origin + timedelta(days=steps)
    return resolve_civil(civil, anchor.zone)


def resolve_civil(civil: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of naive `civil` in `zone`, by the module's gap/overlap rules."""
    # fold=0 is the first occurrence of a repeated time, and for a skipped time
    # it applies the pre-gap offset, landing after the gap.
    after = civil.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _civil_at(after, zone) == civil:
        return after
    # Inside a gap: the transition lies in (before, after]; find the first
    # whole second whose civil time is not before `civil`.
    before = civil.replace(tzinfo=zone, fold=1).astimezone(UTC)
    low, high = int(before.timestamp()), int(after.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if _civil_at(datetime.fromtimestamp(middle, UTC), zone) >= civil:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def index_at(anchor: BillingAnchor, interval: BillingInterval, instant: datetime) -> int:
    """The largest k with boundary(k) <= `instant`."""
    civil = _civil_at(_aware(instant, "instant"), anchor.zone)
    origin = anchor.origin
    if interval.unit is IntervalUnit.MONTH:
        steps = (civil.year - origin.year) * 12 + civil.month - origin.month
    elif interval.unit is IntervalUnit.YEAR:
        steps = civil.year - origin.year
    elif interval.unit is IntervalUnit.WEEK:
        steps = (civil.date() - origin.date()).days // 7
    else:
        steps = (civil.date() - origin.date()).days
    # The civil estimate is off by at most one interval; boundaries are
    # non-decreasing in k, so stepping settles on the exact index.
    index = steps // interval.count
    while boundary(anchor, interval, index) > instant:
        index -= 1
    while boundary(anchor, interval, index + 1) <= instant:
        index += 1
    return index


def period_boundaries(
    anchor: BillingAnchor, interval: BillingInterval, start: datetime
) -> Iterator[datetime]:
    """Every boundary at or after `start`, in increasing order, without end.

    Consecutive boundaries only coincide where a zone skipped a whole civil
    day (Samoa, 2011); such a repeat is yielded once.
    """
    index = index_at(anchor, interval, start)
    previous = boundary(anchor, interval, index)
    if previous >= start:
        yield previous
    while True:
        index += 1
        current = boundary(anchor, interval, index)
        if current > previous:
            yield current
            previous = current


def next_boundary(anchor: BillingAnchor, interval: BillingInterval, after: datetime) -> datetime:
    """The first boundary strictly after `after`."""
    return boundary(anchor, interval, index_at(anchor, interval, after) + 1)


def period_containing(
    anchor: BillingAnchor, interval: BillingInterval, instant: datetime
) -> Period:
    """The full billing period [boundary k, boundary k+1) that holds `instant`."""
    index = index_at(anchor, interval, instant)
    return Period(boundary(anchor, interval, index), boundary(anchor, interval, index + 1))


def periods(
    anchor: BillingAnchor, interval: BillingInterval, start: datetime, end: datetime
) -> list[Period]:
    """[start, end) cut at every boundary inside it; the ends may be partial periods."""
    start, end = _aware(start, "start").astimezone(UTC), _aware(end, "end").astimezone(UTC)
    if end < start:
        raise ValidationFailed.on("end", "must not be before start")
    cuts = [start]
    for cut in period_boundaries(anchor, interval, start):
        if cut >= end:
            break
        if cut > start:
            cuts.append(cut)
    cuts.append(end)
    return [Period(a, b) for a, b in pairwise(cuts) if b > a]


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return value


def _civil_at(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None, fold=0)


def utc_text(instant: datetime) -> str:
    """`2026-04-01T05:00:00Z`: an instant as the API writes it (RFC 3339, UTC, `Z`)."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
