"""Tenant administration's ports in memory: tenants, hashed keys, per-tenant log heads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from accrue.tenancy.model import ApiKey, Tenant
from tests.fakes.transactions import FakeDatabase, FakeUnitOfWork


class FakeTenants:
    """TenantRepository in memory; a key is stored by its hash, never its secret."""

    def __init__(self, tx: FakeUnitOfWork) -> None:
        self._tx = tx

    def add(self, tenant: Tenant) -> None:
        self._tx.table("tenants")[tenant.id] = tenant

    def get(self, tenant_id: str) -> Tenant | None:
        found: Tenant | None = self._tx.table("tenants").get(tenant_id)
        return found

    def get_by_name(self, name: str) -> Tenant | None:
        named = [t for t in self._tx.table("tenants").values() if t.name == name]
        return min(named, key=lambda t: t.id) if named else None

    def add_api_key(
        self,
        *,
        key_id: str,
        tenant_id: str,
        key_hash: str,
        create_time: datetime,
        prefix: str | None = None,
    ) -> None:
        key = ApiKey(key_id, tenant_id, prefix or "", create_time, None)
        self._tx.table("api_keys")[key_id] = (key, key_hash)

    def tenant_for_key_hash(self, key_hash: str) -> str | None:
        for key, stored_hash in self._tx.table("api_keys").values():
            if stored_hash == key_hash and key.revoke_time is None:
                tenant_id: str = key.tenant_id
                return tenant_id
        return None

    def list_api_keys(self, tenant_id: str) -> Sequence[ApiKey]:
        keys = [k for k, _ in self._tx.table("api_keys").values() if k.tenant_id == tenant_id]
        return sorted(keys, key=lambda k: (k.create_time, k.key_id))

    def revoke_api_key(self, tenant_id: str, key_id: str, *, at: datetime) -> bool:
        rows = self._tx.table("api_keys")
        found = rows.get(key_id)
        if found is None or found[0].tenant_id != tenant_id or found[0].revoke_time is not None:
            return False
        rows[key_id] = (replace(found[0], revoke_time=at), found[1])
        return True


class FakeHeads:
    """Where a tenant's ledger chain or event numbering starts."""

    def __init__(self, tx: FakeUnitOfWork, table: str) -> None:
        self._tx = tx
        self._table = table

    def create_head(self, tenant_id: str) -> None:
        heads = self._tx.table(self._table)
        assert tenant_id not in heads, "a head is created once, with its tenant"
        heads[tenant_id] = 0


class FakeTenancyUnitOfWork(FakeUnitOfWork):
    """TenancyUnitOfWork: tenants and keys, and the two per-tenant heads."""

    def __init__(self, db: FakeDatabase, write: bool) -> None:
        super().__init__(db, write=write)
        self.tenants = FakeTenants(self)
        self.ledger = FakeHeads(self, "ledger_heads")
        self.events = FakeHeads(self, "event_heads")
