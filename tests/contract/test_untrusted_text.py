"""Every string a client sends is checked in one place: NUL characters, text
that is not Unicode and card numbers (in any digits, with any separators, as
values or as map keys) are INVALID_ARGUMENT with a field violation, on both
transports and both databases, and nothing is written."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from connectrpc.errors import ConnectError
from google.protobuf.message import Message
from sqlalchemy import func, select

from accrue import schema as tables
from tests.contract.samples import SAMPLES, Ids, seed
from tests.support import (
    ConnectClients,
    GrpcClients,
    RunningServer,
    failure_of_connect,
    failure_of_grpc,
    fresh_postgres_database,
    running_server,
    settle,
)

NUL = "a\x00b"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def db_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """A server on SQLite and one on PostgreSQL (where NUL used to fail in the driver)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("untrusted") / "accrue.db"
        with running_server(f"sqlite:///{path}") as running:
            yield running
        return
    from tests.conftest import _skip_or_fail_without_postgres

    _skip_or_fail_without_postgres()
    with fresh_postgres_database() as url, running_server(url) as running:
        yield running


@pytest.fixture(scope="module")
def tenant(db_server: RunningServer) -> tuple[str, str, Ids]:
    key = db_server.new_tenant("untrusted")
    clients = GrpcClients(db_server.grpc_target, key)
    try:
        ids = seed(clients.call)
    finally:
        clients.close()
    return key, db_server.tenant_of(key), ids


def row_counts(server: RunningServer, tenant_id: str) -> dict[str, int]:
    """Rows per table the tenant owns, to prove a refused call wrote nothing."""
    # PostgreSQL moves events from the queue into `events` after commit: count
    # once the sequencer has caught up, so its moves are not mistaken for writes.
    settle(server.app)
    counts = {}
    with server.app.engine.connect() as conn:
        for table in tables.metadata.sorted_tables:
            if "tenant_id" in table.c:
                query = select(func.count()).select_from(table)
                counts[table.name] = conn.execute(
                    query.where(table.c.tenant_id == tenant_id)
                ).scalar_one()
    return counts


def _call(server: RunningServer, key: str, transport: str, rpc_name: str, request: Message) -> Any:
    service, method = rpc_name.split("/")
    clients: GrpcClients | ConnectClients = (
        GrpcClients(server.grpc_target, key)
        if transport == "grpc"
        else ConnectClients(server.connect_url, key)
    )
    try:
        clients.call(service, method, request)
    except grpc.RpcError as error:
        return failure_of_grpc(error)
    except ConnectError as error:
        return failure_of_connect(error)
    finally:
        clients.close()
    raise AssertionError(f"{rpc_name} accepted {request}")


def _with(rpc_name: str, change: Callable[[Any], None]) -> Callable[[Ids], Message]:
    def make(ids: Ids) -> Message:
        request = SAMPLES[f"accrue.billing.v1.{rpc_name}"](ids)
        change(request)
        return request

    return make


# The fields the issue saw reach PostgreSQL, and a few more of every kind.
NUL_CASES: dict[str, tuple[str, Callable[[Ids], Message], str]] = {
    "create-customer-display-name": (
        "CustomerService/CreateCustomer",
        _with("CustomerService/CreateCustomer", lambda r: setattr(r.customer, "display_name", NUL)),
        "customer.display_name",
    ),
    "get-customer-id": (
        "CustomerService/GetCustomer",
        _with("CustomerService/GetCustomer", lambda r: setattr(r, "id", NUL)),
        "id",
    ),
    "list-customers-email": (
        "CustomerService/ListCustomers",
        _with("CustomerService/ListCustomers", lambda r: setattr(r, "email", NUL)),
        "email",
    ),
    "list-events-types": (
        "EventService/ListEvents",
        _with("EventService/ListEvents", lambda r: r.types.append(NUL)),
        "types[0]",
    ),
    "list-events-resource-id": (
        "EventService/ListEvents",
        _with("EventService/ListEvents", lambda r: setattr(r, "resource_id", NUL)),
        "resource_id",
    ),
    "create-payment-description": (
        "PaymentService/CreatePayment",
        _with("PaymentService/CreatePayment", lambda r: setattr(r, "description", NUL)),
        "description",
    ),
    "create-payment-metadata-key": (
        "PaymentService/CreatePayment",
        _with("PaymentService/CreatePayment", lambda r: r.metadata.update({NUL: "x"})),
        "metadata",
    ),
    "create-adjustment-reason": (
        "LedgerService/CreateAdjustment",
        _with("LedgerService/CreateAdjustment", lambda r: setattr(r, "reason", NUL)),
        "reason",
    ),
    "get-account-id": (
        "LedgerService/GetAccount",
        _with("LedgerService/GetAccount", lambda r: setattr(r, "id", NUL)),
        "id",
    ),
    "create-product-request-id": (
        "CatalogService/CreateProduct",
        _with("CatalogService/CreateProduct", lambda r: setattr(r, "request_id", NUL)),
        "request_id",
    ),
}


@pytest.mark.parametrize("transport", ["grpc", "connect"])
@pytest.mark.parametrize("case", sorted(NUL_CASES))
def test_a_nul_character_in_any_string_is_invalid_argument_and_writes_nothing(
    db_server: RunningServer, tenant: tuple[str, str, Ids], case: str, transport: str
) -> None:
    key, tenant_id, ids = tenant
    rpc_name, make, field = NUL_CASES[case]
    before = row_counts(db_server, tenant_id)

    failure = _call(db_server, key, transport, f"accrue.billing.v1.{rpc_name}", make(ids))

    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED"), failure
    assert field in failure.field_violations
    assert row_counts(db_server, tenant_id) == before


ARABIC_INDIC_CARD = " ".join(["\u0664\u0662\u0664\u0662"] * 4)
FULL_WIDTH_NOTE = "\uff4e\uff4f\uff54\uff45"

CARD_CASES: dict[str, Callable[[Any], None]] = {
    "metadata-key": lambda r: r.metadata.update({"4242424242424242": "x"}),
    "dots": lambda r: setattr(r, "description", "paid with 4242.4242.4242.4242"),
    "full-width": lambda r: setattr(r, "description", "card " + "\uff14\uff12" * 8),
    "arabic-indic": lambda r: r.metadata.update(
        {"note": " ".join(["\u0664\u0662\u0664\u0662"] * 4)}
    ),
    "slashes-and-underscores": lambda r: setattr(r, "description", "5555/5555_5555-4444"),
    "zero-width-joined": lambda r: setattr(r, "description", "4242\u200b4242\u200b4242\u200b4242"),
    "request-id": lambda r: setattr(r, "request_id", "4111 1111 1111 1111"),
}


@pytest.mark.parametrize("transport", ["grpc", "connect"])
@pytest.mark.parametrize("case", sorted(CARD_CASES))
def test_a_card_number_however_written_never_gets_in(
    db_server: RunningServer, tenant: tuple[str, str, Ids], case: str, transport: str
) -> None:
    key, tenant_id, ids = tenant
    request = _with("PaymentService/CreatePayment", CARD_CASES[case])(ids)
    before = row_counts(db_server, tenant_id)

    failure = _call(
        db_server, key, transport, "accrue.billing.v1.PaymentService/CreatePayment", request
    )

    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED"), failure
    assert failure.field_violations
    assert "4242" not in failure.message and "4444" not in failure.message
    assert row_counts(db_server, tenant_id) == before


def test_ordinary_text_with_numbers_is_still_accepted(
    db_server: RunningServer, tenant: tuple[str, str, Ids]
) -> None:
    key, _tenant_id, ids = tenant
    request = _with(
        "PaymentService/CreatePayment",
        lambda r: (
            setattr(r, "description", "Order 2026-11-05 12:30:45.123, call +44 20 7946 0958"),
            r.metadata.update({"ref": "INV-000123-4567", FULL_WIDTH_NOTE: "invoice \uff13"}),
        ),
    )(ids)
    clients = GrpcClients(db_server.grpc_target, key)
    try:
        payment = clients.call("PaymentService", "CreatePayment", request)
    finally:
        clients.close()
    assert payment.description.startswith("Order 2026-11-05")


def test_a_lone_surrogate_over_connect_json_is_invalid_argument(
    db_server: RunningServer, tenant: tuple[str, str, Ids]
) -> None:
    key, tenant_id, _ids = tenant
    before = row_counts(db_server, tenant_id)
    body = b'{"customer":{"display_name":"a\\ud800b","currency_code":"USD"}}'
    http = urllib.request.Request(
        f"{db_server.connect_url}/accrue.billing.v1.CustomerService/CreateCustomer",
        data=body,
        headers={"content-type": "application/json", "authorization": f"Bearer {key}"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(http, timeout=10)
    assert raised.value.code == 400
    answer = json.loads(raised.value.read())
    assert answer["code"] == "invalid_argument"
    assert row_counts(db_server, tenant_id) == before


def test_invalid_utf8_over_grpc_is_invalid_argument(
    db_server: RunningServer, tenant: tuple[str, str, Ids]
) -> None:
    key, tenant_id, _ids = tenant
    before = row_counts(db_server, tenant_id)
    # CreateCustomerRequest{customer{display_name: "a" + an encoded lone surrogate}}
    display_name = b"\x12\x04a\xed\xa0\x80"
    body = b"\x0a" + bytes([len(display_name)]) + display_name
    channel = grpc.insecure_channel(db_server.grpc_target)
    call = channel.unary_unary("/accrue.billing.v1.CustomerService/CreateCustomer")
    try:
        with pytest.raises(grpc.RpcError) as raised:
            call(body, metadata=(("authorization", f"Bearer {key}"),), timeout=10)
    finally:
        channel.close()
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert row_counts(db_server, tenant_id) == before
