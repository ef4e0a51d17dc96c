"""Billing periods follow the customer's civil calendar, month ends and DST included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accrue.catalog.model import Recurring, UsageType
from accrue.kernel.calendar import (
    BillingAnchor,
    BillingInterval,
    IntervalUnit,
    Period,
    anchor_from,
    boundary,
    days_in_month,
    index_at,
    next_boundary,
    period_boundaries,
    period_containing,
    periods,
    resolve_civil,
)
from accrue.kernel.errors import ValidationFailed

MONTHLY = BillingInterval(IntervalUnit.MONTH)
YEARLY = BillingInterval(IntervalUnit.YEAR)
WEEKLY = BillingInterval(IntervalUnit.WEEK)
DAILY = BillingInterval(IntervalUnit.DAY)
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600
DAY = 86400


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def local(zone: ZoneInfo, *parts: int) -> datetime:
    """The UTC instant of an unambiguous civil time in `zone`."""
    return datetime(*parts, tzinfo=zone).astimezone(UTC)  # type: ignore[misc]


def first(anchor: BillingAnchor, interval: BillingInterval, count: int) -> list[datetime]:
    return [boundary(anchor, interval, k) for k in range(count)]


# Examples: month ends.


def test_an_anchor_on_the_31st_clamps_to_each_month_and_never_drifts() -> None:
    anchor = anchor_from(utc(2026, 1, 31), "UTC")
    assert first(anchor, MONTHLY, 6) == [
        utc(2026, 1, 31),
        utc(2026, 2, 28),
        utc(2026, 3, 31),
        utc(2026, 4, 30),
        utc(2026, 5, 31),
        utc(2026, 6, 30),
    ]
    assert boundary(anchor, MONTHLY, 25) == utc(2028, 2, 29)
    assert boundary(anchor, MONTHLY, 26) == utc(2028, 3, 31)


def test_leap_february_gets_the_29th() -> None:
    anchor = anchor_from(utc(2028, 1, 31, 12), "UTC")
    assert first(anchor, MONTHLY, 3) == [
        utc(2028, 1, 31, 12),
        utc(2028, 2, 29, 12),
        utc(2028, 3, 31, 12),
    ]


def test_a_february_29th_yearly_anchor_falls_back_to_the_28th_in_common_years() -> None:
    anchor = anchor_from(utc(2028, 2, 29, 8, 30), "UTC")
    assert first(anchor, YEARLY, 5) == [
        utc(2028, 2, 29, 8, 30),
        utc(2029, 2, 28, 8, 30),
        utc(2030, 2, 28, 8, 30),
        utc(2031, 2, 28, 8, 30),
        utc(2032, 2, 29, 8, 30),
    ]


def test_counts_multiply_the_interval() -> None:
    anchor = anchor_from(utc(2026, 1, 31), "UTC")
    quarterly = BillingInterval(IntervalUnit.MONTH, 3)
    assert first(anchor, quarterly, 4) == [
        utc(2026, 1, 31),
        utc(2026, 4, 30),
        utc(2026, 7, 31),
        utc(2026, 10, 31),
    ]
    fortnightly = BillingInterval(IntervalUnit.WEEK, 2)
    assert first(anchor, fortnightly, 3) == [utc(2026, 1, 31), utc(2026, 2, 14), utc(2026, 2, 28)]


def test_an_anchor_day_beyond_the_origin_month_is_clamped_there_too() -> None:
    anchor = BillingAnchor(2026, 2, 31, 0, 0, 0, "UTC")
    assert anchor.origin == datetime(2026, 2, 28)
    assert first(anchor, MONTHLY, 3) == [utc(2026, 2, 28), utc(2026, 3, 31), utc(2026, 4, 30)]
    assert first(anchor, WEEKLY, 2) == [utc(2026, 2, 28), utc(2026, 3, 7)]


def test_interval_from_a_recurring_price() -> None:
    recurring = Recurring(IntervalUnit.WEEK, 2, UsageType.METERED)
    assert BillingInterval.from_recurring(recurring) == BillingInterval(IntervalUnit.WEEK, 2)


# Examples: time zones and daylight saving time.


def test_monthly_midnight_in_new_york_stays_midnight_across_both_dst_changes() -> None:
    anchor = anchor_from(local(NEW_YORK, 2026, 1, 30), "America/New_York")
    assert (anchor.day_of_month, anchor.hour, anchor.minute, anchor.time_zone) == (
        30,
        0,
        0,
        "America/New_York",
    )
    bounds = first(anchor, MONTHLY, 13)
    civil = [b.astimezone(NEW_YORK) for b in bounds]
    assert all((c.hour, c.minute, c.second) == (0, 0, 0) for c in civil)
    assert [c.day for c in civil] == [30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30]
    # EST is UTC-5 and EDT UTC-4: the UTC hour moves with DST, the civil hour does not.
    assert [b.hour for b in bounds] == [5, 5, 4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5]
    lengths = [p.seconds for p in periods(anchor, MONTHLY, bounds[0], bounds[-1])]
    assert lengths[1] == 30 * DAY - HOUR  # Feb 28 -> Mar 30 loses the spring-forward hour
    assert lengths[9] == 31 * DAY + HOUR  # Oct 30 -> Nov 30 gains the fall-back hour
    assert lengths[2] == 31 * DAY  # Mar 30 -> Apr 30 has no change: 31 plain days


def test_a_civil_time_in_the_spring_forward_gap_resolves_to_the_end_of_the_gap() -> None:
    anchor = BillingAnchor(2026, 1, 8, 2, 30, 0, "America/New_York")
    bounds = first(anchor, MONTHLY, 5)
    civil = [b.astimezone(NEW_YORK).replace(tzinfo=None) for b in bounds]
    assert civil == [
        datetime(2026, 1, 8, 2, 30),
        datetime(2026, 2, 8, 2, 30),
        datetime(2026, 3, 8, 3, 0),  # 02:30 does not exist on 2026-03-08
        datetime(2026, 4, 8, 2, 30),
        datetime(2026, 5, 8, 2, 30),
    ]
    assert bounds[2] == utc(2026, 3, 8, 7)  # the transition instant itself
    daily = first(BillingAnchor(2026, 3, 7, 2, 30, 0, "America/New_York"), DAILY, 3)
    assert daily == [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7), utc(2026, 3, 9, 6, 30)]


def test_a_civil_time_in_the_fall_back_overlap_resolves_to_its_first_occurrence() -> None:
    anchor = BillingAnchor(2026, 10, 1, 1, 30, 0, "America/New_York")
    assert boundary(anchor, MONTHLY, 1) == utc(2026, 11, 1, 5, 30)  # 01:30 EDT, not EST
    # Built from the second occurrence, the anchor is still "01:30", so boundary 0
    # is the first occurrence, an hour earlier than the instant it came from.
    second = anchor_from(utc(2026, 11, 1, 6, 30), "America/New_York")
    assert (second.hour, second.minute) == (1, 30)
    assert boundary(second, MONTHLY, 0) == utc(2026, 11, 1, 5, 30)


def test_resolution_rules_directly() -> None:
    assert resolve_civil(datetime(2026, 3, 8, 2, 0), NEW_YORK) == utc(2026, 3, 8, 7)
    assert resolve_civil(datetime(2026, 3, 8, 2, 59, 59), NEW_YORK) == utc(2026, 3, 8, 7)
    assert resolve_civil(datetime(2026, 3, 8, 3, 0), NEW_YORK) == utc(2026, 3, 8, 7)
    assert resolve_civil(datetime(2026, 11, 1, 1, 0), NEW_YORK) == utc(2026, 11, 1, 5)
    lord_howe = ZoneInfo("Australia/Lord_Howe")  # DST moves the clock by 30 minutes
    assert resolve_civil(datetime(2026, 10, 4, 2, 10), lord_howe) == utc(2026, 10, 3, 15, 30)


def test_berlin_weekly_boundaries_keep_weekday_and_civil_time_over_dst() -> None:
    anchor = anchor_from(local(BERLIN, 2026, 3, 25, 9, 15), "Europe/Berlin")
    assert anchor.weekday == 2  # Wednesday
    spring = periods(anchor, WEEKLY, boundary(anchor, WEEKLY, 0), boundary(anchor, WEEKLY, 3))
    assert [p.seconds for p in spring] == [7 * DAY - HOUR, 7 * DAY, 7 * DAY]
    autumn = periods(
        anchor, WEEKLY, local(BERLIN, 2026, 10, 21, 9, 15), local(BERLIN, 2026, 11, 4, 9, 15)
    )
    assert [p.seconds for p in autumn] == [7 * DAY + HOUR, 7 * DAY]
    for period in spring + autumn:
        civil = period.start.astimezone(BERLIN)
        assert (civil.weekday(), civil.hour, civil.minute) == (2, 9, 15)


def test_berlin_daily_periods_are_23_and_25_hours_on_the_change_days() -> None:
    anchor = BillingAnchor(2026, 1, 1, 0, 0, 0, "Europe/Berlin")
    spring = periods(anchor, DAILY, local(BERLIN, 2026, 3, 28), local(BERLIN, 2026, 3, 31))
    assert [p.seconds for p in spring] == [DAY, 23 * HOUR, DAY]
    autumn = periods(anchor, DAILY, local(BERLIN, 2026, 10, 24), local(BERLIN, 2026, 10, 27))
    assert [p.seconds for p in autumn] == [DAY, 25 * HOUR, DAY]
    for period in spring + autumn:
        assert period.start.astimezone(BERLIN).hour == 0


# Examples: looking periods up.


def test_periods_clip_partial_periods_at_both_ends() -> None:
    anchor = anchor_from(utc(2026, 1, 31), "UTC")
    cut = periods(anchor, MONTHLY, utc(2026, 2, 10), utc(2026, 4, 5))
    assert cut == [
        Period(utc(2026, 2, 10), utc(2026, 2, 28)),
        Period(utc(2026, 2, 28), utc(2026, 3, 31)),
        Period(utc(2026, 3, 31), utc(2026, 4, 5)),
    ]
    assert periods(anchor, MONTHLY, utc(2026, 2, 10), utc(2026, 2, 10)) == []


def test_period_containing_and_next_boundary() -> None:
    anchor = anchor_from(utc(2026, 1, 31), "UTC")
    assert period_containing(anchor, MONTHLY, utc(2026, 2, 28)) == Period(
        utc(2026, 2, 28), utc(2026, 3, 31)
    )
    assert period_containing(anchor, MONTHLY, utc(2026, 2, 27, 23, 59, 59)) == Period(
        utc(2026, 1, 31), utc(2026, 2, 28)
    )
    assert next_boundary(anchor, MONTHLY, utc(2026, 2, 28)) == utc(2026, 3, 31)
    assert next_boundary(anchor, MONTHLY, utc(2025, 12, 31)) == utc(2026, 1, 31)
    assert boundary(anchor, MONTHLY, -1) == utc(2025, 12, 31)
    assert utc(2026, 3, 1) in period_containing(anchor, MONTHLY, utc(2026, 3, 1))


# Validation.


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "/etc/localtime", "utc "])
def test_a_bad_time_zone_is_a_validation_failure(name: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        anchor_from(utc(2026, 1, 1), name)
    assert raised.value.field_violations[0].field == "time_zone"


@pytest.mark.parametrize("count", [0, -1])
def test_an_interval_count_below_one_is_refused(count: int) -> None:
    with pytest.raises(ValidationFailed) as raised:
        BillingInterval(IntervalUnit.MONTH, count)
    assert raised.value.field_violations[0].field == "interval.count"


def test_anchor_fields_are_range_checked_all_at_once() -> None:
    with pytest.raises(ValidationFailed) as raised:
        BillingAnchor(2026, 13, 32, 24, 0, 0, "UTC")
    fields = {v.field for v in raised.value.field_violations}
    assert fields == {"anchor.month", "anchor.day_of_month", "anchor.hour"}


def test_naive_instants_end_before_start_and_broken_periods_are_refused() -> None:
    anchor = anchor_from(utc(2026, 1, 31), "UTC")
    with pytest.raises(ValueError, match="timezone-aware"):
        anchor_from(datetime(2026, 1, 31), "UTC")
    with pytest.raises(ValidationFailed):
        periods(anchor, MONTHLY, utc(2026, 3, 1), utc(2026, 2, 1))
    with pytest.raises(ValueError, match="whole second"):
        Period(utc(2026, 1, 1), utc(2026, 1, 2).replace(microsecond=5))
    with pytest.raises(ValueError, match="after it starts"):
        Period(utc(2026, 1, 2), utc(2026, 1, 2))


def test_anchor_from_truncates_to_the_second() -> None:
    anchor = anchor_from(utc(2026, 5, 6, 7, 8, 9).replace(microsecond=999_999), "Asia/Kolkata")
    assert anchor == BillingAnchor(2026, 5, 6, 12, 38, 9, "Asia/Kolkata")


# Properties.

ZONES = [
    "UTC",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/New_York",
    "Europe/Berlin",
    "America/Sao_Paulo",  # DST (until 2019) started at midnight
    "Asia/Tehran",
]
UNIT_SECONDS = {
    IntervalUnit.DAY: DAY,
    IntervalUnit.WEEK: 7 * DAY,
    IntervalUnit.MONTH: 31 * DAY,
    IntervalUnit.YEAR: 366 * DAY,
}
props = settings(max_examples=150, deadline=None)

anchors = st.builds(
    BillingAnchor,
    year=st.integers(2000, 2035),
    month=st.integers(1, 12),
    day_of_month=st.integers(1, 31),
    hour=st.integers(0, 23),
    minute=st.sampled_from([0, 15, 30, 45, 7, 59]),
    second=st.integers(0, 59),
    time_zone=st.sampled_from(ZONES),
)
intervals = st.builds(
    BillingInterval, unit=st.sampled_from(list(IntervalUnit)), count=st.integers(1, 12)
)


def expected_civil(anchor: BillingAnchor, interval: BillingInterval, k: int) -> datetime:
    """An independent statement of boundary k in civil time, before DST resolution."""
    steps = k * interval.count
    time = (anchor.hour, anchor.minute, anchor.second)
    if interval.unit in (IntervalUnit.DAY, IntervalUnit.WEEK):
        days = steps * (7 if interval.unit is IntervalUnit.WEEK else 1)
        return anchor.origin + timedelta(days=days)
    months = steps * (12 if interval.unit is IntervalUnit.YEAR else 1)
    year = anchor.year + (anchor.month - 1 + months) // 12
    month = (anchor.month - 1 + months) % 12 + 1
    return datetime(year, month, min(anchor.day_of_month, days_in_month(year, month)), *time)


def assert_is_civil(instant: datetime, civil: datetime, zone: ZoneInfo) -> None:
    """`instant` is `civil` in `zone`: its first occurrence, or the end of its gap."""
    seen = instant.astimezone(zone)
    if seen.replace(tzinfo=None) == civil:
        assert seen.fold == 0
        return
    roundtrip = civil.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
    assert roundtrip.replace(tzinfo=None) != civil, "civil time exists but was moved"
    assert seen.replace(tzinfo=None) > civil
    assert (instant - timedelta(seconds=1)).astimezone(zone).replace(tzinfo=None) < civil


@props
@given(anchor=anchors, interval=intervals, data=st.data())
def test_periods_tile_the_span_exactly(
    anchor: BillingAnchor, interval: BillingInterval, data: st.DataObject
) -> None:
    unit = UNIT_SECONDS[interval.unit] * interval.count
    origin = boundary(anchor, interval, 0)
    start = origin + timedelta(seconds=data.draw(st.integers(-3 * unit, 3 * unit), "offset"))
    end = start + timedelta(seconds=data.draw(st.integers(0, 8 * unit), "length"))
    cut = periods(anchor, interval, start, end)
    if start == end:
        assert cut == []
        return
    assert cut[0].start == start
    assert cut[-1].end == end
    assert sum(p.seconds for p in cut) == (end - start) // timedelta(seconds=1)
    for before, after in pairwise(cut):
        assert before.end == after.start
        assert before.start < before.end < after.end
        assert after.start == boundary(anchor, interval, index_at(anchor, interval, after.start))
    for period in cut:
        assert period.start.tzinfo is UTC and period.end.tzinfo is UTC
        full = period_containing(anchor, interval, period.start)
        assert full.start <= period.start < period.end <= full.end


@props
@given(anchor=anchors, interval=intervals, k0=st.integers(-20, 20), n=st.integers(1, 25))
def test_the_kth_boundary_is_civil_and_equals_iteration(
    anchor: BillingAnchor, interval: BillingInterval, k0: int, n: int
) -> None:
    direct = [boundary(anchor, interval, k) for k in range(k0, k0 + n)]
    iterated = list(islice(period_boundaries(anchor, interval, direct[0]), n))
    assert iterated == direct
    assert all(a < b for a, b in pairwise(direct))
    for k, instant in zip(range(k0, k0 + n), direct, strict=True):
        assert_is_civil(instant, expected_civil(anchor, interval, k), anchor.zone)
        assert index_at(anchor, interval, instant) == k
        assert next_boundary(anchor, interval, instant - timedelta(seconds=1)) == instant


@props
@given(anchor=anchors, count=st.integers(1, 12), k=st.integers(-40, 60))
def test_monthly_boundaries_fall_on_the_anchor_day_or_the_month_end(
    anchor: BillingAnchor, count: int, k: int
) -> None:
    instant = boundary(anchor, BillingInterval(IntervalUnit.MONTH, count), k)
    months = anchor.year * 12 + anchor.month - 1 + k * count
    year, month = months // 12, months % 12 + 1
    day = min(anchor.day_of_month, days_in_month(year, month))
    civil = datetime(year, month, day, anchor.hour, anchor.minute, anchor.second)
    assert_is_civil(instant, civil, anchor.zone)


@props
@given(anchor=anchors, interval=intervals, seconds=st.integers(-(10**9), 10**9))
def test_the_containing_period_holds_the_instant(
    anchor: BillingAnchor, interval: BillingInterval, seconds: int
) -> None:
    instant = boundary(anchor, interval, 0) + timedelta(seconds=seconds, microseconds=seconds % 7)
    period = period_containing(anchor, interval, instant)
    assert instant in period
    assert next_boundary(anchor, interval, instant) == period.end
    assert index_at(anchor, interval, period.end) == index_at(anchor, interval, period.start) + 1
