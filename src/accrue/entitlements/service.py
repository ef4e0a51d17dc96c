"""The EntitlementService use cases: features, attachments, entitlements and checks.

Each method runs inside the unit of work it is given (the use case's mutation
or read), so a change, its event and its idempotency record commit together.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from accrue.entitlements.model import (
    Attachment,
    CheckResult,
    Entitlement,
    Feature,
    FeatureKeyTaken,
    FeatureType,
    TargetKind,
    check,
    new_feature_checked,
    parse_amount,
)
from accrue.entitlements.ports import EntitlementUnitOfWork, MeterUsageReader
from accrue.entitlements.resolver import EntitlementResolver
from accrue.event_log.ports import EventSink
from accrue.kernel.clock import Clock
from accrue.kernel.errors import NotFound, ResourceArchived, ValidationFailed
from accrue.kernel.ids import IdGenerator
from accrue.kernel.paging import Page, PageRequest, paginate


@dataclass(frozen=True, slots=True)
class NewFeature:
    key: str
    display_name: str
    type: FeatureType
    unit: str
    per_unit: bool
    meter_id: str
    threshold_percents: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Target:
    kind: TargetKind
    id: str

    @classmethod
    def of(cls, *, product_id: str, price_id: str) -> Target:
        if bool(product_id) == bool(price_id):
            raise ValidationFailed.on("product_id", "give exactly one of product_id and price_id")
        if product_id:
            return cls(TargetKind.PRODUCT, product_id)
        return cls(TargetKind.PRICE, price_id)


@dataclass(frozen=True, slots=True)
class Usage:
    """An entitlement with its current usage (None when the feature has no meter)."""

    entitlement: Entitlement
    usage: Decimal | None


class EntitlementService:
    def __init__(
        self,
        clock: Clock,
        ids: IdGenerator,
        events: EventSink,
        resolver: EntitlementResolver,
        usage: MeterUsageReader,
    ) -> None:
        self._clock = clock
        self._ids = ids
        self._events = events
        self.resolver = resolver
        # None until usage-based billing's reader is wired: metered features
        # are then refused instead of reading as unused.
        self.usage = usage

    # -- features --------------------------------------------------------------

    def create_feature(
        self, uow: EntitlementUnitOfWork, tenant_id: str, new: NewFeature
    ) -> Feature:
        now = self._clock.now()
        feature = new_feature_checked(
            Feature(
                tenant_id=tenant_id,
                id=self._ids.new("feat"),
                key=new.key,
                display_name=new.display_name,
                type=new.type,
                unit=new.unit,
                per_unit=new.per_unit,
                meter_id=new.meter_id,
                threshold_percents=new.threshold_percents,
                archived=False,
                create_time=now,
                update_time=now,
            )
        )
        if feature.metered:
            self.usage.get_meter(uow, tenant_id, feature.meter_id)
        if uow.entitlements.key_taken(tenant_id, feature.key):
            raise FeatureKeyTaken(feature.key)
        uow.entitlements.add_feature(feature)
        uow.entitlements.bump_catalog_version(tenant_id)
        self._events.record(
            uow, tenant_id, type="feature.created", resource_id=feature.id, subject=feature
        )
        return feature

    def get_feature(self, uow: EntitlementUnitOfWork, tenant_id: str, feature_id: str) -> Feature:
        feature = uow.entitlements.get_feature(tenant_id, feature_id)
        if feature is None:
            raise NotFound("feature", feature_id)
        return feature

    def list_features(
        self, uow: EntitlementUnitOfWork, tenant_id: str, page: PageRequest
    ) -> Page[Feature]:
        return paginate(uow.entitlements.list_features(tenant_id, page), page)

    def archive_feature(
        self, uow: EntitlementUnitOfWork, tenant_id: str, feature_id: str
    ) -> Feature:
        feature = self._locked(uow, tenant_id, feature_id)
        if feature.archived:
            return feature
        archived = replace(feature, archived=True, update_time=self._clock.now())
        uow.entitlements.update_feature(archived)
        uow.entitlements.bump_catalog_version(tenant_id)
        self._events.record(
            uow, tenant_id, type="feature.archived", resource_id=feature.id, subject=archived
        )
        return archived

    # -- attachments -------------------------------------------------------------

    def attach(
        self,
        uow: EntitlementUnitOfWork,
        tenant_id: str,
        feature_id: str,
        target: Target,
        *,
        enabled: bool,
        limit: str,
    ) -> Attachment:
        feature = self._locked(uow, tenant_id, feature_id)
        if feature.archived:
            raise ResourceArchived("feature", feature_id)
        value: Decimal | None = None
        if feature.type is FeatureType.NUMERIC:
            if enabled:
                raise ValidationFailed.on("enabled", "a numeric feature takes a limit")
            if not limit:
                raise ValidationFailed.on("limit", "a numeric feature needs a limit")
            value = parse_amount(limit, "limit")
        elif limit:
            raise ValidationFailed.on("limit", "a boolean feature takes `enabled`, not a limit")
        if not uow.entitlements.target_exists(tenant_id, target.kind, target.id):
            raise NotFound(target.kind.value, target.id)
        attachment = Attachment(
            tenant_id=tenant_id,
            feature_id=feature_id,
            target=target.kind,
            target_id=target.id,
            enabled=enabled if feature.type is FeatureType.BOOLEAN else False,
            limit=value,
            update_time=self._clock.now(),
        )
        uow.entitlements.put_attachment(attachment)
        uow.entitlements.bump_catalog_version(tenant_id)
        self._events.record(
            uow,
            tenant_id,
            type="feature.attached",
            resource_id=feature_id,
            resource_type="feature",
            subject=attachment,
        )
        return attachment

    def detach(
        self, uow: EntitlementUnitOfWork, tenant_id: str, feature_id: str, target: Target
    ) -> str:
        self._locked(uow, tenant_id, feature_id)
        attachment = uow.entitlements.get_attachment(tenant_id, feature_id, target.kind, target.id)
        if attachment is None:
            raise NotFound("feature_attachment", f"{feature_id}/{target.kind.value}/{target.id}")
        uow.entitlements.delete_attachment(tenant_id, feature_id, target.kind, target.id)
        uow.entitlements.bump_catalog_version(tenant_id)
        self._events.record(
            uow,
            tenant_id,
            type="feature.detached",
            resource_id=feature_id,
            resource_type="feature",
            subject=attachment,
        )
        return feature_id

    def list_attachments(
        self, uow: EntitlementUnitOfWork, tenant_id: str, feature_id: str
    ) -> list[Attachment]:
        self.get_feature(uow, tenant_id, feature_id)
        return list(uow.entitlements.list_attachments(tenant_id, feature_id))

    # -- entitlements --------------------------------------------------------------

    def entitlements(
        self, uow: EntitlementUnitOfWork, tenant_id: str, customer_id: str
    ) -> list[Usage]:
        resolved = self.resolver.resolve(uow.entitlements, tenant_id, customer_id)
        return [
            Usage(e, self._usage(uow, tenant_id, customer_id, e.feature))
            for _, e in sorted(resolved.entitlements.items())
        ]

    def check(
        self,
        uow: EntitlementUnitOfWork,
        tenant_id: str,
        customer_id: str,
        feature_key: str,
        *,
        quantity: str,
    ) -> CheckResult:
        amount = parse_amount(quantity, "quantity") if quantity else None
        resolved = self.resolver.resolve(uow.entitlements, tenant_id, customer_id)
        entitlement = resolved.entitlements.get(feature_key)
        feature = (
            entitlement.feature if entitlement else resolved.catalog.feature_by_key(feature_key)
        )
        if feature is None:
            raise NotFound("feature", feature_key)
        usage = self._usage(uow, tenant_id, customer_id, feature)
        return check(feature, entitlement, usage=usage, quantity=amount)

    def _usage(
        self, uow: EntitlementUnitOfWork, tenant_id: str, customer_id: str, feature: Feature
    ) -> Decimal | None:
        if not feature.metered:
            return None
        return self.usage.current_period_usage(
            uow, tenant_id=tenant_id, customer_id=customer_id, meter_id=feature.meter_id
        )

    def _locked(self, uow: EntitlementUnitOfWork, tenant_id: str, feature_id: str) -> Feature:
        feature = uow.entitlements.get_feature(tenant_id, feature_id, for_update=True)
        if feature is None:
            raise NotFound("feature", feature_id)
        return feature
