"""The simulated PSP as its own HTTP process, so payments are tested across a
real network boundary: responses that never arrive, 503s, slow answers and
webhooks that come back on their own, signed, and are retried.

Wire format (JSON bodies, money as integer minor units):

- `POST /v1/charges` `{idempotency_key, token, amount_minor, currency_code,
  metadata}` -> 200 charge (succeeded), 402 charge (declined), 400/404/409
  `{"error": {"code", "message"}}`, 503 (fault), or no answer at all.
- `GET /v1/charges?idempotency_key=K` -> 200 charge or 404.
- `POST /v1/refunds` `{idempotency_key, charge_id, amount_minor,
  currency_code}` -> 200 refund (succeeded), 402 refund (failed), errors as
  above; `GET /v1/refunds?idempotency_key=K` -> 200 or 404.
- `GET /v1/settlements.csv[?created_from=RFC3339&created_to=RFC3339]`
  (format in `simulator`).
- `GET /v1/_admin/log` -> `{"charges": [...], "refunds": [...],
  "webhooks": [{"id", "type", "attempts", "delivered"}]}`;
  `POST /v1/_admin/faults` with any `Faults` fields -> the faults now in force
  (the fault draws restart only when `seed` is given). Admin calls never
  meet injected latency.

Charge: `{"id": "ch_...", "object": "charge", "idempotency_key",
"amount_minor", "currency_code", "status": "succeeded"|"failed",
"decline_code", "fee_minor", "created": RFC3339, "metadata": {}}`. Refund:
`{"id": "re_...", "object": "refund", "idempotency_key", "charge_id",
"amount_minor", "currency_code", "status", "failure_code", "created"}`.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import logging
import os
import queue
import signal
import socket
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from accrue.kernel.clock import Clock
from accrue.payments.psp.port import PspRefund, PspRejected, PspStatus
from accrue.payments.psp.simulator import Disposition, Faults, SimCharge, SimulatedPsp, rfc3339
from accrue.payments.psp.webhook_signing import SIGNATURE_HEADER, sign, webhook_event_json
from accrue.platform.clock import SystemClock

if TYPE_CHECKING:
    from accrue.metrics.endpoint import MetricsEndpoint

log = logging.getLogger("accrue.psp_sim")
_T = TypeVar("_T")

MAX_BODY_BYTES = 1 << 20
REJECTION_STATUS = {"idempotency_key_reused": 409, "no_such_charge": 404}


def charge_json(record: SimCharge) -> dict[str, Any]:
    charge = record.charge
    return {
        "id": charge.psp_id,
        "object": "charge",
        "idempotency_key": charge.idempotency_key,
        "amount_minor": charge.amount_minor,
        "currency_code": charge.currency_code,
        "status": charge.status.value,
        "decline_code": charge.decline_code,
        "fee_minor": charge.fee_minor,
        "created": rfc3339(charge.create_time),
        "metadata": dict(record.metadata),
    }


def refund_json(refund: PspRefund) -> dict[str, Any]:
    return {
        "id": refund.psp_id,
        "object": "refund",
        "idempotency_key": refund.idempotency_key,
        "charge_id": refund.charge_psp_id,
        "amount_minor": refund.amount_minor,
        "currency_code": refund.currency_code,
        "status": refund.status.value,
        "failure_code": refund.failure_code,
        "created": rfc3339(refund.create_time),
    }


class WebhookDispatcher:
    """Delivers events one at a time, in recording order, from one thread;
    a receiver that fails is retried with doubling pauses, then given up on
    (and the give-up is visible in the admin log)."""

    def __init__(
        self,
        url: str,
        secret: bytes,
        clock: Clock,
        *,
        attempts: int = 5,
        first_pause_seconds: float = 0.2,
        timeout_seconds: float = 5.0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"webhook url must be http(s)://host[:port]/path, not {url!r}")
        self._parts = parts
        self._secret = secret
        self._clock = clock
        self._attempts = attempts
        self._first_pause = first_pause_seconds
        self._timeout = timeout_seconds
        self._queue: queue.Queue[tuple[str, str, bytes] | None] = queue.Queue()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._deliveries: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self._run, name="psp-sim-webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._queue.put(None)
        self._thread.join(timeout=self._timeout + 1)

    def enqueue(self, event_type: str, record: SimCharge | PspRefund) -> None:
        if isinstance(record, SimCharge):
            data, psp_id = charge_json(record), record.charge.psp_id
            created_at = record.charge.create_time
        else:
            data, psp_id, created_at = refund_json(record), record.psp_id, record.create_time
        # One event per record, so the record's id names it: receivers dedupe on it.
        event_id = f"evt_{psp_id}"
        body = webhook_event_json(event_id, event_type, int(created_at.timestamp()), data)
        self._queue.put((event_id, event_type, body))

    def deliveries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(d) for d in self._deliveries]

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self._queue.get()
            if item is None:
                return
            event_id, event_type, body = item
            delivery: dict[str, Any] = {
                "id": event_id,
                "type": event_type,
                "attempts": 0,
                "delivered": False,
            }
            with self._lock:
                self._deliveries.append(delivery)
            pause = self._first_pause
            for attempt in range(1, self._attempts + 1):
                with self._lock:
                    delivery["attempts"] = attempt
                if self._post(body):
                    with self._lock:
                        delivery["delivered"] = True
                    break
                if attempt == self._attempts or self._stop.wait(pause):
                    log.warning("webhook not delivered", extra={"event_id": event_id})
                    break
                pause *= 2

    def _post(self, body: bytes) -> bool:
        parts = self._parts
        factory = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        conn = factory(parts.hostname or "", parts.port, timeout=self._timeout)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: sign(self._secret, body, int(self._clock.now().timestamp())),
        }
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()
        return 200 <= response.status < 300


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 resets connections when many callers connect at once.
    request_queue_size = 256
    sim: SimulatedPsp
    webhooks: WebhookDispatcher | None

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (its timeout) is the simulator doing its job.
        log.debug("connection error", exc_info=True)


class _RequestInvalid(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a gateway's pooled connection expects
    # Headers and body leave in one segment; written separately, Nagle's algorithm
    # holds the body until the client's delayed ACK (about 40 ms per response).
    wbufsize = -1
    disable_nagle_algorithm = True
    server: _Server
    _latency = 0.0  # seconds still to wait before this request's answer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        route = {
            ("POST", "/v1/charges"): self._create_charge,
            ("GET", "/v1/charges"): self._get_charge,
            ("POST", "/v1/refunds"): self._create_refund,
            ("GET", "/v1/refunds"): self._get_refund,
            ("GET", "/v1/settlements.csv"): self._settlements,
            ("GET", "/v1/_admin/log"): self._admin_log,
            ("POST", "/v1/_admin/faults"): self._admin_faults,
        }.get((method, url.path))
        # Injected latency delays every answer of the PSP's API, errors included.
        admin = url.path.startswith("/v1/_admin/")
        self._latency = 0.0 if admin else self.server.sim.faults.latency_ms / 1000
        try:
            body = self._read_body()
            if route is None:
                self._error(404, "not_found", f"no route {method} {url.path}")
                return
            route(body, {k: v[-1] for k, v in parse_qs(url.query).items()})
        except _RequestInvalid as exc:
            self._error(400, "invalid_request", str(exc))
        except PspRejected as exc:
            self._error(REJECTION_STATUS.get(exc.code, 400), exc.code, str(exc))

    def _read_body(self) -> bytes:
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True
            raise _RequestInvalid(f"content-length must be 0 to {MAX_BODY_BYTES}")
        return self.rfile.read(length) if length else b""

    def _create_charge(self, raw: bytes, _query: Mapping[str, str]) -> None:
        body = _json_object(raw)
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise _RequestInvalid("metadata must be an object of strings")
        outcome = self.server.sim.charge(
            idempotency_key=_field(body, "idempotency_key", str),
            token=_field(body, "token", str),
            amount_minor=_field(body, "amount_minor", int),
            currency_code=_field(body, "currency_code", str),
            metadata=metadata,
        )
        self._latency = 0.0  # already part of the outcome's delay
        time.sleep(outcome.delay_seconds)
        if outcome.disposition is Disposition.UNAVAILABLE or outcome.charge is None:
            self._error(503, "unavailable", "the PSP is temporarily unavailable")
        elif outcome.disposition is Disposition.LOSE_RESPONSE:
            self._hang_up()
        else:
            status = 200 if outcome.charge.charge.status is PspStatus.SUCCEEDED else 402
            self._json(status, charge_json(outcome.charge))

    def _create_refund(self, raw: bytes, _query: Mapping[str, str]) -> None:
        body = _json_object(raw)
        outcome = self.server.sim.refund(
            idempotency_key=_field(body, "idempotency_key", str),
            charge_psp_id=_field(body, "charge_id", str),
            amount_minor=_field(body, "amount_minor", int),
            currency_code=_field(body, "currency_code", str),
        )
        self._latency = 0.0
        time.sleep(outcome.delay_seconds)
        if outcome.disposition is Disposition.UNAVAILABLE or outcome.refund is None:
            self._error(503, "unavailable", "the PSP is temporarily unavailable")
        elif outcome.disposition is Disposition.LOSE_RESPONSE:
            self._hang_up()
        else:
            status = 200 if outcome.refund.status is PspStatus.SUCCEEDED else 402
            self._json(status, refund_json(outcome.refund))

    def _get_charge(self, _raw: bytes, query: Mapping[str, str]) -> None:
        record = self.server.sim.retrieve_charge(_param(query, "idempotency_key"))
        if record is None:
            self._error(404, "not_found", "no charge with this idempotency key")
        else:
            self._json(200, charge_json(record))

    def _get_refund(self, _raw: bytes, query: Mapping[str, str]) -> None:
        refund = self.server.sim.retrieve_refund(_param(query, "idempotency_key"))
        if refund is None:
            self._error(404, "not_found", "no refund with this idempotency key")
        else:
            self._json(200, refund_json(refund))

    def _settlements(self, _raw: bytes, query: Mapping[str, str]) -> None:
        text = self.server.sim.settlement_csv(
            created_from=_instant(query.get("created_from")),
            created_to=_instant(query.get("created_to")),
        )
        self._send(200, text.encode(), "text/csv; charset=utf-8")

    def _admin_log(self, _raw: bytes, _query: Mapping[str, str]) -> None:
        sim, webhooks = self.server.sim, self.server.webhooks
        self._json(
            200,
            {
                "charges": [charge_json(c) for c in sim.charges()],
                "refunds": [refund_json(r) for r in sim.refunds()],
                "webhooks": webhooks.deliveries() if webhooks else [],
            },
        )

    def _admin_faults(self, raw: bytes, _query: Mapping[str, str]) -> None:
        changes = _json_object(raw)
        sim = self.server.sim
        faults = faults_with(sim.faults, changes)
        sim.set_faults(faults, reseed="seed" in changes)
        self._json(200, faults_json(faults))

    def _hang_up(self) -> None:
        """Lose the response: close the connection without a byte of answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _error(self, status: int, code: str, message: str) -> None:
        self._json(status, {"error": {"code": code, "message": message}})

    def _json(self, status: int, payload: Mapping[str, Any]) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        if self._latency:
            time.sleep(self._latency)
        try:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True  # the client has gone (its timeout)


def faults_json(faults: Faults) -> dict[str, Any]:
    return {
        "drop_success_rate": faults.drop_success_rate,
        "error_rate": faults.error_rate,
        "latency_ms": faults.latency_ms,
        "slow_seconds": faults.slow_seconds,
        "seed": faults.seed,
    }


def faults_with(current: Faults, changes: Mapping[str, Any]) -> Faults:
    """`current` with the fields in `changes` replaced, each type-checked."""
    unknown = set(changes) - set(faults_json(current))
    if unknown:
        raise _RequestInvalid(f"unknown fault fields {sorted(unknown)}")
    merged = {**faults_json(current), **changes}
    for name, value in merged.items():
        kinds = (int,) if name in ("latency_ms", "seed") else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise _RequestInvalid(f"{name} must be a number")
    try:
        return Faults(
            drop_success_rate=float(merged["drop_success_rate"]),
            error_rate=float(merged["error_rate"]),
            latency_ms=merged["latency_ms"],
            slow_seconds=float(merged["slow_seconds"]),
            seed=merged["seed"],
        )
    except ValueError as exc:
        raise _RequestInvalid(str(exc)) from exc


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise _RequestInvalid("body is not JSON") from exc
    if not isinstance(body, dict):
        raise _RequestInvalid("body must be a JSON object")
    return body


def _field(body: Mapping[str, Any], name: str, kind: type[_T]) -> _T:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise _RequestInvalid(f"{name} is required and must be of type {kind.__name__}")
    return value


def _param(query: Mapping[str, str], name: str) -> str:
    value = query.get(name)
    if not value:
        raise _RequestInvalid(f"query parameter {name} is required")
    return value


def _instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        instant = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _RequestInvalid(f"{value!r} is not an RFC 3339 time") from exc
    if instant.tzinfo is None:
        raise _RequestInvalid(f"{value!r} has no UTC offset")
    return instant


class PspSimulatorServer:
    """The HTTP server on its own threads, for `main` and for tests that
    want the wire without a second process."""

    def __init__(
        self,
        sim: SimulatedPsp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        webhooks: WebhookDispatcher | None = None,
    ) -> None:
        self._http = _Server((host, port), _Handler)
        self._http.sim = sim
        self._http.webhooks = webhooks
        self._webhooks = webhooks
        self._thread = threading.Thread(
            target=self._http.serve_forever, name="psp-sim-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    def start(self) -> int:
        if self._webhooks is not None:
            self._webhooks.start()
        self._thread.start()
        return self.port

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        if self._webhooks is not None:
            self._webhooks.stop()


def _env(name: str, default: str) -> str:
    return os.environ.get(f"ACCRUE_PSP_SIM_{name}", default)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="accrue psp-sim",
        description="Run the simulated PSP over HTTP (flags default to env ACCRUE_PSP_SIM_*).",
    )
    p.add_argument("--host", default=_env("HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(_env("PORT", "8090")), help="0 = any free")
    p.add_argument("--seed", type=int, default=int(_env("SEED", "0")))
    p.add_argument(
        "--drop-success-rate",
        type=float,
        default=float(_env("DROP_SUCCESS_RATE", "0")),
        help="fraction of successful charge responses lost after recording",
    )
    p.add_argument(
        "--error-rate",
        type=float,
        default=float(_env("ERROR_RATE", "0")),
        help="fraction of charge/refund requests answered 503 unprocessed",
    )
    p.add_argument("--latency-ms", type=int, default=int(_env("LATENCY_MS", "0")))
    p.add_argument(
        "--slow-seconds",
        type=float,
        default=float(_env("SLOW_SECONDS", "5")),
        help="delay of tok_slow responses",
    )
    p.add_argument("--webhook-url", default=_env("WEBHOOK_URL", "") or None)
    p.add_argument("--webhook-secret", default=_env("WEBHOOK_SECRET", "") or None)
    p.add_argument(
        "--metrics-port",
        type=int,
        default=int(_env("METRICS_PORT", "-1")),
        help="serve /metrics, /healthz, /readyz on this port (0 = any free; -1 = off)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        faults = Faults(
            drop_success_rate=args.drop_success_rate,
            error_rate=args.error_rate,
            latency_ms=args.latency_ms,
            slow_seconds=args.slow_seconds,
            seed=args.seed,
        )
    except ValueError as exc:
        parser.error(str(exc))
    if args.webhook_url and not args.webhook_secret:
        parser.error("--webhook-url needs --webhook-secret")
    clock = SystemClock()
    sim = SimulatedPsp(clock, seed=args.seed, faults=faults)
    webhooks = None
    if args.webhook_url:
        webhooks = WebhookDispatcher(args.webhook_url, args.webhook_secret.encode(), clock)
        sim.add_listener(webhooks.enqueue)
    server = PspSimulatorServer(sim, host=args.host, port=args.port, webhooks=webhooks)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    port = server.start()
    endpoint = _serve_metrics(sim, args.host, args.metrics_port)
    metrics = "" if endpoint is None else f" metrics={endpoint.port}"
    print(f"READY psp-sim port={port}{metrics}", flush=True)
    stop.wait()
    server.stop()
    if endpoint is not None:
        endpoint.close()
    return 0


def _serve_metrics(sim: SimulatedPsp, host: str, port: int) -> MetricsEndpoint | None:
    """The simulator's own metrics: what it recorded (charges, refunds by outcome)."""
    if port < 0:
        return None
    from prometheus_client import Counter

    from accrue.metrics.endpoint import start_metrics_endpoint
    from accrue.metrics.process import new_registry

    registry = new_registry("psp-sim")
    recorded = Counter(
        "accrue_psp_sim_records",
        "Charges and refunds the simulator recorded, by event type",
        ["type"],
        registry=registry,
    )
    sim.add_listener(lambda event_type, _record: recorded.labels(event_type).inc())
    return start_metrics_endpoint(registry, host, port)


if __name__ == "__main__":
    raise SystemExit(main())
