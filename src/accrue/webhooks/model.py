"""Pure webhook rules: endpoints, deliveries, signatures, retry timing, address policy.

Nothing here does I/O: the time comes in as arguments, randomness through an
injected `random.Random`, and addresses already resolved.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import ipaddress
import math
import random
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from accrue.kernel.errors import ValidationFailed

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
DEFAULT_OVERLAP = timedelta(hours=24)
MAX_OVERLAP = timedelta(days=7)
DISABLED_BY_USER = "DISABLED_BY_USER"
DISABLED_FAILING = "FAILING"


class Ordering(enum.Enum):
    SEQUENCE = "sequence"
    NONE = "none"


class DeliveryStatus(enum.Enum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Endpoint:
    tenant_id: str
    id: str
    url: str
    event_types: tuple[str, ...]
    description: str
    ordering: Ordering
    enabled: bool
    disabled_reason: str
    secret: str
    previous_secret: str
    previous_secret_expire_time: datetime | None
    failing_since: datetime | None
    create_time: datetime
    update_time: datetime

    def matches(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types

    def signing_secrets(self, now: datetime) -> tuple[str, ...]:
        """The current secret, and the previous one while its overlap lasts."""
        if (
            self.previous_secret
            and self.previous_secret_expire_time is not None
            and now < self.previous_secret_expire_time
        ):
            return (self.secret, self.previous_secret)
        return (self.secret,)

    def rotated(self, new_secret: str, *, now: datetime, overlap: timedelta) -> Endpoint:
        return replace(
            self,
            secret=new_secret,
            previous_secret=self.secret,
            previous_secret_expire_time=now + overlap,
            update_time=now,
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    tenant_id: str
    id: str
    endpoint_id: str
    event_id: str
    event_sequence: int
    event_type: str
    status: DeliveryStatus
    attempts: int
    last_response_code: int
    last_latency_ms: int
    last_error: str
    last_attempt_time: datetime | None
    next_attempt_time: datetime | None
    first_attempt_time: datetime | None
    manual: bool
    create_time: datetime


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one HTTP attempt came back with; `status_code` 0 when no answer."""

    status_code: int
    latency_ms: int
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status_code < 300


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(*, secrets_: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: `v1,<base64 HMAC-SHA256>` per secret, space-separated.

    The signed content is `<webhook-id>.<webhook-timestamp>.<body>` (Standard
    Webhooks), so a receiver's verifier rejects a replayed body under another
    id or time.
    """
    content = f"{message_id}.{timestamp}.".encode() + body
    signatures = []
    for secret in secrets_:
        digest = hmac.new(_secret_key(secret), content, hashlib.sha256).digest()
        signatures.append("v1," + base64.b64encode(digest).decode("ascii"))
    return " ".join(signatures)


def signed_headers(
    *, secrets_: Sequence[str], message_id: str, now: datetime, body: bytes
) -> dict[str, str]:
    timestamp = math.floor(now.timestamp())
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(
            secrets_=secrets_, message_id=message_id, timestamp=timestamp, body=body
        ),
    }


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Full-jitter exponential backoff, retried for `window` since the first failure.

    Full jitter spreads the retries of many endpoints failing together (a
    receiver's outage) over the whole window instead of returning in waves.
    """

    base: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(hours=1)
    window: timedelta = timedelta(days=3)

    def next_attempt(self, *, attempts: int, now: datetime, rng: random.Random) -> datetime:
        """When to try again after `attempts` failed attempts (1 = the first failed)."""
        exponent = min(max(attempts - 1, 0), 60)
        ceiling = min(self.cap.total_seconds(), self.base.total_seconds() * 2.0**exponent)
        return now + timedelta(seconds=rng.uniform(0.0, ceiling))

    def given_up(self, *, since: datetime | None, now: datetime) -> bool:
        return since is not None and now - since >= self.window


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which resolved addresses an endpoint may point at.

    Public unicast addresses always; loopback, link-local, private, shared,
    reserved, multicast and unspecified ones only inside `allowed` networks
    (configuration; the tests allow 127.0.0.1), so a tenant cannot make the
    platform call into its own network.
    """

    allowed: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def parse(cls, networks: str) -> AddressPolicy:
        parsed = tuple(
            ipaddress.ip_network(item.strip(), strict=False)
            for item in networks.split(",")
            if item.strip()
        )
        return cls(parsed)

    def refusal(self, addresses: Iterable[str]) -> str:
        """Why these addresses are refused, or "" when every one is acceptable."""
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            if any(address in network for network in self.allowed):
                continue
            if not address.is_global or address.is_multicast:
                return f"resolves to a non-public address ({address})"
        return ""


def check_url(url: str) -> tuple[str, int, bool]:
    """(host, port, tls) of an acceptable endpoint URL; ValidationFailed otherwise."""
    field = "endpoint.url"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValidationFailed.on(field, f"not a URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise ValidationFailed.on(field, "must be an http or https URL")
    if not parts.hostname:
        raise ValidationFailed.on(field, "must name a host")
    if parts.username or parts.password:
        raise ValidationFailed.on(field, "must not carry credentials")
    tls = parts.scheme == "https"
    return parts.hostname, port or (443 if tls else 80), tls
