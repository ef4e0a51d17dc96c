"""A real Prometheus scrapes a running server and evaluates the SLO alerts.

Prometheus (Debian's binary) runs on 127.0.0.1 with a temporary data
directory, scraping the server's metrics endpoint every second. The rules
are the ones in deploy/prometheus with their windows shortened (5m -> 3s,
1h -> 6s, ... see WINDOWS) and evaluated every second: the expressions,
thresholds and the multi-window logic are exactly those deployed; only
time is compressed, so a test can watch an alert go from quiet to firing
in seconds instead of an hour.

Healthy phase: CreatePayment calls succeed; the error ratio is recorded
as 0 and no burn-rate alert is active. Outage phase: the PSP answers 503
until the circuit breaker opens, after which every CreatePayment fails
UNAVAILABLE (PSP_UNAVAILABLE); CreatePaymentErrorBudgetBurnFast fires.
Exemplars stored by Prometheus carry the server's trace ids.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from accrue.billing.v1 import customer_pb2 as cus
from accrue.billing.v1 import payment_pb2 as pay
from accrue.billing.v1.money_pb2 import Money
from accrue.metrics.endpoint import MetricsEndpoint, serve_metrics
from tests.observability.prometheus_tools import binary
from tests.support import GrpcClients, RunningServer, running_server

pytestmark = pytest.mark.timeout(90)

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
WINDOWS = {"5m": "3s", "30m": "5s", "1h": "6s", "2h": "8s", "6h": "8s", "1d": "10s", "3d": "10s"}
FAST_BURN = "CreatePaymentErrorBudgetBurnFast"
PAYMENTS = "accrue.billing.v1.PaymentService"
CUSTOMERS = "accrue.billing.v1.CustomerService"


def compressed_rules(target: Path) -> list[str]:
    """The deployed rule files with shortened windows and a 1 s evaluation interval."""
    names = []
    for name in ("recording_rules.yml", "alerts.yml"):
        text = (RULES / name).read_text()
        for long, short in WINDOWS.items():
            text = text.replace(f"[{long}]", f"[{short}]")
        text = re.sub(r"interval: \d+[smh]", "interval: 1s", text)
        (target / name).write_text(text)
        names.append(str(target / name))
    return names


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Prometheus:
    def __init__(self, workdir: Path, metrics_port: int) -> None:
        rules = compressed_rules(workdir)
        config = workdir / "prometheus.yml"
        config.write_text(
            json.dumps(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": rules,
                    "scrape_configs": [
                        {
                            "job_name": "accrue",
                            "scrape_interval": "1s",
                            "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}],
                        }
                    ],
                }
            )
        )
        self.port = _free_port()
        self.log = workdir / "prometheus.log"
        self._process = subprocess.Popen(
            [
                binary("prometheus"),
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--enable-feature=exemplar-storage",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )

    def api(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}" + (f"?{query}" if query else "")
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def wait_ready(self, deadline: float) -> None:
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/-/ready", timeout=1
                ) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"prometheus did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)

    def alert_states(self) -> dict[str, str]:
        return {a["labels"]["alertname"]: a["state"] for a in self.api("alerts")["alerts"]}

    def scalar(self, query: str) -> float | None:
        result = self.api("query", query=query)["result"]
        return float(result[0]["value"][1]) if result else None

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(5)


class Load:
    """CreatePayment calls in a loop from one thread until stopped; tallies codes."""

    def __init__(self, clients: GrpcClients, customer_id: str) -> None:
        self._clients = clients
        self._customer = customer_id
        self._stop = threading.Event()
        self.codes: dict[str, int] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            code = "OK"
            try:
                self._clients.call(PAYMENTS, "CreatePayment", _payment(self._customer))
            except grpc.RpcError as error:
                code = error.code().name  # type: ignore[attr-defined]
            self.codes[code] = self.codes.get(code, 0) + 1
            self._stop.wait(0.03)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def _payment(customer_id: str) -> pay.CreatePaymentRequest:
    return pay.CreatePaymentRequest(
        customer_id=customer_id,
        amount=Money(amount_minor=1000, currency_code="USD"),
        request_id=str(uuid.uuid4()),
    )


def _customer(clients: GrpcClients, token: str) -> str:
    customer = clients.call(
        CUSTOMERS,
        "CreateCustomer",
        cus.CreateCustomerRequest(
            customer=cus.Customer(display_name="Payer", currency_code="USD"),
            request_id=str(uuid.uuid4()),
        ),
    )
    clients.call(
        CUSTOMERS,
        "AttachPaymentMethod",
        cus.AttachPaymentMethodRequest(
            customer_id=customer.id,
            payment_method=cus.PaymentMethod(
                psp="simulated", token=token, type=cus.PAYMENT_METHOD_TYPE_CARD
            ),
            make_default=True,
            request_id=str(uuid.uuid4()),
        ),
    )
    return str(customer.id)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[RunningServer, MetricsEndpoint, Prometheus]]:
    binary("prometheus")
    with running_server(
        f"sqlite:///{tmp_path / 'accrue.db'}",
        psp_retry_attempts=2,
        psp_retry_base_seconds=0.001,
        psp_retry_cap_seconds=0.002,
        # One failure opens the breaker. With two, a success of the healthy load
        # landing between the failing call's two attempts resets the count of
        # consecutive failures, and on a busy machine the outage then never
        # opened the breaker nor fired the alert.
        psp_breaker_failures=1,
        psp_breaker_reset_seconds=600,
        payment_rate_per_second=0,
    ) as server:
        endpoint = serve_metrics(server.app)
        assert endpoint is not None
        prometheus = Prometheus(tmp_path, endpoint.port)
        try:
            yield server, endpoint, prometheus
        finally:
            prometheus.stop()
            endpoint.close()


def test_burn_rate_alert_fires_on_psp_outage_and_not_when_healthy(
    stack: tuple[RunningServer, MetricsEndpoint, Prometheus],
) -> None:
    server, _endpoint, prometheus = stack
    started = time.monotonic()
    prometheus.wait_ready(started + 20)
    clients = GrpcClients(server.grpc_target, server.new_tenant("slo"))
    try:
        healthy = _customer(clients, "tok_visa")
        failing = _customer(clients, "tok_5xx")
        load = Load(clients, healthy)
        try:
            # Healthy: wait until the longest window is full of healthy data.
            deadline = time.monotonic() + 25
            while True:
                ratio = prometheus.scalar("accrue:create_payment_error_ratio:rate1h")
                requests = prometheus.scalar("accrue:create_payment_requests:rate3d")
                if ratio is not None and requests and time.monotonic() - started > 12:
                    break
                assert time.monotonic() < deadline, "no healthy error ratio was recorded"
                time.sleep(0.5)
            assert ratio == 0
            assert FAST_BURN not in prometheus.alert_states()
            assert load.codes.get("OK", 0) > 0 and set(load.codes) == {"OK"}

            # Outage: the PSP answers 503 until its breaker opens; then every call fails.
            clients.call(PAYMENTS, "CreatePayment", _payment(failing))  # unknown outcome
            deadline = time.monotonic() + 25
            while prometheus.alert_states().get(FAST_BURN) != "firing":
                assert time.monotonic() < deadline, (
                    f"{FAST_BURN} never fired; alerts {prometheus.alert_states()}, "
                    f"calls {load.codes}"
                )
                time.sleep(0.5)
        finally:
            load.stop()
        assert load.codes.get("UNAVAILABLE", 0) > 0
        breaker_open = prometheus.scalar('accrue_psp_breaker_state{state="open"}')
        assert breaker_open == 1

        # Exemplars reached Prometheus with trace ids.
        now = time.time()
        exemplars = prometheus.api(
            "query_exemplars",
            query='accrue_rpc_duration_seconds_bucket{method="CreatePayment"}',
            start=str(now - 120),
            end=str(now),
        )
        trace_ids = {e["labels"]["trace_id"] for series in exemplars for e in series["exemplars"]}
        assert trace_ids and all(re.fullmatch(r"[0-9a-f]{32}", t) for t in trace_ids)
    finally:
        clients.close()
    assert time.monotonic() - started < 60
