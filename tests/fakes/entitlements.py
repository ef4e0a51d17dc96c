"""In-memory fakes of the entitlement ports, for use-case tests without SQL.

`FakeStores` is the bare set of stores the entitlement and policy
steps read (no transaction); `entitlement_use_cases` runs the use cases,
transactions and all, on a `FakeDatabase`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from accrue.entitlements.model import Attachment, Feature, SubscriptionFact, TargetKind
from accrue.entitlements.ports import Stamp
from accrue.entitlements.resolver import EntitlementResolver
from accrue.entitlements.service import EntitlementService
from accrue.entitlements.use_cases import EntitlementUseCases
from accrue.kernel.ids import IdGenerator
from accrue.kernel.paging import PageRequest
from accrue.platform.idempotency import MutationRunner
from tests.fakes.policies import FakePolicyStore
from tests.fakes.transactions import (
    FakeClock,
    FakeDatabase,
    FakeIdempotency,
    FakeOutbox,
    FakeUnitOfWorkFactory,
    event_recorder,
)


@dataclass
class FakeEntitlementStore:
    features: dict[str, Feature] = field(default_factory=dict)
    attachments: dict[tuple[str, TargetKind, str], Attachment] = field(default_factory=dict)
    version: int = 0
    customers: set[str] = field(default_factory=set)
    subs: dict[str, tuple[str, int, SubscriptionFact]] = field(default_factory=dict)
    prices: dict[str, str] = field(default_factory=dict)  # price id -> product id
    crossings: set[tuple[str, str, int, datetime]] = field(default_factory=set)
    reads: dict[str, int] = field(default_factory=dict)

    def _read(self, name: str) -> None:
        self.reads[name] = self.reads.get(name, 0) + 1

    # arranging

    def subscribe(self, customer_id: str, fact: SubscriptionFact) -> None:
        """Add or change a subscription: its version moves, as every change's does."""
        self.customers.add(customer_id)
        version = self.subs[fact.id][1] + 1 if fact.id in self.subs else 1
        self.subs[fact.id] = (customer_id, version, fact)
        for item in fact.items:
            self.prices[item.price_id] = item.product_id

    # the port

    def add_feature(self, feature: Feature) -> None:
        self.features[feature.id] = feature

    def get_feature(
        self, tenant_id: str, feature_id: str, *, for_update: bool = False
    ) -> Feature | None:
        return self.features.get(feature_id)

    def key_taken(self, tenant_id: str, key: str) -> bool:
        return any(f.key == key for f in self.features.values())

    def update_feature(self, feature: Feature) -> None:
        self.features[feature.id] = feature

    def list_features(self, tenant_id: str, page: PageRequest) -> Sequence[Feature]:
        found = sorted(self.features.values(), key=lambda f: f.id)
        return [f for f in found if f.id > page.after_id][: page.size + 1]

    def target_exists(self, tenant_id: str, target: TargetKind, target_id: str) -> bool:
        """Every catalog id exists except those named `missing...`."""
        return not target_id.startswith("missing")

    def get_attachment(
        self, tenant_id: str, feature_id: str, target: TargetKind, target_id: str
    ) -> Attachment | None:
        return self.attachments.get((feature_id, target, target_id))

    def put_attachment(self, attachment: Attachment) -> None:
        key = (attachment.feature_id, attachment.target, attachment.target_id)
        self.attachments[key] = attachment

    def delete_attachment(
        self, tenant_id: str, feature_id: str, target: TargetKind, target_id: str
    ) -> None:
        del self.attachments[(feature_id, target, target_id)]

    def list_attachments(self, tenant_id: str, feature_id: str) -> Sequence[Attachment]:
        return [a for a in self.attachments.values() if a.feature_id == feature_id]

    def bump_catalog_version(self, tenant_id: str) -> None:
        self.version += 1

    def catalog_version(self, tenant_id: str) -> int:
        self._read("catalog_version")
        return self.version

    def catalog(self, tenant_id: str) -> tuple[int, Sequence[Feature], Sequence[Attachment]]:
        self._read("catalog")
        return self.version, list(self.features.values()), list(self.attachments.values())

    def stamp(self, tenant_id: str, customer_id: str) -> Stamp | None:
        self._read("stamp")
        if customer_id not in self.customers:
            return None
        subs = sorted((sid, v) for sid, (c, v, _) in self.subs.items() if c == customer_id)
        return Stamp(self.version, tuple(subs))

    def subscription_facts(self, tenant_id: str, customer_id: str) -> Sequence[SubscriptionFact]:
        self._read("facts")
        return [fact for c, _, fact in self.subs.values() if c == customer_id]

    def product_ids(self, tenant_id: str, price_ids: Sequence[str]) -> Mapping[str, str]:
        return {p: self.prices[p] for p in price_ids if p in self.prices}

    def record_crossing(
        self,
        tenant_id: str,
        *,
        customer_id: str,
        feature_id: str,
        percent: int,
        period_start: datetime,
        usage: Decimal,
        now: datetime,
    ) -> bool:
        key = (customer_id, feature_id, percent, period_start)
        if key in self.crossings:
            return False
        self.crossings.add(key)
        return True


@dataclass
class FakeStores:
    entitlements: FakeEntitlementStore = field(default_factory=FakeEntitlementStore)
    policies: FakePolicyStore = field(default_factory=FakePolicyStore)
    events: FakeOutbox = field(default_factory=FakeOutbox)


class FakeUsage:
    """A MeterUsageReader over a plain dict: (customer, meter) -> usage."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], Decimal] = {}

    def current_period_usage(
        self, uow: Any, *, tenant_id: str, customer_id: str, meter_id: str
    ) -> Decimal:
        return self.values.get((customer_id, meter_id), Decimal(0))

    def get_meter(self, uow: Any, tenant_id: str, meter_id: str) -> object:
        return meter_id


def entitlement_database() -> FakeDatabase:
    """Exactly the repositories of `EntitlementUnitOfWork`, plus the runner's keys."""
    return FakeDatabase(
        entitlements=FakeEntitlementStore(), events=FakeOutbox(), idempotency=FakeIdempotency()
    )


def entitlement_use_cases(
    db: FakeDatabase, clock: FakeClock, usage: FakeUsage | None = None
) -> EntitlementUseCases:
    factory = FakeUnitOfWorkFactory(db)
    service = EntitlementService(
        clock,
        IdGenerator(clock),
        event_recorder(clock),
        EntitlementResolver(),
        usage or FakeUsage(),
    )
    return EntitlementUseCases(factory, MutationRunner(factory, clock), service)
