"""`POST /webhooks/psp/<psp>` on the Connect (HTTP) port: PSP webhooks.

The signature and its timestamp are checked before the body is parsed, and
a rejected delivery changes nothing (400). An accepted one answers 200 with
its outcome (`applied`, `duplicate`, `ignored`) only after the effect has
committed, so a PSP that gets anything else redelivers - which is safe,
because applying an event is idempotent.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from accrue.kernel.clock import Clock
from accrue.kernel.errors import AccrueError
from accrue.payments.psp.webhook_events import MalformedEvent, parse_event
from accrue.payments.psp.webhook_signing import SIGNATURE_HEADER, WebhookSignatureInvalid, verify
from accrue.payments.psp_webhooks import PspWebhookService

log = logging.getLogger("accrue.webhooks")
PREFIX = "/webhooks/psp/"
MAX_BODY_BYTES = 1 << 20


class PspWebhookEndpoint:
    def __init__(
        self,
        service: PspWebhookService,
        *,
        secrets: Mapping[str, bytes],
        tolerance_seconds: int,
        clock: Clock,
        executor: ThreadPoolExecutor,
    ) -> None:
        self._service = service
        self._secrets = dict(secrets)
        self._tolerance = tolerance_seconds
        self._clock = clock
        self._executor = executor

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            status, payload = 200, await self._handle(scope, receive)
        except _Reject as reject:
            status, payload = reject.status, reject.payload
        await _answer(send, status, payload)

    async def _handle(self, scope: dict[str, Any], receive: Any) -> dict[str, str]:
        path: str = scope.get("path", "")
        psp = path.removeprefix(PREFIX)
        secret = self._secrets.get(psp) if path.startswith(PREFIX) else None
        if secret is None:
            raise _Reject(404, {"error": "unknown_endpoint"})
        if scope.get("method") != "POST":
            raise _Reject(405, {"error": "method_not_allowed"})
        body = await _body(receive)
        headers = {k.decode("latin-1").lower(): v for k, v in scope.get("headers", [])}
        header = headers.get(SIGNATURE_HEADER, b"").decode("latin-1")
        try:
            now = int(self._clock.now().timestamp())
            verify(secret, body, header, now=now, tolerance_seconds=self._tolerance)
            event = parse_event(body)
        except WebhookSignatureInvalid as error:
            raise _Reject(400, {"error": error.reason}) from error
        except MalformedEvent as error:
            raise _Reject(400, {"error": "malformed_event", "message": str(error)}) from error
        loop = asyncio.get_running_loop()
        try:
            outcome = await loop.run_in_executor(self._executor, self._service.receive, psp, event)
        except AccrueError as error:
            # A conflict with a concurrent change: the PSP's redelivery will apply it.
            raise _Reject(503, {"error": error.reason}) from error
        except Exception as error:
            log.exception("webhook failed", extra={"psp": psp, "event_id": event.id})
            raise _Reject(500, {"error": "internal"}) from error
        return {"outcome": outcome, "event_id": event.id}


class _Reject(Exception):
    def __init__(self, status: int, payload: dict[str, str]) -> None:
        super().__init__(status)
        self.status = status
        self.payload = payload


async def _body(receive: Any) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _Reject(413, {"error": "body_too_large"})
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _answer(send: Any, status: int, payload: dict[str, str]) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})
