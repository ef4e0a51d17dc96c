"""HTTP for webhooks: resolving endpoint hosts and POSTing signed deliveries.

The connection goes to the address that was vetted, not to whatever the host
name resolves to a moment later (no DNS rebinding around the address
policy); TLS still checks the certificate against the host name. Connections
are kept alive per thread and destination.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from accrue.webhooks.model import AttemptResult
from accrue.webhooks.ports import Request

USER_AGENT = "Accrue-Webhooks/1"
_MAX_ERROR = 300


class SocketResolver:
    def resolve(self, host: str, port: int) -> Sequence[str]:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError, ValueError):
            return []
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _PinnedHttps(http.client.HTTPSConnection):
    """HTTPS to a fixed address, with SNI and certificate checks for the host name."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


class HttpSender:
    def __init__(self) -> None:
        self._local = threading.local()

    def _connection(
        self, scheme: str, host: str, port: int, address: str, timeout: float
    ) -> http.client.HTTPConnection:
        pool: dict[tuple[str, str, int, str], http.client.HTTPConnection] = (
            getattr(self._local, "pool", None) or {}
        )
        self._local.pool = pool
        key = (scheme, host, port, address)
        conn = pool.get(key)
        if conn is None:
            if scheme == "https":
                conn = _PinnedHttps(host, port, address=address, timeout=timeout)
            else:
                conn = http.client.HTTPConnection(address, port, timeout=timeout)
            pool[key] = conn
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def _drop(self, scheme: str, host: str, port: int, address: str) -> None:
        pool = getattr(self._local, "pool", {})
        conn = pool.pop((scheme, host, port, address), None)
        if conn is not None:
            conn.close()

    def send(self, request: Request, *, timeout_seconds: float) -> AttemptResult:
        parts = urlsplit(request.url)
        scheme = parts.scheme
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {
            **request.headers,
            "host": parts.netloc.rsplit("@", 1)[-1],
            "user-agent": USER_AGENT,
            "content-length": str(len(request.body)),
        }
        started = time.monotonic()
        for attempt in (1, 2):
            conn = self._connection(scheme, host, port, request.address, timeout_seconds)
            reused = conn.sock is not None
            try:
                conn.request("POST", path, body=request.body, headers=headers)
                response = conn.getresponse()
                response.read(64 * 1024)
                if response.will_close:
                    self._drop(scheme, host, port, request.address)
                return AttemptResult(response.status, _millis(started))
            except TimeoutError:
                self._drop(scheme, host, port, request.address)
                return AttemptResult(0, _millis(started), "timed out")
            except (OSError, http.client.HTTPException) as exc:
                self._drop(scheme, host, port, request.address)
                # A kept-alive connection the receiver closed meanwhile: once more, fresh.
                if (
                    reused
                    and attempt == 1
                    and isinstance(
                        exc, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
                    )
                ):
                    continue
                return AttemptResult(
                    0, _millis(started), f"{type(exc).__name__}: {exc}"[:_MAX_ERROR]
                )
        return AttemptResult(0, _millis(started), "connection lost")


def _millis(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
