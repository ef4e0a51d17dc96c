"""Pure usage rules: meters, how an event reads, quantities, aggregates and errors.

Quantities are exact decimals with at most 6 fractional digits, stored as
integers of millionths ("micros") in BIGINT columns: exact on SQLite and
PostgreSQL alike (SQLite's NUMERIC is a float), summed by the database without
rounding, and turned into `Decimal` only at the edges (the API, the pricing).
"""

from __future__ import annotations

import enum
import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from accrue.kernel.errors import AccrueError, ValidationFailed, Violations

SCALE = 6
UNIT: int = 1_000_000  # 10**SCALE
MAX_MICROS = 2**62  # far from BIGINT's limit, so sums of a batch cannot overflow it
_SHORT_INTEGER = 12  # digits of a whole quantity whose micros are surely below MAX_MICROS
MAX_BATCH = 1000
MAX_DIMENSIONS = 3
DEFAULT_GRACE = timedelta(days=1)
MAX_GRACE = timedelta(days=30)
# How far ahead of the customer's "now" an event's timestamp may be (clock skew).
FUTURE_SKEW = timedelta(minutes=5)
BUCKET = timedelta(hours=1)


class UsageEventConflict(AccrueError):
    reason = "USAGE_EVENT_CONFLICT"


class UsageEventTooLate(AccrueError):
    reason = "USAGE_EVENT_TOO_LATE"


class UsageEventInFuture(AccrueError):
    reason = "USAGE_EVENT_IN_FUTURE"


class UsageValueInvalid(AccrueError):
    reason = "USAGE_VALUE_INVALID"


class UsageEventCanceled(AccrueError):
    reason = "USAGE_EVENT_CANCELED"


class Aggregation(enum.Enum):
    SUM = "sum"
    COUNT = "count"
    MAX = "max"
    UNIQUE_COUNT = "unique_count"
    LAST = "last"


@dataclass(frozen=True, slots=True)
class Meter:
    tenant_id: str
    id: str
    display_name: str
    aggregation: Aggregation
    value_property: str
    dimension_keys: tuple[str, ...]
    grace: timedelta
    allow_negative: bool
    archived: bool
    create_time: datetime
    update_time: datetime

    def validate(self) -> None:
        problems = Violations()
        if not self.display_name:
            problems.add("meter.display_name", "must not be empty")
        if self.aggregation is not Aggregation.COUNT and not self.value_property:
            problems.add("meter.value_property", f"required for {self.aggregation.name}")
        if len(self.dimension_keys) > MAX_DIMENSIONS:
            problems.add("meter.dimension_keys", f"at most {MAX_DIMENSIONS}")
        if len(set(self.dimension_keys)) != len(self.dimension_keys):
            problems.add("meter.dimension_keys", "must be distinct")
        if any(not key for key in self.dimension_keys):
            problems.add("meter.dimension_keys", "must not be empty strings")
        if self.value_property and self.value_property in self.dimension_keys:
            problems.add("meter.dimension_keys", "must not name the value property")
        if self.allow_negative and self.aggregation is not Aggregation.SUM:
            problems.add("meter.allow_negative", "only SUM meters may allow negative values")
        if not timedelta(0) <= self.grace <= MAX_GRACE:
            problems.add("meter.grace_seconds", "must be between 0 and 30 days")
        problems.raise_if_any("the meter is invalid")

    def read(self, properties: Mapping[str, str]) -> Reading:
        """What an event with `properties` contributes; UsageValueInvalid when it cannot."""
        group = group_key(self.dimension_keys, properties)
        if self.aggregation is Aggregation.COUNT:
            return Reading(value_micros=UNIT, unique_value="", group_key=group)
        raw = properties.get(self.value_property)
        if raw is None:
            raise _invalid(self.value_property, "is missing")
        if self.aggregation is Aggregation.UNIQUE_COUNT:
            if not raw or len(raw) > 200:
                raise _invalid(self.value_property, "must be 1 to 200 characters")
            return Reading(value_micros=UNIT, unique_value=raw, group_key=group)
        micros = parse_quantity(raw, prop=self.value_property)
        if micros < 0 and not self.allow_negative:
            raise _invalid(self.value_property, "must not be negative for this meter")
        return Reading(value_micros=micros, unique_value="", group_key=group)


def _invalid(prop: str, description: str) -> UsageValueInvalid:
    return UsageValueInvalid(f"property {prop!r} {description}", metadata={"property": prop})


@dataclass(frozen=True, slots=True)
class Reading:
    value_micros: int
    unique_value: str
    group_key: str


def parse_quantity(text: str, *, prop: str = "value") -> int:
    """A decimal string as micros; at most 6 fractional digits, never a float."""
    if text.isdigit() and text.isascii() and len(text) <= _SHORT_INTEGER:
        return int(text) * UNIT  # the common case, exactly what Decimal would give
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise _invalid(prop, f"is not a decimal: {text[:40]!r}") from None
    if not value.is_finite():
        raise _invalid(prop, "must be finite")
    scaled = value.scaleb(SCALE)
    if scaled != scaled.to_integral_value():
        raise _invalid(prop, f"has more than {SCALE} fractional digits")
    micros = int(scaled)
    if abs(micros) > MAX_MICROS:
        raise _invalid(prop, "is too large")
    return micros


def to_decimal(micros: int) -> Decimal:
    return Decimal(micros).scaleb(-SCALE).normalize() if micros else Decimal(0)


def format_quantity(micros: int) -> str:
    """Micros as the shortest exact decimal string ("12.5", "3")."""
    return format(to_decimal(micros), "f")


# One compact encoder for the hot paths: json.dumps with options builds a new
# encoder on every call.
_COMPACT = json.JSONEncoder(separators=(",", ":"))


def group_key(keys: Sequence[str], properties: Mapping[str, str]) -> str:
    """The dimension values as a canonical string ("" without dimensions)."""
    if not keys:
        return ""
    return _encoded_group(tuple([properties.get(key, "") for key in keys]))


@functools.lru_cache(maxsize=4096)
def _encoded_group(values: tuple[str, ...]) -> str:
    """Dimension values repeat across a batch (a model, a region): each set is encoded once."""
    return _COMPACT.encode(values)


def group_dimensions(keys: Sequence[str], key: str) -> dict[str, str]:
    if not keys or not key:
        return {}
    return dict(zip(keys, json.loads(key), strict=True))


def bucket_of(instant: datetime) -> datetime:
    """The hour that holds `instant` (UTC): the unit of the running aggregates."""
    utc = instant.astimezone(UTC)
    return utc.replace(minute=0, second=0, microsecond=0)


def fingerprint(
    meter_id: str, customer_id: str, timestamp: datetime, properties: Mapping[str, str]
) -> str:
    """Digest of an event's body: what "the same event sent again" means."""
    utc = timestamp if timestamp.tzinfo is UTC else timestamp.astimezone(UTC)
    body = _COMPACT.encode([meter_id, customer_id, utc.isoformat(), sorted(properties.items())])
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class EventInput:
    id: str
    meter_id: str
    customer_id: str
    timestamp: datetime
    properties: dict[str, str]

    def fingerprint(self) -> str:
        return fingerprint(self.meter_id, self.customer_id, self.timestamp, self.properties)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    tenant_id: str
    id: str
    meter_id: str
    customer_id: str
    timestamp: datetime
    properties: dict[str, str]
    fingerprint: str
    value_micros: int
    unique_value: str
    group_key: str
    canceled: bool
    revision: int
    create_time: datetime


class Outcome(enum.Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class EventResult:
    id: str
    outcome: Outcome
    error: AccrueError | None = None


@dataclass(slots=True)
class Aggregate:
    """What a set of events adds up to, for every aggregation at once.

    `last` is (timestamp, event id, micros): the latest event wins, ties go to
    the greater id, so the answer does not depend on arrival order.
    """

    count: int = 0
    sum_micros: int = 0
    max_micros: int | None = None
    last: tuple[datetime, str, int] | None = None
    uniques: set[str] = field(default_factory=set)
    unique_count: int | None = None

    def add(self, timestamp: datetime, event_id: str, reading: Reading) -> None:
        self.count += 1
        self.sum_micros += reading.value_micros
        if self.max_micros is None or reading.value_micros > self.max_micros:
            self.max_micros = reading.value_micros
        candidate = (timestamp, event_id, reading.value_micros)
        if self.last is None or candidate[:2] > self.last[:2]:
            self.last = candidate
        if reading.unique_value:
            self.uniques.add(reading.unique_value)

    def merge(self, other: Aggregate) -> None:
        self.count += other.count
        self.sum_micros += other.sum_micros
        if other.max_micros is not None and (
            self.max_micros is None or other.max_micros > self.max_micros
        ):
            self.max_micros = other.max_micros
        if other.last is not None and (self.last is None or other.last[:2] > self.last[:2]):
            self.last = other.last
        self.uniques |= other.uniques

    def quantity_micros(self, aggregation: Aggregation) -> int:
        if aggregation is Aggregation.SUM:
            return self.sum_micros
        if aggregation is Aggregation.COUNT:
            return self.count * UNIT
        if aggregation is Aggregation.MAX:
            return self.max_micros or 0
        if aggregation is Aggregation.LAST:
            return self.last[2] if self.last else 0
        count = self.unique_count if self.unique_count is not None else len(self.uniques)
        return count * UNIT


def check_timing(
    *,
    timestamp: datetime,
    now: datetime,
    period_end: datetime,
    grace: timedelta,
) -> AccrueError | None:
    """Why an event at `timestamp` may not count now, or None when it may."""
    if timestamp > now + FUTURE_SKEW:
        return UsageEventInFuture(
            f"the event is at {timestamp.isoformat()}, after the customer's now"
            f" ({now.isoformat()}) plus {int(FUTURE_SKEW.total_seconds())} s of skew",
            metadata={"timestamp": timestamp.isoformat(), "now": now.isoformat()},
        )
    if now > period_end + grace:
        return UsageEventTooLate(
            f"the event's period ended at {period_end.isoformat()}, more than the meter's"
            f" grace of {int(grace.total_seconds())} s ago",
            metadata={"period_end": period_end.isoformat()},
        )
    return None


def check_batch_size(count: int) -> None:
    if not 1 <= count <= MAX_BATCH:
        raise ValidationFailed.on("events", f"must hold 1 to {MAX_BATCH} events")


@dataclass(frozen=True, slots=True)
class BilledUsage:
    """One metered line as billed: what it added to a usage period's billed total.

    Rows are only ever added (a correction is a new line, so a new row); the
    sums over a (subscription, price, period, group) are what has been billed.
    """

    tenant_id: str
    id: str
    subscription_id: str
    price_id: str
    meter_id: str
    group_key: str
    period_start: datetime
    period_end: datetime
    quantity_micros: int
    amount_minor: int
    invoice_id: str
    create_time: datetime
