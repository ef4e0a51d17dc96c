"""HTTP for webhooks: resolving endpoint hosts and POSTing signed deliveries.

The connection goes to the address that was vetted, not to whatever the host
name resolves to a moment later (no DNS rebinding around the address
policy); TLS still checks the certificate against the host name. Each request
is written with one send (head and body together, Nagle off) and connections
are kept alive per thread and destination.
"""

from __future__ import annotations

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
_MAX_HEAD_BYTES = 64 * 1024

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


class ProtocolError(Exception):
    """The receiver's answer is not HTTP/1.x as we can read it."""


class PeerClosed(ConnectionError):
    """The receiver closed the connection before answering (a stale kept-alive one)."""


class _Reader:
    """Reads one HTTP/1.x response from a socket.

    http.client parses headers through the email package, which cost more
    CPU per delivery than signing and sending together. A webhook response
    needs only the status, whether the connection stays open, and the body
    drained (up to a limit) so the connection can be reused.
    """

    __slots__ = ("buf", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _more(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise PeerClosed("connection closed by the receiver")
        self.buf += chunk

    def _line(self) -> bytes:
        while (end := self.buf.find(b"\r\n")) < 0:
            if len(self.buf) > _MAX_HEAD_BYTES:
                raise ProtocolError("response line too long")
            self._more()
        line, self.buf = self.buf[:end], self.buf[end + 2 :]
        return line

    def _skip(self, count: int) -> None:
        while len(self.buf) < count:
            count -= len(self.buf)
            self.buf = b""
            self._more()
        self.buf = self.buf[count:]

    def response(self) -> tuple[int, bool]:
        """(status, whether the connection may be reused)."""
        while True:
            status, keep_alive, headers = self._head()
            if not 100 <= status < 200:
                break
        if status in (204, 304):
            return status, keep_alive and not self.buf
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return status, self._chunked() and keep_alive and not self.buf
        length = headers.get("content-length")
        if length is None:
            return status, False  # the body runs until the receiver closes
        size = int(length)
        if size < 0:
            raise ProtocolError("negative content-length")
        if size > _MAX_RESPONSE_BYTES:
            return status, False
        self._skip(size)
        return status, keep_alive and not self.buf

    def _head(self) -> tuple[int, bool, dict[str, str]]:
        first = self._line()
        version, _, rest = first.partition(b" ")
        if not version.startswith(b"HTTP/1."):
            if not first and not self.buf:
                raise PeerClosed("empty response")
            raise ProtocolError(f"not an HTTP/1.x status line: {first[:60]!r}")
        try:
            status = int(rest[:3])
        except ValueError as exc:
            raise ProtocolError(f"bad status line: {first[:60]!r}") from exc
        headers: dict[str, str] = {}
        size = 0
        while line := self._line():
            size += len(line)
            if size > _MAX_HEAD_BYTES:
                raise ProtocolError("response headers too long")
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        if version == b"HTTP/1.0":
            keep_alive = "keep-alive" in connection
        else:
            keep_alive = "close" not in connection
        return status, keep_alive, headers

    def _chunked(self) -> bool:
        """Drain a chunked body; False when it is too large to drain (drop the connection)."""
        total = 0
        while True:
            try:
                size = int(self._line().split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise ProtocolError("bad chunk size") from exc
            if size == 0:
                while self._line():  # trailers, up to the empty line
                    pass
                return True
            total += size
            if total > _MAX_RESPONSE_BYTES:
                return False
            self._skip(size + 2)


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
                status, keep_alive = _Reader(sock).response()
                if not keep_alive:
                    self._drop(key)
                return AttemptResult(status, _millis(started))
            except TimeoutError:
                self._drop(key)
                return AttemptResult(0, _millis(started), "timed out")
            except (OSError, ProtocolError, ValueError) as exc:
                self._drop(key)
                # A kept-alive connection the receiver closed meanwhile: once more, fresh.
                if (
                    reused
                    and attempt == 1
                    and isinstance(exc, (PeerClosed, BrokenPipeError, ConnectionResetError))
                ):
                    continue
                error = f"{type(exc).__name__}: {exc}"[:_MAX_ERROR]
                return AttemptResult(0, _millis(started), error)
        return AttemptResult(0, _millis(started), "connection lost")


def _millis(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
