"""Metrics tell the truth: a known mix of calls over both transports, then a scrape.

The mix has successes, every typed error a client can provoke from outside
(validation, not found, unauthenticated, idempotency key reused, invalid
page token, rate limited), a declined payment and payments into a PSP
outage (503s: the outcome stays unknown after every retry). The client's
own tally of what happened is the expected value of every counter.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from connectrpc.errors import ConnectError
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import create_engine, text

from accrue.billing.v1 import customer_pb2 as cus
from accrue.billing.v1 import payment_pb2 as pay
from accrue.billing.v1.money_pb2 import Money
from accrue.metrics.endpoint import MetricsEndpoint, serve_metrics
from accrue.platform.health import Readiness
from tests.observability.scrape import get, scrape
from tests.support import (
    ConnectClients,
    GrpcClients,
    RunningServer,
    failure_of_connect,
    failure_of_grpc,
    running_server,
)

pytestmark = pytest.mark.timeout(120)

CUSTOMERS = "accrue.billing.v1.CustomerService"
PAYMENTS = "accrue.billing.v1.PaymentService"
RETRIES = 3  # psp_retry_attempts: every request of an outage payment is answered 503
PAYMENT_BURST = 5  # CreatePayment calls each tenant may make before RATE_LIMITED


@pytest.fixture
def served(database_url: str) -> Iterator[tuple[RunningServer, MetricsEndpoint]]:
    with running_server(
        database_url,
        psp_retry_attempts=RETRIES,
        psp_retry_base_seconds=0.001,
        psp_retry_cap_seconds=0.002,
        psp_breaker_failures=1000,
        payment_rate_per_second=0.001,
        payment_rate_burst=PAYMENT_BURST,
        metrics_state_refresh_seconds=0,
        readiness_check_seconds=0.2,
    ) as server:
        endpoint = serve_metrics(server.app, Readiness(server.app.engine, cache_seconds=0).check)
        assert endpoint is not None
        try:
            yield server, endpoint
        finally:
            endpoint.close()


class Tally:
    """One transport's client, counting every call by (service, method, code, reason)."""

    def __init__(self, transport: str, clients: GrpcClients | ConnectClients) -> None:
        self.transport = transport
        self.clients = clients
        self.calls: Counter[tuple[str, str, str, str, str]] = Counter()
        self.ids: set[str] = set()

    def call(self, service: str, method: str, request: Any) -> Any:
        try:
            response = self.clients.call(service, method, request)
        except grpc.RpcError as error:
            failure = failure_of_grpc(error)
        except ConnectError as error:
            failure = failure_of_connect(error)
        else:
            self.calls[(service, method, self.transport, "OK", "")] += 1
            return response
        self.calls[(service, method, self.transport, failure.code, failure.reason)] += 1
        return failure

    def customer(self, token: str) -> str:
        customer = self.call(
            CUSTOMERS,
            "CreateCustomer",
            cus.CreateCustomerRequest(
                customer=cus.Customer(display_name="Payer", currency_code="USD"),
                request_id=_rid(self),
            ),
        )
        self.ids.add(customer.id)
        self.call(
            CUSTOMERS,
            "AttachPaymentMethod",
            cus.AttachPaymentMethodRequest(
                customer_id=customer.id,
                payment_method=cus.PaymentMethod(
                    psp="simulated", token=token, type=cus.PAYMENT_METHOD_TYPE_CARD
                ),
                make_default=True,
                request_id=_rid(self),
            ),
        )
        return str(customer.id)


def _rid(tally: Tally) -> str:
    request_id = str(uuid.uuid4())
    tally.ids.add(request_id)
    return request_id


def _pay(tally: Tally, customer_id: str, amount: int, request_id: str | None = None) -> Any:
    request = pay.CreatePaymentRequest(
        customer_id=customer_id,
        amount=Money(amount_minor=amount, currency_code="USD"),
        request_id=request_id or _rid(tally),
    )
    response = tally.call(PAYMENTS, "CreatePayment", request)
    if isinstance(response, pay.Payment):
        tally.ids.add(response.id)
    return response


def drive(tally: Tally, server: RunningServer, bad_key_clients: Any) -> dict[str, int]:
    """The mix of one transport; returns the payment outcomes it produced."""
    outcomes: Counter[str] = Counter()
    paying = tally.customer("tok_visa")
    declining = tally.customer("tok_insufficient_funds")
    down = tally.customer("tok_5xx")
    # CreatePayment calls: exactly PAYMENT_BURST before the rate limit answers.
    first = _pay(tally, paying, 1200, request_id="pay-once-" + tally.transport)
    assert first.status == pay.PAYMENT_STATUS_SUCCEEDED
    outcomes["succeeded"] += 1
    again = _pay(tally, paying, 1200, request_id="pay-once-" + tally.transport)
    assert again.id == first.id  # a replay: no second charge
    reused = _pay(tally, paying, 999, request_id="pay-once-" + tally.transport)
    assert reused.reason == "IDEMPOTENCY_KEY_REUSED"
    declined = _pay(tally, declining, 700)
    assert declined.status == pay.PAYMENT_STATUS_FAILED
    outcomes["declined"] += 1
    outage = _pay(tally, down, 500)
    assert outage.status == pay.PAYMENT_STATUS_UNKNOWN, outage
    limited = _pay(tally, paying, 100)
    assert limited.reason == "RATE_LIMITED"
    # Typed errors from other RPCs.
    missing = tally.call(CUSTOMERS, "GetCustomer", cus.GetCustomerRequest(id="cus_nope"))
    assert missing.reason == "RESOURCE_NOT_FOUND"
    invalid = tally.call(CUSTOMERS, "CreateCustomer", cus.CreateCustomerRequest())
    assert invalid.reason == "VALIDATION_FAILED"
    token = tally.call(CUSTOMERS, "ListCustomers", cus.ListCustomersRequest(page_token="garbage"))
    assert token.reason == "INVALID_PAGE_TOKEN"
    listed = tally.call(CUSTOMERS, "ListCustomers", cus.ListCustomersRequest(page_size=10))
    assert len(listed.customers) == 3
    stranger = Tally(tally.transport, bad_key_clients)
    refused = stranger.call(CUSTOMERS, "ListCustomers", cus.ListCustomersRequest())
    assert refused.reason == "UNAUTHENTICATED"
    tally.calls.update(stranger.calls)
    return dict(outcomes)


def test_every_counter_equals_what_was_done(
    served: tuple[RunningServer, MetricsEndpoint], caplog: pytest.LogCaptureFixture
) -> None:
    server, endpoint = served
    caplog.set_level(logging.INFO, logger="accrue.rpc")
    tallies: list[Tally] = []
    outcomes: Counter[str] = Counter()
    keys = []
    for transport in ("grpc", "connect"):
        key = server.new_tenant(transport)
        keys.append(key)
        if transport == "grpc":
            clients: GrpcClients | ConnectClients = GrpcClients(server.grpc_target, key)
            stranger: GrpcClients | ConnectClients = GrpcClients(server.grpc_target, "ak_wrong")
        else:
            clients = ConnectClients(server.connect_url, key)
            stranger = ConnectClients(server.connect_url, "ak_wrong")
        tally = Tally(transport, clients)
        try:
            outcomes.update(drive(tally, server, stranger))
        finally:
            clients.close()
            stranger.close()
        tallies.append(tally)

    done: Counter[tuple[str, str, str, str, str]] = Counter()
    for tally in tallies:
        done.update(tally.calls)
    result = scrape(endpoint.port)

    # Every RPC counter is what the clients saw, and nothing else was counted.
    counted = result.by(
        "accrue_rpc_requests_total", "service", "method", "transport", "code", "reason"
    )
    assert counted == {key: float(n) for key, n in done.items()}
    reasons = {key[4] for key in done}
    assert {
        "",
        "VALIDATION_FAILED",
        "RESOURCE_NOT_FOUND",
        "UNAUTHENTICATED",
        "IDEMPOTENCY_KEY_REUSED",
        "INVALID_PAGE_TOKEN",
        "RATE_LIMITED",
    } <= reasons
    # Each histogram counted every call of its RPC and transport.
    per_rpc: Counter[tuple[str, str, str]] = Counter()
    for (service, method, transport, _code, _reason), n in done.items():
        per_rpc[(service, method, transport)] += n
    histogram = result.by("accrue_rpc_duration_seconds_count", "service", "method", "transport")
    assert histogram == {key: float(n) for key, n in per_rpc.items()}
    infinite = result.by(
        "accrue_rpc_duration_seconds_bucket", "service", "method", "transport", "le"
    )
    for (service, method, transport), n in per_rpc.items():
        assert infinite[(service, method, transport, "+Inf")] == n

    # Money path: payments by outcome, every PSP request, the retries of the outage.
    assert result.by("accrue_payments_total", "psp", "outcome") == {
        ("simulated", outcome): float(n) for outcome, n in outcomes.items()
    }
    outage_payments = len(tallies)
    psp = result.by("accrue_psp_requests_total", "operation", "result")
    assert psp == {
        ("charge", "ok"): float(outcomes["succeeded"]),
        ("charge", "declined"): float(outcomes["declined"]),
        ("charge", "unknown"): float(RETRIES * outage_payments),
    }
    assert result.value("accrue_psp_retries_total", operation="charge") == (RETRIES - 1) * (
        outage_payments
    )
    assert result.value("accrue_psp_request_duration_seconds_count") == sum(psp.values())
    assert result.value("accrue_payments_unknown") == outage_payments
    assert result.value("accrue_payments_unknown_oldest_age_seconds") >= 0
    assert result.value("accrue_psp_breaker_state", state="closed") == 1
    assert result.value("accrue_state_up") == 1
    assert result.value("accrue_rpc_in_flight") == 0
    assert result.value("accrue_db_pool_checkouts_total") > 0

    # Exemplars carry trace ids, and each is the trace id of a logged call.
    logged = {getattr(r, "trace_id", "") for r in caplog.records if r.name == "accrue.rpc"}
    exemplars = [
        s.exemplar.labels["trace_id"]
        for s in result.samples
        if s.name == "accrue_rpc_duration_seconds_bucket" and s.exemplar is not None
    ]
    assert exemplars
    assert all(re.fullmatch(r"[0-9a-f]{32}", t) for t in exemplars)
    assert set(exemplars) <= logged

    # No label carries an id, a key or a request id.
    secrets = set(keys) | {i for t in tallies for i in t.ids} | {server.tenant_of(k) for k in keys}
    label_values = {v for s in result.samples for v in s.labels.values()}
    leaked = {v for v in label_values for secret in secrets if secret and secret in v}
    assert leaked == set()
    assert not [v for v in label_values if re.search(r"(cus|pay|ten|inv|pm)_[0-9A-Z]{26}", v)]


def _grpc_health(server: RunningServer) -> int:
    channel = grpc.insecure_channel(server.grpc_target)
    try:
        stub = health_pb2_grpc.HealthStub(channel)
        answer = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        return int(answer.status)
    finally:
        channel.close()


def _wait_for_health(server: RunningServer, status: int) -> None:
    deadline = time.monotonic() + 10
    while _grpc_health(server) != status:
        assert time.monotonic() < deadline, f"gRPC health never became {status}"
        time.sleep(0.05)


def test_health_and_readiness_follow_the_database(
    served: tuple[RunningServer, MetricsEndpoint],
) -> None:
    """Ready only with the schema at head: a database behind (or ahead of) this
    build takes NOT_SERVING on gRPC health and 503 on /readyz, and back."""
    server, endpoint = served
    assert get(endpoint.port, "/healthz")[0] == 200
    status, body = get(endpoint.port, "/readyz")
    assert status == 200, body
    assert "migrations at head" in body
    assert scrape(endpoint.port).value("accrue_ready") == 1
    _wait_for_health(server, health_pb2.HealthCheckResponse.SERVING)
    with server.app.engine.begin() as connection:
        head = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        status, body = get(endpoint.port, "/readyz")
        assert status == 503 and "needs" in body, body
        assert get(endpoint.port, "/healthz")[0] == 200  # alive all the same
        _wait_for_health(server, health_pb2.HealthCheckResponse.NOT_SERVING)
    finally:
        with server.app.engine.begin() as connection:
            connection.execute(
                text("UPDATE alembic_version SET version_num = :head"), {"head": head}
            )
    assert get(endpoint.port, "/readyz")[0] == 200
    _wait_for_health(server, health_pb2.HealthCheckResponse.SERVING)


def test_an_unreachable_database_is_not_ready() -> None:
    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        result = Readiness(engine).check()
    finally:
        engine.dispose()
    assert not result.ready
    assert "unreachable" in result.detail
