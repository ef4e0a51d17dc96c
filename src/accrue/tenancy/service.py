"""API-key authentication: a bearer key to its tenant, cached briefly.

Tenant administration (creating tenants, issuing and revoking keys) is in
`use_cases.py`.
"""

from __future__ import annotations

import threading
import time

from accrue.kernel.errors import Unauthenticated
from accrue.tenancy.model import API_KEY_PREFIX, hash_api_key
from accrue.tenancy.ports import TenancyUnitOfWorkFactory

# A revoked key stops working on every server process within this time.
MAX_KEY_CACHE_SECONDS = 1.0


class Authenticator:
    """Resolves a bearer key to its tenant, caching hits briefly.

    The cache keeps the database off the hot path of every RPC (one lookup per
    key per half second per process); its lifetime bounds how long a revoked
    key keeps working, so it is capped at `MAX_KEY_CACHE_SECONDS`.
    """

    def __init__(
        self, uow_factory: TenancyUnitOfWorkFactory, *, cache_seconds: float = 0.5
    ) -> None:
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
