"""`usage.threshold_crossed`: announced once per customer, feature, percentage and period.

Usage-based billing calls `ThresholdWatcher.usage_changed` inside the
transaction that ingests usage, so a crossing is recorded (and its event
queued) exactly when the usage that caused it commits. A threshold counts as
crossed whenever usage is at or beyond it and it was not announced in the
period yet: whatever the sequence of increments, corrections or limit
changes, each percentage is announced at most once per period, and once
whenever usage ends up reaching it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from accrue.entitlements.model import ThresholdCrossing, thresholds_reached
from accrue.entitlements.resolver import EntitlementResolver
from accrue.event_log.service import EventRecorder
from accrue.kernel.clock import Clock
from accrue.usage.ports import UsageChange


class ThresholdWatcher:
    """A `UsageObserver`: compares new usage with the customer's metered limits."""

    def __init__(self, clock: Clock, events: EventRecorder, resolver: EntitlementResolver) -> None:
        self._clock = clock
        self._events = events
        self._resolver = resolver

    def watched_meters(self, uow: Any, *, tenant_id: str) -> set[str]:
        """Meters of live features with thresholds: one indexed read (the catalog
        version) per batch, so ingestion of other meters reads no totals at all."""
        store = uow.entitlements
        catalog = self._resolver.catalog(store, tenant_id, store.catalog_version(tenant_id))
        return {
            f.meter_id
            for f in catalog.features.values()
            if f.metered and f.threshold_percents and not f.archived
        }

    def usage_changed(self, uow: Any, *, tenant_id: str, changes: Sequence[UsageChange]) -> None:
        watched = self.watched_meters(uow, tenant_id=tenant_id)
        latest: dict[tuple[str, str], UsageChange] = {}
        for change in changes:
            if change.meter_id in watched:
                latest[(change.customer_id, change.meter_id)] = change
        by_customer: dict[str, list[UsageChange]] = {}
        for (customer_id, _), change in sorted(latest.items()):
            by_customer.setdefault(customer_id, []).append(change)
        for customer_id, customer_changes in by_customer.items():
            self._customer(uow, tenant_id, customer_id, customer_changes)

    def _customer(
        self, uow: Any, tenant_id: str, customer_id: str, changes: Sequence[UsageChange]
    ) -> None:
        resolved = self._resolver.resolve(uow.entitlements, tenant_id, customer_id)
        usage_by_meter = {change.meter_id: change.after for change in changes}
        for _, entitlement in sorted(resolved.entitlements.items()):
            feature = entitlement.feature
            usage = usage_by_meter.get(feature.meter_id) if feature.metered else None
            if usage is None or entitlement.limit is None:
                continue
            for percent in thresholds_reached(entitlement.limit, usage, feature.threshold_percents):
                recorded = uow.entitlements.record_crossing(
                    tenant_id,
                    customer_id=customer_id,
                    feature_id=feature.id,
                    percent=percent,
                    period_start=entitlement.period_start,
                    usage=usage,
                    now=self._clock.now(),
                )
                if recorded:
                    self._events.record(
                        uow,
                        tenant_id,
                        type="usage.threshold_crossed",
                        resource_type="customer",
                        resource_id=customer_id,
                        subject=ThresholdCrossing(
                            customer_id=customer_id,
                            feature=feature,
                            percent=percent,
                            limit=entitlement.limit,
                            usage=usage,
                            period_start=entitlement.period_start,
                            period_end=entitlement.period_end,
                        ),
                    )
