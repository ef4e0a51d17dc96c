"""The simulated PSP as a separate process (`accrue psp-sim`), driven through
HttpPaymentGateway: every failure class arrives as the exception that tells
the caller what it may safely do, and webhooks come back signed."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from accrue.payments.psp.http_gateway import HttpPaymentGateway, charge_from_json
from accrue.payments.psp.port import (
    PspCharge,
    PspOutcomeUnknown,
    PspRejected,
    PspStatus,
    PspUnavailable,
)
from accrue.payments.psp.webhook_signing import SIGNATURE_HEADER, verify

pytestmark = pytest.mark.timeout(60)

SECRET = "whsec_integration"
SLOW_SECONDS = 2


# --- a webhook receiver -----------------------------------------------------


@dataclass
class Receiver:
    """Collects webhook deliveries; answers 500 to the first N deliveries of an
    event whose charge metadata asks for it (`fail_webhook: "N"`)."""

    port: int = 0
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    failures_left: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for _, body in self.received]

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool]) -> tuple[dict[str, str], bytes]:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with self.lock:
                for headers, body in self.received:
                    if predicate(json.loads(body)):
                        return headers, body
            time.sleep(0.05)
        raise AssertionError(f"no matching webhook; got {self.events()}")


def _receiver_handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            event = json.loads(body)
            wanted = int(event["data"].get("metadata", {}).get("fail_webhook", "0"))
            with receiver.lock:
                left = receiver.failures_left.setdefault(event["id"], wanted)
                if left > 0:
                    receiver.failures_left[event["id"]] = left - 1
                else:
                    receiver.received.append(
                        ({k.lower(): v for k, v in self.headers.items()}, body)
                    )
            self.send_response(500 if left > 0 else 204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _receiver_handler(state))
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


# --- the simulator process --------------------------------------------------


def start_psp_sim(*args: str) -> tuple[subprocess.Popen[str], int]:
    """`accrue psp-sim --port 0 ...`; returns the process and its port once ready."""
    process = subprocess.Popen(
        [sys.executable, "-m", "accrue.cli", "psp-sim", "--port", "0", *args],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        match = re.fullmatch(r"READY psp-sim port=(\d+)\n", line)
        if match:
            return process, int(match.group(1))
        if not line and process.poll() is not None:
            break
    process.kill()
    raise AssertionError("psp-sim did not become ready")


def stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


@pytest.fixture(scope="module")
def psp(receiver: Receiver) -> Iterator[str]:
    process, port = start_psp_sim(
        "--seed",
        "11",
        "--slow-seconds",
        str(SLOW_SECONDS),
        "--webhook-url",
        f"http://127.0.0.1:{receiver.port}/hooks/psp",
        "--webhook-secret",
        SECRET,
    )
    yield f"http://127.0.0.1:{port}"
    assert stop(process) == 0


@pytest.fixture
def gateway(psp: str) -> Iterator[HttpPaymentGateway]:
    gw = HttpPaymentGateway(psp, timeout_seconds=10)
    yield gw
    gw.close()


def key() -> str:
    return f"pay-{uuid.uuid4().hex}"


def pay(
    gw: HttpPaymentGateway,
    idempotency_key: str,
    token: str = "tok_visa",
    amount: int = 2000,
    currency: str = "USD",
    metadata: dict[str, str] | None = None,
) -> PspCharge:
    return gw.charge(
        idempotency_key=idempotency_key,
        token=token,
        amount_minor=amount,
        currency_code=currency,
        metadata=metadata or {},
    )


def admin(base_url: str, method: str, path: str, body: Any = None) -> tuple[int, bytes, str]:
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body))
        response = conn.getresponse()
        return response.status, response.read(), response.getheader("content-type") or ""
    finally:
        conn.close()


# --- charges ----------------------------------------------------------------


def test_successful_charge_is_returned_and_logged_by_the_psp(
    gateway: HttpPaymentGateway, psp: str
) -> None:
    k = key()
    charged = pay(gateway, k, metadata={"invoice": "INV-000001"})
    assert charged.status is PspStatus.SUCCEEDED
    assert charged.psp_id.startswith("ch_") and charged.idempotency_key == k
    assert (charged.amount_minor, charged.currency_code, charged.fee_minor) == (2000, "USD", 88)
    assert charged.create_time.tzinfo is not None
    assert gateway.retrieve_charge(k) == charged

    status, body, _ = admin(psp, "GET", "/v1/_admin/log")
    assert status == 200
    logged = [c for c in json.loads(body)["charges"] if c["idempotency_key"] == k]
    assert len(logged) == 1 and logged[0]["metadata"] == {"invoice": "INV-000001"}
    assert charge_from_json(logged[0]) == charged


def test_same_key_is_one_charge_and_other_parameters_conflict(
    gateway: HttpPaymentGateway, psp: str
) -> None:
    k = key()
    first = pay(gateway, k)
    assert pay(gateway, k) == first
    with pytest.raises(PspRejected) as caught:
        pay(gateway, k, amount=2001)
    assert caught.value.code == "idempotency_key_reused"
    _, body, _ = admin(psp, "GET", "/v1/_admin/log")
    assert [c["idempotency_key"] for c in json.loads(body)["charges"]].count(k) == 1


@pytest.mark.parametrize(
    ("token", "decline"),
    [
        ("tok_insufficient_funds", "insufficient_funds"),
        ("tok_do_not_honor", "do_not_honor"),
        ("tok_expired_card", "expired_card"),
        ("tok_fraud", "fraudulent"),
    ],
)
def test_declines_are_failed_charges_not_errors(
    gateway: HttpPaymentGateway, token: str, decline: str
) -> None:
    k = key()
    declined = pay(gateway, k, token=token)
    assert declined.status is PspStatus.FAILED
    assert declined.decline_code == decline and declined.fee_minor == 0
    assert gateway.retrieve_charge(k) == declined


def test_bad_token_is_rejected(gateway: HttpPaymentGateway) -> None:
    with pytest.raises(PspRejected) as caught:
        pay(gateway, key(), token="4242424242424242")
    assert caught.value.code == "invalid_token"


def test_lost_response_is_outcome_unknown_and_retrieval_finds_the_charge(
    gateway: HttpPaymentGateway,
) -> None:
    k = key()
    with pytest.raises(PspOutcomeUnknown):
        pay(gateway, k, token="tok_lost_response")
    found = gateway.retrieve_charge(k)
    assert found is not None and found.status is PspStatus.SUCCEEDED
    # The gateway reconnects after the lost response: the next call works.
    assert pay(gateway, key()).status is PspStatus.SUCCEEDED


def test_503_is_outcome_unknown_and_nothing_was_charged(gateway: HttpPaymentGateway) -> None:
    k = key()
    with pytest.raises(PspOutcomeUnknown):
        pay(gateway, k, token="tok_5xx")
    assert gateway.retrieve_charge(k) is None


def test_slow_answer_past_the_client_timeout_is_outcome_unknown(psp: str) -> None:
    impatient = HttpPaymentGateway(psp, timeout_seconds=0.5)
    k = key()
    started = time.monotonic()
    with pytest.raises(PspOutcomeUnknown):
        pay(impatient, k, token="tok_slow")
    assert time.monotonic() - started < SLOW_SECONDS
    found = impatient.retrieve_charge(k)
    assert found is not None and found.status is PspStatus.SUCCEEDED
    patient = HttpPaymentGateway(psp, timeout_seconds=10)
    started = time.monotonic()
    assert pay(patient, k, token="tok_slow") == found  # the replay is slow too, and answered
    assert time.monotonic() - started >= SLOW_SECONDS


def test_nothing_listening_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gw = HttpPaymentGateway(f"http://127.0.0.1:{port}", timeout_seconds=2)
    with pytest.raises(PspUnavailable):
        pay(gw, key())
    with pytest.raises(PspUnavailable):
        gw.retrieve_charge("anything")


def test_stopped_simulator_is_unavailable_and_sigterm_exits_cleanly() -> None:
    process, port = start_psp_sim()
    gw = HttpPaymentGateway(f"http://127.0.0.1:{port}", timeout_seconds=5)
    assert pay(gw, key()).status is PspStatus.SUCCEEDED
    assert stop(process) == 0
    gw.close()  # a new connection is needed; the process is gone
    with pytest.raises(PspUnavailable):
        pay(gw, key())


def test_injected_faults_change_at_run_time(gateway: HttpPaymentGateway, psp: str) -> None:
    status, body, _ = admin(psp, "POST", "/v1/_admin/faults", {"error_rate": 1.0})
    assert status == 200 and json.loads(body)["error_rate"] == 1.0
    try:
        k = key()
        with pytest.raises(PspOutcomeUnknown):
            pay(gateway, k)
        assert gateway.retrieve_charge(k) is None  # retrievals are never failed on purpose
    finally:
        admin(psp, "POST", "/v1/_admin/faults", {"error_rate": 0.0})
    status, body, _ = admin(psp, "POST", "/v1/_admin/faults", {"error_rate": 2})
    assert status == 400 and json.loads(body)["error"]["code"] == "invalid_request"
    assert pay(gateway, key()).status is PspStatus.SUCCEEDED


# --- refunds and settlement --------------------------------------------------


def test_refunds_over_the_wire(gateway: HttpPaymentGateway) -> None:
    charged = pay(gateway, key(), amount=1000)
    rk = key()
    refunded = gateway.refund(
        idempotency_key=rk, charge_psp_id=charged.psp_id, amount_minor=700, currency_code="USD"
    )
    assert refunded.status is PspStatus.SUCCEEDED and refunded.psp_id.startswith("re_")
    assert refunded.charge_psp_id == charged.psp_id
    assert gateway.retrieve_refund(rk) == refunded
    assert gateway.retrieve_refund(key()) is None
    with pytest.raises(PspRejected) as too_much:
        gateway.refund(
            idempotency_key=key(),
            charge_psp_id=charged.psp_id,
            amount_minor=301,
            currency_code="USD",
        )
    assert too_much.value.code == "amount_too_large"
    with pytest.raises(PspRejected) as missing:
        gateway.refund(
            idempotency_key=key(), charge_psp_id="ch_nope", amount_minor=1, currency_code="USD"
        )
    assert missing.value.code == "no_such_charge"


def test_settlement_report_is_served_as_csv(gateway: HttpPaymentGateway, psp: str) -> None:
    k = key()
    charged = pay(gateway, k, amount=1234, currency="JPY")
    status, body, content_type = admin(psp, "GET", "/v1/settlements.csv")
    assert status == 200 and content_type.startswith("text/csv")
    lines = body.decode().splitlines()
    assert lines[0] == "type,psp_id,reference,currency,gross,fee,net,payout_id,created"
    row = next(line for line in lines if f",{k}," in line).split(",")
    assert row[:7] == ["charge", charged.psp_id, k, "JPY", "1234", "36", "1198"]
    future = "2999-01-01T00:00:00Z"
    _, body, _ = admin(psp, "GET", f"/v1/settlements.csv?created_from={future}")
    assert body.decode().splitlines()[1:] == []


# --- webhooks ---------------------------------------------------------------


def test_webhooks_arrive_signed_for_charges_and_refunds(
    gateway: HttpPaymentGateway, receiver: Receiver
) -> None:
    charged = pay(gateway, key())
    declined = pay(gateway, key(), token="tok_do_not_honor")
    refunded = gateway.refund(
        idempotency_key=key(), charge_psp_id=charged.psp_id, amount_minor=5, currency_code="USD"
    )
    expected = [
        (charged.psp_id, "charge.succeeded"),
        (declined.psp_id, "charge.failed"),
        (refunded.psp_id, "refund.succeeded"),
    ]
    for psp_id, event_type in expected:
        headers, body = receiver.wait_for(lambda e, i=psp_id: e["data"]["id"] == i)
        verify(SECRET.encode(), body, headers[SIGNATURE_HEADER], now=int(time.time()))
        event = json.loads(body)
        assert event["id"] == f"evt_{psp_id}" and event["type"] == event_type
        assert isinstance(event["created"], int)
        with pytest.raises(Exception, match="bad_signature"):
            verify(b"wrong", body, headers[SIGNATURE_HEADER], now=int(time.time()))
    charge_event = json.loads(receiver.wait_for(lambda e: e["data"]["id"] == charged.psp_id)[1])
    assert charge_from_json(charge_event["data"]) == charged


def test_failed_webhook_deliveries_are_retried(
    gateway: HttpPaymentGateway, receiver: Receiver, psp: str
) -> None:
    charged = pay(gateway, key(), metadata={"fail_webhook": "2"})
    headers, body = receiver.wait_for(lambda e: e["data"]["id"] == charged.psp_id)
    verify(SECRET.encode(), body, headers[SIGNATURE_HEADER], now=int(time.time()))
    deadline = time.monotonic() + 10
    while True:  # the PSP marks it delivered once our answer is back
        _, log, _ = admin(psp, "GET", "/v1/_admin/log")
        deliveries = json.loads(log)["webhooks"]
        delivery = next(d for d in deliveries if d["id"] == f"evt_{charged.psp_id}")
        if delivery["delivered"] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert delivery == {
        "id": f"evt_{charged.psp_id}",
        "type": "charge.succeeded",
        "attempts": 3,
        "delivered": True,
    }
