"""The hot path: a customer's entitlements, cached in process and revalidated per call.

A cached resolution is keyed by its `Stamp` (the customer's subscriptions'
versions and the tenant's feature-catalog version). Every subscription
change bumps its row's version and every feature or attachment change bumps
the catalog version, in the same transaction, whichever process or worker
makes it; so one indexed read per call tells whether the cache still holds
and no invalidation message has to reach other processes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from accrue.entitlements.model import Catalog, Entitlement, SubscriptionFact, resolve
from accrue.entitlements.ports import EntitlementStore, Stamp
from accrue.kernel.errors import NotFound

DEFAULT_CUSTOMERS = 50_000


@dataclass(frozen=True, slots=True)
class Resolved:
    catalog: Catalog
    facts: tuple[SubscriptionFact, ...]
    entitlements: dict[str, Entitlement]


class EntitlementResolver:
    def __init__(self, *, max_customers: int = DEFAULT_CUSTOMERS) -> None:
        self._lock = threading.Lock()
        self._catalogs: dict[str, tuple[int, Catalog]] = {}
        self._customers: OrderedDict[tuple[str, str], tuple[Stamp, Resolved]] = OrderedDict()
        self._max = max_customers

    def resolve(self, store: EntitlementStore, tenant_id: str, customer_id: str) -> Resolved:
        stamp = store.stamp(tenant_id, customer_id)
        if stamp is None:
            raise NotFound("customer", customer_id)
        key = (tenant_id, customer_id)
        with self._lock:
            cached = self._customers.get(key)
            if cached is not None and cached[0] == stamp:
                self._customers.move_to_end(key)
                return cached[1]
        catalog = self.catalog(store, tenant_id, stamp.catalog_version)
        # Read after the stamp: a change in between leaves the cache stale under
        # an old stamp, which the next call's stamp no longer matches.
        facts = tuple(store.subscription_facts(tenant_id, customer_id))
        resolved = Resolved(catalog, facts, resolve(catalog, facts))
        with self._lock:
            self._customers[key] = (stamp, resolved)
            self._customers.move_to_end(key)
            while len(self._customers) > self._max:
                self._customers.popitem(last=False)
        return resolved

    def catalog(
        self, store: EntitlementStore, tenant_id: str, version: int | None = None
    ) -> Catalog:
        """The tenant's features and attachments, reloaded when its version moved."""
        with self._lock:
            cached = self._catalogs.get(tenant_id)
        if cached is not None and version is not None and cached[0] == version:
            return cached[1]
        loaded_version, features, attachments = store.catalog(tenant_id)
        catalog = Catalog.of(features, attachments)
        with self._lock:
            self._catalogs[tenant_id] = (loaded_version, catalog)
        return catalog
