"""In-memory fakes of the usage area's narrow ports (`accrue.usage.ports`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from accrue.kernel.errors import ConcurrentModification
from accrue.kernel.ids import IdGenerator
from accrue.kernel.paging import PageRequest
from accrue.platform.idempotency import MutationRunner
from accrue.usage.model import Meter
from accrue.usage.ports import NewEvent
from accrue.usage.service import UsageService
from accrue.usage.use_cases import UsageUseCases
from tests.fakes.transactions import (
    FakeClock,
    FakeDatabase,
    FakeIdempotency,
    FakeOutbox,
    FakeUnitOfWorkFactory,
    event_recorder,
)


@dataclass
class FakeUsageStore:
    """The meters and events of `UsageStore`; the running aggregates as the list
    of event ids folded into them, which is what ingestion decides."""

    meters: dict[str, Meter] = field(default_factory=dict)
    events: dict[str, NewEvent] = field(default_factory=dict)
    folded: list[str] = field(default_factory=list)
    # How many of the next inserts lose a race (a deadlock the database reports);
    # a script of the test, so a rollback does not give a lost race back.
    races_to_lose: int = 0
    # What happens while a batch is being inserted (a test moves the clock on).
    while_inserting: Callable[[], None] | None = None
    outside_transactions = ("races_to_lose", "while_inserting")

    def add_meter(self, meter: Meter) -> None:
        self.meters[meter.id] = meter

    def get_meter(self, tenant_id: str, meter_id: str) -> Meter | None:
        return self.meters.get(meter_id)

    def get_meters(self, tenant_id: str, meter_ids: Sequence[str]) -> dict[str, Meter]:
        return {m: self.meters[m] for m in meter_ids if m in self.meters}

    def update_meter(self, meter: Meter) -> None:
        self.meters[meter.id] = meter

    def list_meters(self, tenant_id: str, page: PageRequest) -> Sequence[Meter]:
        found = sorted(self.meters.values(), key=lambda m: m.id)
        return [m for m in found if m.id > page.after_id][: page.size + 1]

    def fingerprints(self, tenant_id: str, event_ids: Sequence[str]) -> dict[str, str]:
        return {i: self.events[i].fingerprint for i in event_ids if i in self.events}

    def insert_events(
        self, tenant_id: str, events: Sequence[NewEvent], *, now: datetime
    ) -> set[str]:
        if self.races_to_lose:
            self.races_to_lose -= 1
            raise ConcurrentModification("the batch lost a race with another; retry it")
        if self.while_inserting is not None:
            self.while_inserting()
        fresh = {e.id: e for e in events if e.id not in self.events}
        self.events.update(fresh)
        return set(fresh)

    def add_to_rollups(
        self, tenant_id: str, meters: Mapping[str, Meter], events: Sequence[NewEvent]
    ) -> None:
        self.folded.extend(e.id for e in events)


@dataclass(frozen=True)
class FakeCustomer:
    id: str
    test_clock_id: str = ""


@dataclass
class FakeCustomerDirectory:
    customers: dict[str, FakeCustomer] = field(default_factory=dict)

    def test_clock_ids(self, tenant_id: str, customer_ids: Sequence[str]) -> dict[str, str]:
        return {c: self.customers[c].test_clock_id for c in customer_ids if c in self.customers}


@dataclass
class FakeFrozenClocks:
    def get(self, tenant_id: str, clock_id: str, *, for_update: bool = False) -> Any:
        return None


@dataclass
class NoSubscriptions:
    """Customers without a subscription: their usage is measured per calendar month."""

    def list(self, tenant_id: str, page: PageRequest, **_: Any) -> list[Any]:
        return []


def usage_database(*customer_ids: str) -> FakeDatabase:
    """Exactly the repositories of `UsageUnitOfWork`, plus the runner's keys."""
    return FakeDatabase(
        usage=FakeUsageStore(),
        customers=FakeCustomerDirectory({c: FakeCustomer(c) for c in customer_ids}),
        test_clocks=FakeFrozenClocks(),
        subscriptions=NoSubscriptions(),
        events=FakeOutbox(),
        idempotency=FakeIdempotency(),
    )


def usage_use_cases(db: FakeDatabase, clock: FakeClock) -> UsageUseCases:
    factory = FakeUnitOfWorkFactory(db)
    service = UsageService(clock, IdGenerator(clock), events=event_recorder(clock))
    return UsageUseCases(factory, MutationRunner(factory, clock), service)
