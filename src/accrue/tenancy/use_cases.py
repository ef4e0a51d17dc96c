"""Tenant administration: creating tenants, issuing, listing and revoking API keys.

Operators' use cases (the command line), not RPCs: each owns its transaction.
A new tenant is created with the heads of its ledger chain and event log in
the same transaction, so no tenant ever exists without them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from accrue.kernel.clock import Clock
from accrue.kernel.errors import NotFound
from accrue.kernel.ids import IdGenerator
from accrue.tenancy.model import ApiKey, IssuedApiKey, Tenant, issue_api_key
from accrue.tenancy.ports import TenancyUnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class TenantWithKey:
    tenant: Tenant
    api_key: str


class TenancyUseCases:
    def __init__(
        self, uow_factory: TenancyUnitOfWorkFactory, clock: Clock, ids: IdGenerator
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._ids = ids

    def create_tenant(self, name: str) -> TenantWithKey:
        """A new tenant and its first API key; the key is shown only here."""
        with self._uow_factory(write=True) as uow:
            tenant = Tenant(id=self._ids.new("ten"), name=name, create_time=self._clock.now())
            uow.tenants.add(tenant)
            uow.ledger.create_head(tenant.id)
            uow.events.create_head(tenant.id)
            key = issue_api_key(key_id=self._ids.new("key"), tenant_id=tenant.id)
            uow.tenants.add_api_key(
                key_id=key.key_id,
                tenant_id=tenant.id,
                key_hash=key.hash,
                create_time=tenant.create_time,
                prefix=key.prefix,
            )
            uow.commit()
        return TenantWithKey(tenant, key.secret)

    def issue_key(self, tenant_id: str) -> str:
        """Another API key for an existing tenant."""
        return self.new_key(tenant_id).secret

    def new_key(self, tenant_id: str) -> IssuedApiKey:
        """Another API key for an existing tenant; its secret is shown only here."""
        with self._uow_factory(write=True) as uow:
            if uow.tenants.get(tenant_id) is None:
                raise NotFound("tenant", tenant_id)
            key = issue_api_key(key_id=self._ids.new("key"), tenant_id=tenant_id)
            uow.tenants.add_api_key(
                key_id=key.key_id,
                tenant_id=tenant_id,
                key_hash=key.hash,
                create_time=self._clock.now(),
                prefix=key.prefix,
            )
            uow.commit()
        return key

    def list_keys(self, tenant_id: str) -> Sequence[ApiKey]:
        """The tenant's keys, oldest first, revoked ones included; never a secret."""
        with self._uow_factory(write=False) as uow:
            if uow.tenants.get(tenant_id) is None:
                raise NotFound("tenant", tenant_id)
            return uow.tenants.list_api_keys(tenant_id)

    def revoke_key(self, tenant_id: str, key_id: str) -> ApiKey:
        """Revoke one key; every server refuses it within
        `tenancy.service.MAX_KEY_CACHE_SECONDS`.

        Revoking a revoked key changes nothing (its revocation time stays).
        """
        with self._uow_factory(write=True) as uow:
            uow.tenants.revoke_api_key(tenant_id, key_id, at=self._clock.now())
            uow.commit()
        with self._uow_factory(write=False) as uow:
            keys = [k for k in uow.tenants.list_api_keys(tenant_id) if k.key_id == key_id]
        if not keys:
            raise NotFound("api_key", key_id)
        return keys[0]

    def resolve(self, tenant: str) -> Tenant:
        """A tenant by id, or else by name (for operators at a command line)."""
        with self._uow_factory(write=False) as uow:
            found = uow.tenants.get(tenant) or uow.tenants.get_by_name(tenant)
        if found is None:
            raise NotFound("tenant", tenant)
        return found

    def find_by_name(self, name: str) -> Tenant | None:
        with self._uow_factory(write=False) as uow:
            return uow.tenants.get_by_name(name)
