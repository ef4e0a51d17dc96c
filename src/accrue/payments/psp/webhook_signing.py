"""Webhook signatures in the Stripe style, and the event envelope they sign.

A webhook endpoint is public, so an event is trusted only when its header
proves it came from someone holding the shared secret (HMAC-SHA256 over the
timestamp and the exact body bytes) and recently: the timestamp is signed
too, so a captured request cannot be replayed after the tolerance window.

Header `psp-signature: t=<unix seconds>,v1=<hex digest>`; several `v1=`
entries may be present while a secret is being rotated, and any one that
matches is enough. Unknown entries (e.g. a future `v2=`) are ignored.

Event envelope (JSON object):
`{"id": "evt_...", "type": "charge.succeeded" | "charge.failed" |
"refund.succeeded" | "refund.failed", "created": <unix seconds>,
"data": {<the charge or refund object, as the PSP's API returns it>}}`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping

SIGNATURE_HEADER = "psp-signature"
EVENT_TYPES = frozenset({"charge.succeeded", "charge.failed", "refund.succeeded", "refund.failed"})

MALFORMED_HEADER = "malformed_header"
BAD_SIGNATURE = "bad_signature"
TIMESTAMP_OUTSIDE_TOLERANCE = "timestamp_outside_tolerance"


class WebhookSignatureInvalid(Exception):
    """The event must be refused; `reason` says why, for logs, never for the sender."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _digest(secret: bytes, body: bytes, timestamp: int) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The header value for `body` sent at `timestamp` (unix seconds)."""
    return f"t={timestamp},v1={_digest(secret, body, timestamp)}"


def verify(
    secret: bytes, body: bytes, header: str, *, now: int, tolerance_seconds: int = 300
) -> None:
    """Return if `header` signs `body` with `secret` within `tolerance_seconds` of
    `now`, either side (clocks drift both ways); raise WebhookSignatureInvalid."""
    timestamp, signatures = _parse(header)
    expected = _digest(secret, body, timestamp)
    # Compare against every candidate so that timing does not reveal which matched.
    matched = False
    for candidate in signatures:
        matched |= hmac.compare_digest(expected.encode(), candidate.encode())
    if not matched:
        raise WebhookSignatureInvalid(BAD_SIGNATURE)
    if abs(now - timestamp) > tolerance_seconds:
        raise WebhookSignatureInvalid(TIMESTAMP_OUTSIDE_TOLERANCE)


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise WebhookSignatureInvalid(MALFORMED_HEADER)
        if key == "t":
            if timestamp is not None or not value.isascii() or not value.isdigit():
                raise WebhookSignatureInvalid(MALFORMED_HEADER)
            timestamp = int(value)
        elif key == "v1":
            if not value.isascii():
                raise WebhookSignatureInvalid(MALFORMED_HEADER)
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookSignatureInvalid(MALFORMED_HEADER)
    return timestamp, signatures


def webhook_event_json(event_id: str, type: str, created: int, data: Mapping[str, object]) -> bytes:
    """The exact bytes that are signed and sent; compact, keys in envelope order."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    envelope = {"id": event_id, "type": type, "created": created, "data": dict(data)}
    return json.dumps(envelope, separators=(",", ":")).encode()
