"""SQL persistence of tenants and their API keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, update

from accrue.tenancy import tables as t
from accrue.tenancy.model import ApiKey, Tenant

_KEY_TENANT = select(t.api_keys.c.tenant_id).where(
    t.api_keys.c.key_hash == bindparam("key_hash"),
    t.api_keys.c.revoke_time.is_(None),
)


class SqlTenantRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, tenant: Tenant) -> None:
        self._conn.execute(
            insert(t.tenants).values(id=tenant.id, name=tenant.name, create_time=tenant.create_time)
        )

    def get(self, tenant_id: str) -> Tenant | None:
        row = self._conn.execute(select(t.tenants).where(t.tenants.c.id == tenant_id)).first()
        return None if row is None else Tenant(row.id, row.name, row.create_time)

    def get_by_name(self, name: str) -> Tenant | None:
        query = select(t.tenants).where(t.tenants.c.name == name).order_by(t.tenants.c.id).limit(1)
        row = self._conn.execute(query).first()
        return None if row is None else Tenant(row.id, row.name, row.create_time)

    def add_api_key(
        self,
        *,
        key_id: str,
        tenant_id: str,
        key_hash: str,
        create_time: datetime,
        prefix: str | None = None,
    ) -> None:
        self._conn.execute(
            insert(t.api_keys).values(
                id=key_id,
                tenant_id=tenant_id,
                key_hash=key_hash,
                create_time=create_time,
                prefix=prefix,
            )
        )

    def tenant_for_key_hash(self, key_hash: str) -> str | None:
        return self._conn.execute(_KEY_TENANT, {"key_hash": key_hash}).scalar_one_or_none()

    def list_api_keys(self, tenant_id: str) -> Sequence[ApiKey]:
        c = t.api_keys.c
        query = select(c.id, c.tenant_id, c.prefix, c.create_time, c.revoke_time).where(
            c.tenant_id == tenant_id
        )
        rows = self._conn.execute(query.order_by(c.create_time, c.id))
        return [
            ApiKey(row.id, row.tenant_id, row.prefix or "", row.create_time, row.revoke_time)
            for row in rows
        ]

    def revoke_api_key(self, tenant_id: str, key_id: str, *, at: datetime) -> bool:
        c = t.api_keys.c
        result = self._conn.execute(
            update(t.api_keys)
            .where(c.tenant_id == tenant_id, c.id == key_id, c.revoke_time.is_(None))
            .values(revoke_time=at)
        )
        return result.rowcount == 1
