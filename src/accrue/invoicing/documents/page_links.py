"""Signed, expiring links to an invoice's hosted page.

A token names one tenant's invoice and an expiry, and carries an HMAC-SHA256
of exactly those over a server secret. Without the secret nobody can make
or alter one (256-bit tag, compared in constant time), so the link is
unguessable; it is checked before anything is read, and every way it can be
wrong - malformed, tampered, expired, another key - gives the same answer,
so a refused link tells nothing about whether the invoice exists.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime

_CONTEXT = b"accrue.invoice-page.v1\x00"
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_TOKEN_LENGTH = 512


@dataclass(frozen=True, slots=True)
class PageGrant:
    tenant_id: str
    invoice_id: str
    expire_time: datetime


def sign(secret: bytes, grant: PageGrant) -> str:
    if not (_ID.match(grant.tenant_id) and _ID.match(grant.invoice_id)):
        raise ValueError("identifiers must be plain ids")
    expires = int(grant.expire_time.timestamp())
    payload = f"{grant.tenant_id}.{grant.invoice_id}.{expires}".encode()
    return f"{_b64(payload)}.{_b64(_tag(secret, payload))}"


def verify(secret: bytes, token: str, *, now: datetime) -> PageGrant | None:
    """The grant a valid, unexpired token carries; None for anything else."""
    if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        return None
    encoded, tag = token.split(".")
    try:
        payload = _unb64(encoded)
        given = _unb64(tag)
    except (binascii.Error, ValueError):
        return None
    if not hmac.compare_digest(given, _tag(secret, payload)):
        return None
    try:
        tenant_id, invoice_id, expires = payload.decode("ascii").split(".")
        expire_time = datetime.fromtimestamp(int(expires), UTC)
    except (UnicodeDecodeError, ValueError, OverflowError):
        return None
    if expire_time <= now:
        return None
    return PageGrant(tenant_id, invoice_id, expire_time)


def _tag(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, _CONTEXT + payload, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
