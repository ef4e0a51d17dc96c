"""HTTP for webhooks: resolving endpoint hosts and POSTing signed deliveries.

The connection goes to the address that was vetted, not to whatever the host
name resolves to a moment later (no DNS rebinding around the address
policy); TLS still checks the certificate against the host name. Each request
is written with one send (head and body together, Nagle off) and connections
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
_MAX_RESPONSE_BYTES = 64 * 1024

Key = tuple[str, str, int, str]


class SocketResolver:
    def resolve(self, host: str, port: int) -> Sequence[str]:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError, ValueError):
            return []
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _open(key: Key, timeout: float) -> socket.socket:
    scheme, host, port, address = key
    raw = socket.create_connection((address, port), timeout)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if scheme != "https":
        return raw
    return ssl.create_default_context().wrap_socket(raw, server_hostname=host)


class HttpSender:
    def __init__(self) -> None:
        self._local = threading.local()

    def _pool(self) -> dict[Key, socket.socket]:
        pool: dict[Key, socket.socket] | None = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = {}
        return pool

    def _drop(self, key: Key) -> None:
        sock = self._pool().pop(key, None)
        if sock is not None:
            sock.close()

    def send(self, request: Request, *, timeout_seconds: float) -> AttemptResult:
        parts = urlsplit(request.url)
        scheme = parts.scheme
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        key = (scheme, host, port, request.address)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {
            **request.headers,
            "host": parts.netloc.rsplit("@", 1)[-1],
            "user-agent": USER_AGENT,
            "content-length": str(len(request.body)),
        }
        head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        message = head.encode("latin-1") + b"\r\n" + request.body
        started = time.monotonic()
        for attempt in (1, 2):
            pool = self._pool()
            reused = key in pool
            try:
                sock = pool.get(key) or _open(key, timeout_seconds)
                pool[key] = sock
                sock.settimeout(timeout_seconds)
                sock.sendall(message)
                response = http.client.HTTPResponse(sock, method="POST")
                response.begin()
                response.read(_MAX_RESPONSE_BYTES)
                if response.will_close or not response.isclosed():
                    self._drop(key)
                return AttemptResult(response.status, _millis(started))
            except TimeoutError:
                self._drop(key)
                return AttemptResult(0, _millis(started), "timed out")
            except (OSError, http.client.HTTPException) as exc:
                self._drop(key)
                # A kept-alive connection the receiver closed meanwhile: once more, fresh.
                if (
                    reused
                    and attempt == 1
                    and isinstance(
                        exc,
                        (
                            http.client.RemoteDisconnected,
                            http.client.BadStatusLine,
                            BrokenPipeError,
                            ConnectionResetError,
                        ),
                    )
                ):
                    continue
                error = f"{type(exc).__name__}: {exc}"[:_MAX_ERROR]
                return AttemptResult(0, _millis(started), error)
        return AttemptResult(0, _millis(started), "connection lost")


def _millis(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
