"""What the entitlement use cases need from the outside world, as protocols."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from accrue.entitlements.model import Attachment, Feature, SubscriptionFact, TargetKind
from accrue.event_log.ports import EventRepository
from accrue.kernel.paging import PageRequest
from accrue.platform.ports import Transactional


class MeterUsageReader(Protocol):
    """Usage-based billing's live aggregate of a meter for the customer's current period."""

    def current_period_usage(
        self, uow: Any, *, tenant_id: str, customer_id: str, meter_id: str
    ) -> Decimal: ...

    def get_meter(self, uow: Any, tenant_id: str, meter_id: str) -> object:
        """The meter, or NotFound: a metered feature must name a meter that exists."""
        ...


@dataclass(frozen=True, slots=True)
class Stamp:
    """Changes whenever a customer's entitlements may have: its subscriptions'
    versions and the tenant's feature-catalog version."""

    catalog_version: int
    subscriptions: tuple[tuple[str, int], ...]


class EntitlementStore(Protocol):
    def add_feature(self, feature: Feature) -> None: ...
    def get_feature(
        self, tenant_id: str, feature_id: str, *, for_update: bool = False
    ) -> Feature | None: ...
    def key_taken(self, tenant_id: str, key: str) -> bool: ...
    def update_feature(self, feature: Feature) -> None: ...
    def list_features(self, tenant_id: str, page: PageRequest) -> Sequence[Feature]: ...
    def target_exists(self, tenant_id: str, target: TargetKind, target_id: str) -> bool: ...
    def get_attachment(
        self, tenant_id: str, feature_id: str, target: TargetKind, target_id: str
    ) -> Attachment | None: ...
    def put_attachment(self, attachment: Attachment) -> None: ...
    def delete_attachment(
        self, tenant_id: str, feature_id: str, target: TargetKind, target_id: str
    ) -> None: ...
    def list_attachments(self, tenant_id: str, feature_id: str) -> Sequence[Attachment]: ...
    def bump_catalog_version(self, tenant_id: str) -> None:
        """Every cached resolution of the tenant is stale from this commit on."""
        ...

    def catalog_version(self, tenant_id: str) -> int: ...
    def catalog(self, tenant_id: str) -> tuple[int, Sequence[Feature], Sequence[Attachment]]:
        """The catalog version with every feature and attachment of the tenant."""
        ...

    def stamp(self, tenant_id: str, customer_id: str) -> Stamp | None:
        """One indexed read; None when the customer does not exist."""
        ...

    def subscription_facts(
        self, tenant_id: str, customer_id: str
    ) -> Sequence[SubscriptionFact]: ...
    def product_ids(self, tenant_id: str, price_ids: Sequence[str]) -> Mapping[str, str]: ...
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
        """Remember a threshold crossing; False when it was recorded before."""
        ...


class EntitlementUnitOfWork(Transactional, Protocol):
    """One transaction of the entitlement use cases: the feature store and the
    outbox the event recorder writes to. A metered feature's live usage is read
    by the `MeterUsageReader` through the same transaction, with its own port."""

    @property
    def entitlements(self) -> EntitlementStore: ...
    @property
    def events(self) -> EventRepository: ...


class EntitlementUnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool) -> EntitlementUnitOfWork: ...
