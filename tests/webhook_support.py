"""Webhook test helpers: a faulty receiver, a clock near real time, event writers."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from accrue.bootstrap import Application
from accrue.customers.service import CustomerService, NewCustomer
from accrue.event_log.service import EventRecorder


class NearRealClock:
    """Real time plus an offset tests can move forward.

    Receivers verify `webhook-timestamp` against their own clock (within five
    minutes), so tests that check signatures move time by less than that.
    """

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._offset += delta


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """Senders that time out reset their connections; that is expected here."""


@dataclass
class Received:
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    path: str
    at: float


@dataclass
class Faults:
    """What the receiver does to each request, drawn from a seeded generator."""

    error_rate: float = 0.0
    timeout_rate: float = 0.0
    hang_seconds: float = 0.0
    seed: int = 1


@dataclass
class Receiver:
    """An HTTP endpoint that records what arrives and answers as `faults` says.

    `accepted` holds one entry per webhook id, the first request answered 2xx
    (what a receiver keeps after de-duplicating by id); `requests` holds every
    request that reached the handler.
    """

    faults: Faults = field(default_factory=Faults)
    requests: list[Received] = field(default_factory=list)
    accepted: dict[str, Received] = field(default_factory=dict)
    accepted_order: dict[str, list[str]] = field(default_factory=dict)
    on_accept: Callable[[Received], None] | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(self.faults.seed)
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: object) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                status = receiver._handle(
                    Received(
                        webhook_id=self.headers.get("webhook-id", ""),
                        headers={k.lower(): v for k, v in self.headers.items()},
                        body=body,
                        path=self.path,
                        at=time.monotonic(),
                    )
                )
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

        server = _QuietServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        """Go down: the port refuses connections until `start` again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _handle(self, item: Received) -> int:
        with self._lock:
            self.requests.append(item)
            draw = self._rng.random()
            already = item.webhook_id in self.accepted
        if draw < self.faults.timeout_rate + self.faults.error_rate and draw >= (
            self.faults.timeout_rate
        ):
            return 500
        if draw < self.faults.timeout_rate:
            # Processed, but answered after the sender gave up: its retry is a
            # duplicate that only de-duplication by id keeps out.
            time.sleep(self.faults.hang_seconds)
        if not already:
            with self._lock:
                if item.webhook_id not in self.accepted:
                    self.accepted[item.webhook_id] = item
                    self.accepted_order.setdefault(item.path, []).append(item.webhook_id)
            if self.on_accept is not None:
                self.on_accept(item)
        return 204


def write_customers(app: Application, tenant_id: str, count: int, *, batch: int = 50) -> None:
    """`count` customer.created events for the tenant, `batch` per transaction."""
    recorder = EventRecorder(app.clock, _ids(app), lambda: "0" * 32)
    customers = CustomerService(app.clock, _ids(app), recorder)
    left = count
    while left:
        n = min(batch, left)
        with app.uow_factory(write=True) as uow:
            for _ in range(n):
                customers.create_customer(
                    uow,
                    tenant_id,
                    NewCustomer(
                        display_name="Webhook Test",
                        email="",
                        currency_code="USD",
                        billing_address=None,
                        tax_location=None,
                        time_zone="",
                        metadata={},
                    ),
                )
            uow.commit()
        left -= n


_IDS: dict[int, object] = {}


def _ids(app: Application):  # type: ignore[no-untyped-def]
    from accrue.kernel.ids import IdGenerator

    key = id(app)
    if key not in _IDS:
        _IDS[key] = IdGenerator(app.clock)
    return _IDS[key]
