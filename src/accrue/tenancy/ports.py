"""What tenancy's use cases need from persistence."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from accrue.platform.ports import Transactional
from accrue.tenancy.model import ApiKey, Tenant


class TenantRepository(Protocol):
    def add(self, tenant: Tenant) -> None: ...
    def get(self, tenant_id: str) -> Tenant | None: ...
    def get_by_name(self, name: str) -> Tenant | None: ...
    def add_api_key(
        self,
        *,
        key_id: str,
        tenant_id: str,
        key_hash: str,
        create_time: datetime,
        prefix: str | None = None,
    ) -> None: ...
    def tenant_for_key_hash(self, key_hash: str) -> str | None: ...
    def list_api_keys(self, tenant_id: str) -> Sequence[ApiKey]: ...
    def revoke_api_key(self, tenant_id: str, key_id: str, *, at: datetime) -> bool: ...


class ChainHeads(Protocol):
    """Where a new tenant's per-tenant log starts (the ledger's chain, the event
    log's numbering); tenancy creates each head with the tenant."""

    def create_head(self, tenant_id: str) -> None: ...


class TenancyUnitOfWork(Transactional, Protocol):
    """One transaction of tenant administration: tenants and their keys, and the
    heads of the ledger and the event log a new tenant starts with."""

    @property
    def tenants(self) -> TenantRepository: ...
    @property
    def ledger(self) -> ChainHeads: ...
    @property
    def events(self) -> ChainHeads: ...


class TenancyUnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool) -> TenancyUnitOfWork: ...
