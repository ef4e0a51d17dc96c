"""Sealed page tokens: an opaque server promise a client can neither forge nor alter.

A list handler makes a plain cursor token (`accrue.kernel.paging`: the last
id served and a fingerprint of the filter). Before it leaves, the pipeline
seals it: `base64url(payload) "." base64url(HMAC-SHA256)`, where the payload
holds that cursor and an expiry, and the MAC also covers the tenant and the
method, with a secret shared by every server of the deployment. A token that
comes back is opened before the handler runs; one that is malformed, altered,
forged, made for another tenant or method, or expired is INVALID_PAGE_TOKEN,
and nothing of it reaches the handler or the database. Reuse with another
filter is still caught by the handler (the fingerprint inside the seal).

Every request with a string `page_token` and every response with a string
`next_page_token` is covered, so a new list RPC is sealed without code here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import timedelta

from google.protobuf.message import Message

from accrue.kernel.clock import Clock
from accrue.kernel.errors import FieldViolation, InvalidPageToken

DEFAULT_LIFETIME = timedelta(hours=24)
MIN_SECRET_BYTES = 16
_CONTEXT = b"accrue.page_token.v1"


class PageTokenSeal:
    def __init__(self, secret: bytes, clock: Clock, *, lifetime: timedelta = DEFAULT_LIFETIME):
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the page-token secret needs at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret
        self._clock = clock
        self._lifetime = lifetime

    def open_request(self, request: Message, *, tenant_id: str, method: str) -> None:
        """Replace a sealed `request.page_token` by the cursor it carries, or refuse it."""
        token = _string_field(request, "page_token")
        if token:
            request.page_token = self.open(token, tenant_id=tenant_id, method=method)  # type: ignore[attr-defined]

    def seal_response(self, response: Message, *, tenant_id: str, method: str) -> None:
        cursor = _string_field(response, "next_page_token")
        if cursor:
            response.next_page_token = self.seal(cursor, tenant_id=tenant_id, method=method)  # type: ignore[attr-defined]

    def seal(self, cursor: str, *, tenant_id: str, method: str) -> str:
        expires = int((self._clock.now() + self._lifetime).timestamp())
        payload = json.dumps({"c": cursor, "x": expires}, separators=(",", ":")).encode()
        body = _b64(payload)
        return f"{body}.{_b64(self._mac(body, tenant_id, method))}"

    def open(self, token: str, *, tenant_id: str, method: str) -> str:
        body, dot, mac = token.partition(".")
        try:
            if not dot or not token.isascii():
                raise ValueError("not a sealed token")
            given = _unb64(mac)
            payload = _unb64(body)
        except (ValueError, binascii.Error) as exc:
            raise _refused("page_token is malformed; pass next_page_token back unchanged") from exc
        if not hmac.compare_digest(given, self._mac(body, tenant_id, method)):
            raise _refused(
                "page_token was not issued by this service for this method and caller, "
                "or was altered"
            )
        try:
            fields = json.loads(payload)
            cursor, expires = fields["c"], fields["x"]
            if not isinstance(cursor, str) or not isinstance(expires, int):
                raise TypeError("unexpected payload")
        except (ValueError, KeyError, TypeError) as exc:  # only if the secret leaked
            raise _refused("page_token is malformed") from exc
        if self._clock.now().timestamp() >= expires:
            raise _refused("page_token has expired; start again from the first page")
        return cursor

    def _mac(self, body: str, tenant_id: str, method: str) -> bytes:
        message = b"\n".join([_CONTEXT, tenant_id.encode(), method.encode(), body.encode()])
        return hmac.new(self._secret, message, hashlib.sha256).digest()


def _string_field(message: Message, name: str) -> str:
    field = message.DESCRIPTOR.fields_by_name.get(name)
    if field is None or field.type != field.TYPE_STRING or field.is_repeated:
        return ""
    value: str = getattr(message, name)
    return value


def _refused(description: str) -> InvalidPageToken:
    return InvalidPageToken(
        description, field_violations=[FieldViolation("page_token", description)]
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text:
        raise ValueError("empty")
    raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    if _b64(raw) != text:  # one spelling per token: no spare bits to play with
        raise ValueError("not canonical base64")
    return raw
