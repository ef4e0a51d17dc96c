"""`GET /i/<token>` on the Connect (HTTP) port: the hosted invoice page.

No API key: the signed token is the credential, and it names exactly one
tenant's invoice. A link that is malformed, tampered with, expired, signed
with another key or naming an invoice that is not there gets the same 404
page with the same headers, so a refusal reveals nothing.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from accrue.invoicing.documents.page import HEADERS, NOT_FOUND_PAGE
from accrue.invoicing.documents.service import DocumentService

log = logging.getLogger("accrue.invoice_page")
PREFIX = "/i/"


class InvoicePageEndpoint:
    def __init__(self, documents: DocumentService, *, executor: ThreadPoolExecutor) -> None:
        self._documents = documents
        self._executor = executor

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        method = scope.get("method", "")
        if method not in ("GET", "HEAD"):
            await _answer(send, 405, "", head=False, allow=True)
            return
        path: str = scope.get("path", "")
        token = path.removeprefix(PREFIX) if path.startswith(PREFIX) else ""
        page = None
        if token and "/" not in token:
            loop = asyncio.get_running_loop()
            try:
                page = await loop.run_in_executor(self._executor, self._documents.page, token)
            except Exception:
                log.exception("invoice page failed")
                await _answer(send, 500, "<!doctype html><title>Error</title>", head=False)
                return
        if page is None:
            await _answer(send, 404, NOT_FOUND_PAGE, head=method == "HEAD")
            return
        await _answer(send, 200, page, head=method == "HEAD")


async def _answer(send: Any, status: int, page: str, *, head: bool, allow: bool = False) -> None:
    body = page.encode("utf-8")
    headers = [(k.encode(), v.encode()) for k, v in HEADERS]
    headers.append((b"content-length", str(len(body)).encode()))
    if allow:
        headers.append((b"allow", b"GET, HEAD"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
