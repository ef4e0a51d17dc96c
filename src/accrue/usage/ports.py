"""What the usage use cases need from the outside world, as protocols.

`UsageObserver` is how other areas (entitlements, thresholds) learn that a
customer's usage moved, inside the ingestion transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from accrue.event_log.ports import EventRepository
from accrue.invoicing.ports import FrozenClocks
from accrue.kernel.calendar import Period
from accrue.kernel.paging import PageRequest
from accrue.platform.ports import Transactional
from accrue.subscriptions.ports import SubscriptionRepository
from accrue.usage.model import Aggregate, Meter, Reading, StoredEvent


@dataclass(frozen=True)
class UsageChange:
    customer_id: str
    meter_id: str
    # The customer's current-period aggregate for the meter (all dimensions)
    # before this batch, and after it.
    before: Decimal
    after: Decimal


class UsageObserver(Protocol):
    def watched_meters(self, uow: Any, *, tenant_id: str) -> Collection[str]:
        """The meters whose changes matter to it: ingestion reads the before and
        after totals (two period reads per customer and meter) only for these."""
        ...

    def usage_changed(
        self, uow: Any, *, tenant_id: str, changes: Sequence[UsageChange]
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event that passed every check, ready to be stored."""

    id: str
    meter_id: str
    customer_id: str
    timestamp: datetime
    properties: dict[str, str]
    fingerprint: str
    reading: Reading
    late: bool = False


class UsageStore(Protocol):
    def add_meter(self, meter: Meter) -> None: ...
    def get_meter(self, tenant_id: str, meter_id: str) -> Meter | None: ...
    def get_meters(self, tenant_id: str, meter_ids: Sequence[str]) -> dict[str, Meter]: ...
    def update_meter(self, meter: Meter) -> None: ...
    def list_meters(self, tenant_id: str, page: PageRequest) -> Sequence[Meter]: ...
    def fingerprints(self, tenant_id: str, event_ids: Sequence[str]) -> dict[str, str]:
        """The stored fingerprint of each of `event_ids` that exists."""
        ...

    def insert_events(
        self, tenant_id: str, events: Sequence[NewEvent], *, now: datetime
    ) -> set[str]:
        """Insert what is not stored yet, in one statement; the ids actually inserted."""
        ...

    def add_to_rollups(
        self, tenant_id: str, meters: Mapping[str, Meter], events: Sequence[NewEvent]
    ) -> None:
        """Fold newly inserted events into the running aggregates."""
        ...

    def get_event(
        self, tenant_id: str, event_id: str, *, for_update: bool = False
    ) -> StoredEvent | None: ...
    def correct_event(
        self,
        event: StoredEvent,
        *,
        action: str,
        reason: str,
        actor: str,
        previous: Mapping[str, str],
        now: datetime,
    ) -> None:
        """Store the corrected event (canceled or amended) and its audit record."""
        ...

    def rebuild_bucket(
        self, tenant_id: str, customer_id: str, meter_id: str, instant: datetime
    ) -> None:  # both the on-time and the late aggregates of that hour
        """Recompute the running aggregates of the hour holding `instant` from the events."""
        ...

    def period_aggregates(
        self,
        tenant_id: str,
        customer_id: str,
        meter: Meter,
        period: Period,
        *,
        late: bool | None = None,
    ) -> dict[str, Aggregate]:
        """Per group: the aggregate of [period.start, period.end), from the rollups.

        `late`: only events recorded after their period ended (True), only the
        others (False), or all (None).
        """
        ...

    def period_unique_total(
        self,
        tenant_id: str,
        customer_id: str,
        meter: Meter,
        period: Period,
        *,
        late: bool | None = None,
    ) -> int:
        """UNIQUE_COUNT meters: distinct values over every group."""
        ...

    def raw_aggregates(
        self, tenant_id: str, customer_id: str, meter: Meter, period: Period
    ) -> dict[str, Aggregate]:
        """The same answer as `period_aggregates`, recomputed from the events (for checks)."""
        ...


class CustomerDirectory(Protocol):
    """The customers area's repository, as far as usage reads it."""

    def test_clock_ids(self, tenant_id: str, customer_ids: Sequence[str]) -> Mapping[str, str]:
        """Which of `customer_ids` exist, each with its test clock ("" for real time)."""
        ...


class UsageUnitOfWork(Transactional, Protocol):
    """One transaction of the usage use cases: the usage store, what a customer's
    billing periods are read from (customers, their test clocks, subscriptions),
    and the outbox the event recorder writes to. Observers are handed the same
    transaction and read what they need through their own ports."""

    @property
    def usage(self) -> UsageStore: ...
    @property
    def customers(self) -> CustomerDirectory: ...
    @property
    def test_clocks(self) -> FrozenClocks: ...
    @property
    def subscriptions(self) -> SubscriptionRepository: ...
    @property
    def events(self) -> EventRepository: ...


class UsageUnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool) -> UsageUnitOfWork: ...
