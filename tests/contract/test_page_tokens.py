"""Page tokens are sealed server promises (AIP-158): forged, altered, foreign
(another tenant, method or filter) and garbage tokens are INVALID_PAGE_TOKEN
on both transports and both databases; genuine ones survive a restart and
work on every server sharing the database."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from connectrpc.errors import ConnectError

from accrue.billing.v1 import catalog_pb2, customer_pb2
from tests.support import (
    ConnectClients,
    GrpcClients,
    RunningServer,
    failure_of_connect,
    failure_of_grpc,
    fresh_postgres_database,
    running_server,
)

CUSTOMERS = "CustomerService"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('tokens') / 'accrue.db'}"
        return
    from tests.conftest import _skip_or_fail_without_postgres

    _skip_or_fail_without_postgres()
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(scope="module")
def db_server(db_url: str) -> Iterator[RunningServer]:
    with running_server(db_url) as running:
        yield running


def _clients(server: RunningServer, key: str, transport: str) -> GrpcClients | ConnectClients:
    if transport == "grpc":
        return GrpcClients(server.grpc_target, key)
    return ConnectClients(server.connect_url, key)


def _list(server: RunningServer, key: str, transport: str, **fields: Any) -> Any:
    clients = _clients(server, key, transport)
    try:
        return clients.call(CUSTOMERS, "ListCustomers", customer_pb2.ListCustomersRequest(**fields))
    finally:
        clients.close()


def _refused(
    server: RunningServer, key: str, transport: str, method: str, request: object
) -> object:
    clients = _clients(server, key, transport)
    try:
        clients.call(method.split("/", maxsplit=1)[0], method.split("/")[1], request)
    except grpc.RpcError as error:
        return failure_of_grpc(error)
    except ConnectError as error:
        return failure_of_connect(error)
    finally:
        clients.close()
    raise AssertionError(f"{method} accepted {request}")


@pytest.fixture(scope="module")
def tenant(db_server: RunningServer) -> tuple[str, list[str]]:
    """A tenant with five customers; its key and their ids."""
    key = db_server.new_tenant("tokens")
    clients = GrpcClients(db_server.grpc_target, key)
    ids = []
    try:
        for n in range(5):
            customer = clients.call(
                CUSTOMERS,
                "CreateCustomer",
                customer_pb2.CreateCustomerRequest(
                    customer=customer_pb2.Customer(
                        display_name=f"c{n}", currency_code="USD", email="same@example.com"
                    ),
                    request_id=f"tokens-{n}",
                ),
            )
            ids.append(customer.id)
    finally:
        clients.close()
    return key, ids


def _forged(cursor: str, query: dict[str, object], *, raw_cursor: str = "") -> str:
    """A token as the server used to make them (base64 JSON), which anyone could forge."""
    fingerprint = hashlib.sha256(
        json.dumps(query, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()[:16]
    cursor_json = raw_cursor or json.dumps(cursor)
    payload = f'{{"a":{cursor_json},"q":"{fingerprint}"}}'
    return base64.urlsafe_b64encode(payload.encode()).decode()


QUERY = {"show_archived": False, "email": ""}
FORGED = {
    "forged cursor": _forged("cus_0", QUERY),
    "forged NUL cursor": _forged("cus_\u0000", QUERY),
    "forged surrogate cursor": _forged("", QUERY, raw_cursor='"\\ud800"'),
    "garbage": "garbage",
    "dots": "a.b.c",
    "empty parts": ".",
    "long": "A" * 500,
}


@pytest.mark.parametrize("transport", ["grpc", "connect"])
@pytest.mark.parametrize("case", sorted(FORGED))
def test_a_token_the_server_did_not_seal_is_invalid_page_token(
    db_server: RunningServer, tenant: tuple[str, list[str]], transport: str, case: str
) -> None:
    key, _ids = tenant
    failure = _refused(
        db_server,
        key,
        transport,
        f"{CUSTOMERS}/ListCustomers",
        customer_pb2.ListCustomersRequest(page_size=2, page_token=FORGED[case]),
    )
    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "INVALID_PAGE_TOKEN"), failure
    assert "page_token" in failure.field_violations


@pytest.mark.parametrize("transport", ["grpc", "connect"])
def test_a_genuine_token_pages_but_not_altered_or_elsewhere(
    db_server: RunningServer, tenant: tuple[str, list[str]], transport: str
) -> None:
    key, ids = tenant
    first = _list(db_server, key, transport, page_size=2)
    token = first.next_page_token
    second = _list(db_server, key, transport, page_size=2, page_token=token)
    assert [c.id for c in [*first.customers, *second.customers]] == ids[:4]

    body, _, mac = token.partition(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["c"] = _forged(ids[0], QUERY)  # point the cursor somewhere else
    altered = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    other_tenant = db_server.new_tenant("tokens-other")
    refusals = {
        "altered cursor": (key, f"{CUSTOMERS}/ListCustomers", f"{altered}.{mac}", {}),
        "another tenant": (other_tenant, f"{CUSTOMERS}/ListCustomers", token, {}),
        "another method": (key, "CatalogService/ListProducts", token, {}),
        "another filter": (key, f"{CUSTOMERS}/ListCustomers", token, {"email": "same@example.com"}),
    }
    for case, (caller, method, page_token, fields) in refusals.items():
        request_class = (
            catalog_pb2.ListProductsRequest
            if method.endswith("ListProducts")
            else customer_pb2.ListCustomersRequest
        )
        request = request_class(page_size=2, page_token=page_token, **fields)
        failure = _refused(db_server, caller, transport, method, request)
        assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "INVALID_PAGE_TOKEN"), (
            case,
            failure,
        )


def test_tokens_survive_a_restart_and_work_on_every_server_of_the_database(
    db_url: str, db_server: RunningServer, tenant: tuple[str, list[str]]
) -> None:
    key, ids = tenant
    token = _list(db_server, key, "grpc", page_size=1).next_page_token
    # A second process on the same database (and, as far as the secret goes, a restart).
    with running_server(db_url) as other:
        page = _list(other, key, "connect", page_size=1, page_token=token)
        assert [c.id for c in page.customers] == [ids[1]]
        # One sealed there opens here.
        back = _list(db_server, key, "grpc", page_size=1, page_token=page.next_page_token)
        assert [c.id for c in back.customers] == [ids[2]]


def test_a_configured_secret_is_used_and_other_secrets_tokens_are_refused(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    with running_server(url, page_token_secret="x" * 32) as server:
        key = server.new_tenant("configured")
        clients = GrpcClients(server.grpc_target, key)
        try:
            for n in range(3):
                clients.call(
                    CUSTOMERS,
                    "CreateCustomer",
                    customer_pb2.CreateCustomerRequest(
                        customer=customer_pb2.Customer(display_name=f"c{n}", currency_code="USD"),
                        request_id=f"configured-{n}",
                    ),
                )
        finally:
            clients.close()
        token = _list(server, key, "grpc", page_size=1).next_page_token
    with running_server(url, page_token_secret="x" * 32) as same:
        assert _list(same, key, "grpc", page_size=1, page_token=token).customers
    with running_server(url, page_token_secret="y" * 32) as rotated:
        failure = _refused(
            rotated,
            key,
            "grpc",
            f"{CUSTOMERS}/ListCustomers",
            customer_pb2.ListCustomersRequest(page_size=1, page_token=token),
        )
        assert failure.reason == "INVALID_PAGE_TOKEN"
