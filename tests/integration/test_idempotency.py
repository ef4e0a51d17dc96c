"""Idempotent mutations (AIP-155) through a real server, on SQLite and PostgreSQL.

A request_id makes CreateCustomer happen at most once per tenant: a retry is
answered with the exact bytes of the first response, a concurrent duplicate is
told to come back later (ABORTED + RetryInfo), and the stored key is written
in the same transaction as the customer.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sqlalchemy import func, select

from accrue import schema as t
from accrue.billing.v1 import customer_pb2 as pb
from accrue.customers.repository import SqlCustomerRepository
from accrue.platform.db.idempotency_repository import SqlIdempotencyRepository
from tests.support import GrpcClients, RunningServer, failure_of_grpc, running_server

CREATE_CUSTOMER = "/accrue.billing.v1.CustomerService/CreateCustomer"
CALLERS = 20


def create_request(request_id: str, name: str = "Ada Lovelace") -> pb.CreateCustomerRequest:
    return pb.CreateCustomerRequest(
        customer=pb.Customer(
            display_name=name,
            email="ada@example.com",
            currency_code="EUR",
            time_zone="Europe/London",
            # Several map entries: a non-deterministic encoding could reorder them.
            metadata={"crm": "42", "segment": "enterprise", "a": "1", "z": "26", "m": "13"},
        ),
        request_id=request_id,
    )


def raw_create(channel: grpc.Channel) -> grpc.UnaryUnaryMultiCallable:
    """CreateCustomer returning the response exactly as it came off the wire."""
    return channel.unary_unary(
        CREATE_CUSTOMER,
        request_serializer=pb.CreateCustomerRequest.SerializeToString,
        response_deserializer=None,
    )


def auth(api_key: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {api_key}"),)


def customer_rows(server: RunningServer, tenant_id: str) -> int:
    with server.app.engine.connect() as conn:
        query = (
            select(func.count())
            .select_from(t.customers)
            .where(t.customers.c.tenant_id == tenant_id)
        )
        return conn.execute(query).scalar_one()


def key_rows(server: RunningServer, tenant_id: str) -> int:
    with server.app.engine.connect() as conn:
        query = (
            select(func.count())
            .select_from(t.idempotency_keys)
            .where(t.idempotency_keys.c.tenant_id == tenant_id)
        )
        return conn.execute(query).scalar_one()


def listed_customers(clients: GrpcClients) -> list[pb.Customer]:
    response = clients.call("CustomerService", "ListCustomers", pb.ListCustomersRequest())
    return list(response.customers)


def grpc_failure(call: Callable[[], Any]):  # type: ignore[no-untyped-def]
    try:
        result = call()
    except grpc.RpcError as error:
        return failure_of_grpc(error)
    raise AssertionError(f"call succeeded but should have failed: {result!r}")


@pytest.fixture
def db_server(database_url: str) -> Iterator[RunningServer]:
    """A server of its own per test, on SQLite and on PostgreSQL."""
    with running_server(database_url) as running:
        yield running


@pytest.fixture
def clients_of(db_server: RunningServer) -> Iterator[Callable[[str], GrpcClients]]:
    """gRPC clients for a tenant's key, closed after the test."""
    opened: list[GrpcClients] = []

    def open_for(api_key: str) -> GrpcClients:
        opened.append(GrpcClients(db_server.grpc_target, api_key))
        return opened[-1]

    yield open_for
    for clients in opened:
        clients.close()


def test_retried_create_returns_identical_bytes_and_creates_one_customer(
    db_server: RunningServer, clients_of: Callable[[str], GrpcClients]
) -> None:
    api_key = db_server.new_tenant()
    clients = clients_of(api_key)
    request = create_request(str(uuid.uuid4()))
    raw = raw_create(clients.channel)

    first_bytes = raw(request, metadata=auth(api_key), timeout=30)
    replayed_bytes = raw(request, metadata=auth(api_key), timeout=30)
    first = clients.call("CustomerService", "CreateCustomer", request)
    second = clients.call("CustomerService", "CreateCustomer", request)

    assert isinstance(first_bytes, bytes)
    assert replayed_bytes == first_bytes
    assert first.SerializeToString(deterministic=True) == first_bytes
    assert second.SerializeToString(deterministic=True) == first_bytes
    assert first == second == pb.Customer.FromString(first_bytes)
    assert [c.id for c in listed_customers(clients)] == [first.id]
    assert customer_rows(db_server, db_server.tenant_of(api_key)) == 1


def test_request_id_reused_for_a_different_request_is_refused_and_writes_nothing(
    db_server: RunningServer, clients_of: Callable[[str], GrpcClients]
) -> None:
    api_key = db_server.new_tenant()
    clients = clients_of(api_key)
    request_id = str(uuid.uuid4())
    first = clients.call("CustomerService", "CreateCustomer", create_request(request_id))

    failure = grpc_failure(
        lambda: clients.call(
            "CustomerService", "CreateCustomer", create_request(request_id, name="Someone else")
        )
    )

    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "IDEMPOTENCY_KEY_REUSED")
    assert failure.metadata["request_id"] == request_id
    assert [c.id for c in listed_customers(clients)] == [first.id]
    tenant_id = db_server.tenant_of(api_key)
    assert customer_rows(db_server, tenant_id) == 1
    assert key_rows(db_server, tenant_id) == 1
    # The original request is still answered from its key.
    again = clients.call("CustomerService", "CreateCustomer", create_request(request_id))
    assert again == first


def test_same_request_id_in_two_tenants_are_independent(
    db_server: RunningServer, clients_of: Callable[[str], GrpcClients]
) -> None:
    key_a, key_b = db_server.new_tenant("a"), db_server.new_tenant("b")
    clients_a = clients_of(key_a)
    clients_b = clients_of(key_b)
    request = create_request(str(uuid.uuid4()))

    created_a = clients_a.call("CustomerService", "CreateCustomer", request)
    created_b = clients_b.call("CustomerService", "CreateCustomer", request)

    assert created_a.id != created_b.id
    assert [c.id for c in listed_customers(clients_a)] == [created_a.id]
    assert [c.id for c in listed_customers(clients_b)] == [created_b.id]
    assert customer_rows(db_server, db_server.tenant_of(key_a)) == 1
    assert customer_rows(db_server, db_server.tenant_of(key_b)) == 1
    # Each tenant's retry replays its own customer.
    assert clients_a.call("CustomerService", "CreateCustomer", request) == created_a
    assert clients_b.call("CustomerService", "CreateCustomer", request) == created_b


def test_failure_after_the_effect_but_before_commit_leaves_neither_customer_nor_key(
    db_server: RunningServer,
    clients_of: Callable[[str], GrpcClients],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api_key = db_server.new_tenant()
    tenant_id = db_server.tenant_of(api_key)
    clients = clients_of(api_key)
    request = create_request(str(uuid.uuid4()))
    seen_inside: list[tuple[int, int]] = []

    def crash(self: SqlIdempotencyRepository, *args: Any, **kwargs: Any) -> None:
        # The customer is already written in this transaction, and invisible outside it.
        query = (
            select(func.count())
            .select_from(t.customers)
            .where(t.customers.c.tenant_id == tenant_id)
        )
        inside = self._conn.execute(query).scalar_one()
        seen_inside.append((inside, customer_rows(db_server, tenant_id)))
        raise RuntimeError("simulated crash between the effect and the commit")

    monkeypatch.setattr(SqlIdempotencyRepository, "add", crash)
    failure = grpc_failure(lambda: clients.call("CustomerService", "CreateCustomer", request))
    monkeypatch.undo()

    assert (failure.code, failure.reason) == ("INTERNAL", "INTERNAL")
    assert seen_inside == [(1, 0)]
    assert customer_rows(db_server, tenant_id) == 0
    assert key_rows(db_server, tenant_id) == 0

    retried = clients.call("CustomerService", "CreateCustomer", request)
    assert customer_rows(db_server, tenant_id) == 1
    assert key_rows(db_server, tenant_id) == 1
    assert clients.call("CustomerService", "CreateCustomer", request) == retried
    assert [c.id for c in listed_customers(clients)] == [retried.id]


@dataclass
class CallerLog:
    """What one concurrent caller saw, call by call."""

    target: str
    ok: bytes | None = None
    aborted: int = 0
    unexpected: list[str] = field(default_factory=list)


def retry_delay_of(error: grpc.RpcError) -> float | None:
    status = rpc_status.from_call(error)
    for detail in status.details if status is not None else []:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return float(info.retry_delay.ToMilliseconds()) / 1000
    return None


def call_together(
    targets: list[str], api_key: str, request: pb.CreateCustomerRequest
) -> list[CallerLog]:
    """CALLERS threads, spread over `targets`, send `request` at once and retry while ABORTED."""
    barrier = threading.Barrier(CALLERS)
    logs = [CallerLog(targets[i % len(targets)]) for i in range(CALLERS)]

    def caller(log: CallerLog) -> None:
        with grpc.insecure_channel(log.target) as channel:
            grpc.channel_ready_future(channel).result(timeout=10)
            create = raw_create(channel)
            barrier.wait(timeout=30)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    log.ok = create(request, metadata=auth(api_key), timeout=30)
                    return
                except grpc.RpcError as error:
                    failure = failure_of_grpc(error)
                    delay = retry_delay_of(error)
                    if (failure.code, failure.reason) != (
                        "ABORTED",
                        "IDEMPOTENCY_REQUEST_IN_FLIGHT",
                    ) or delay is None:
                        log.unexpected.append(f"{failure.code} {failure.reason} {failure.message}")
                        return
                    log.aborted += 1
                    # Honour the server's hint, capped to keep the test quick.
                    time.sleep(min(delay, 0.05))
            log.unexpected.append("still ABORTED after 30 s")

    threads = [threading.Thread(target=caller, args=(log,)) for log in logs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return logs


@pytest.fixture
def slow_effect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold the first caller inside its transaction long enough for all others to collide."""
    original = SqlCustomerRepository.add

    def slow_add(self: SqlCustomerRepository, customer: Any) -> None:
        original(self, customer)
        time.sleep(0.3)

    monkeypatch.setattr(SqlCustomerRepository, "add", slow_add)


def assert_exactly_one_effect(logs: list[CallerLog], server: RunningServer, api_key: str) -> None:
    assert [log.unexpected for log in logs if log.unexpected] == []
    answers = {log.ok for log in logs}
    assert None not in answers
    assert len(answers) == 1, "every OK response must be byte-identical"
    tenant_id = server.tenant_of(api_key)
    assert customer_rows(server, tenant_id) == 1
    assert key_rows(server, tenant_id) == 1
    created = pb.Customer.FromString(next(iter(answers)))  # type: ignore[arg-type]
    with server.uow(write=False) as uow:
        stored = uow.customers.get(tenant_id, created.id)
    assert stored is not None


@pytest.mark.usefixtures("slow_effect")
def test_concurrent_duplicates_on_postgres_create_one_customer(postgres_url: str) -> None:
    with running_server(postgres_url) as server:
        api_key = server.new_tenant()
        logs = call_together([server.grpc_target], api_key, create_request(str(uuid.uuid4())))

        assert_exactly_one_effect(logs, server, api_key)
        assert sum(log.aborted for log in logs) > 0, "the duplicates never overlapped"


@pytest.mark.usefixtures("slow_effect")
def test_concurrent_duplicates_across_two_servers_sharing_postgres_create_one_customer(
    postgres_url: str,
) -> None:
    with ExitStack() as stack:
        first = stack.enter_context(running_server(postgres_url))
        second = stack.enter_context(running_server(postgres_url))
        api_key = first.new_tenant()
        targets = [first.grpc_target, second.grpc_target]
        logs = call_together(targets, api_key, create_request(str(uuid.uuid4())))

        assert_exactly_one_effect(logs, first, api_key)
        # Both servers told some callers to come back: the loser's callers can only have
        # learnt about the winner's transaction through PostgreSQL's advisory lock.
        for target in targets:
            assert sum(log.aborted for log in logs if log.target == target) > 0, target
