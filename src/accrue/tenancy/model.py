"""Tenants and their API keys.

Keys are 256-bit random secrets, so a single SHA-256 is enough to store them
safely (there is nothing to brute-force, unlike a password); the plaintext is
shown once, at creation.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

API_KEY_PREFIX = "acc_"
# How much of a secret is kept to tell keys apart: "acc_" and 8 of its 43
# random characters (48 of 256 bits), far from enough to guess the rest.
DISPLAY_PREFIX_LENGTH = 12


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    create_time: datetime


@dataclass(frozen=True, slots=True)
class IssuedApiKey:
    """A newly created key: `secret` is never stored and never shown again."""

    key_id: str
    tenant_id: str
    secret: str
    hash: str

    @property
    def prefix(self) -> str:
        return self.secret[:DISPLAY_PREFIX_LENGTH]


@dataclass(frozen=True, slots=True)
class ApiKey:
    """What is kept of a key: never the secret, only its first characters (if known)."""

    key_id: str
    tenant_id: str
    prefix: str
    create_time: datetime
    revoke_time: datetime | None


def hash_api_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def issue_api_key(*, key_id: str, tenant_id: str) -> IssuedApiKey:
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return IssuedApiKey(
        key_id=key_id, tenant_id=tenant_id, secret=secret, hash=hash_api_key(secret)
    )
