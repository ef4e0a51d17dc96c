"""Tenant administration and API-key authentication."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from accrue.kernel.clock import Clock
from accrue.kernel.errors import NotFound, Unauthenticated
from accrue.kernel.ids import IdGenerator
from accrue.ports import UnitOfWorkFactory
from accrue.tenancy.model import (
    API_KEY_PREFIX,
    ApiKey,
    IssuedApiKey,
    Tenant,
    hash_api_key,
    issue_api_key,
)


@dataclass(frozen=True, slots=True)
class TenantWithKey:
    tenant: Tenant
    api_key: str


class TenantService:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
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
        """Revoke one key; every server refuses it within `MAX_KEY_CACHE_SECONDS`.

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


# A revoked key stops working on every server process within this time.
MAX_KEY_CACHE_SECONDS = 1.0


class Authenticator:
    """Resolves a bearer key to its tenant, caching hits briefly.

    The cache keeps the database off the hot path of every RPC (one lookup per
    key per half second per process); its lifetime bounds how long a revoked
    key keeps working, so it is capped at `MAX_KEY_CACHE_SECONDS`.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, *, cache_seconds: float = 0.5) -> None:
        if not 0 <= cache_seconds <= MAX_KEY_CACHE_SECONDS:
            raise ValueError(f"cache_seconds must be in [0, {MAX_KEY_CACHE_SECONDS}]")
        self._uow_factory = uow_factory
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def tenant_for(self, authorization: str | None) -> str:
        secret = _bearer_secret(authorization)
        key_hash = hash_api_key(secret)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key_hash)
        if hit is not None and hit[1] > now:
            return hit[0]
        with self._uow_factory(write=False) as uow:
            tenant_id = uow.tenants.tenant_for_key_hash(key_hash)
        if tenant_id is None:
            raise _rejected()
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key_hash] = (tenant_id, now + self._cache_seconds)
        return tenant_id


def _bearer_secret(authorization: str | None) -> str:
    if not authorization:
        raise _rejected()
    scheme, _, secret = authorization.strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret.startswith(API_KEY_PREFIX) or len(secret) > 200:
        raise _rejected()
    return secret


def _rejected() -> Unauthenticated:
    # One message for missing, malformed and unknown keys: no oracle for guessing.
    return Unauthenticated("a valid API key is required: authorization: Bearer <key>")
