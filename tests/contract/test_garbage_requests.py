"""Bad input never yields UNKNOWN or INTERNAL, is reported as typed field
violations, and changes nothing. Requests are generated from the request
descriptors, so new RPCs and fields are fuzzed without editing this file."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from connectrpc.errors import ConnectError
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from accrue.adapters.db import tables
from accrue.bootstrap import SERVICES
from tests.contract.samples import Ids, seed
from tests.support import (
    ConnectClients,
    GrpcClients,
    RunningServer,
    failure_of_connect,
    failure_of_grpc,
)

ROUTES = [(s.full_name, m) for s in SERVICES for m in s.methods]
FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
INVALID_ARGUMENT_REASONS = {
    "VALIDATION_FAILED",
    "CURRENCY_UNSUPPORTED",
    "CURRENCY_MISMATCH",
    "INVALID_PAGE_TOKEN",
    "AMOUNT_OUT_OF_RANGE",
    "IDEMPOTENCY_KEY_REUSED",
}
_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
}


def _strings(known: list[str]) -> st.SearchStrategy[str]:
    plausible = ["USD", "JPY", "KWD", "usd", "", "tok_visa", "simulated", "Europe/Berlin"]
    return st.one_of(
        st.text(max_size=80),
        st.sampled_from(known + plausible),
        st.text("0123456789 -", max_size=25),
    )


def _scalar(field: FieldDescriptor, known: list[str]) -> st.SearchStrategy[Any]:
    if field.type == FieldDescriptor.TYPE_STRING:
        return _strings(known)
    if field.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if field.type == FieldDescriptor.TYPE_ENUM:
        return st.integers(-3, 12)
    if field.type in _INT_RANGES:
        low, high = _INT_RANGES[field.type]
        return st.one_of(st.integers(low, high), st.integers(-3, 1100))
    if field.type == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=20)
    return st.floats(allow_nan=False)


def messages(
    descriptor: Descriptor, known: list[str], depth: int = 0
) -> st.SearchStrategy[dict[str, Any]]:
    """Field dicts for `descriptor`: any subset of fields, values of the right wire types."""
    if descriptor.full_name == "google.protobuf.FieldMask":
        names = [
            "display_name",
            "description",
            "metadata",
            "unit_amount",
            "tiers",
            "email",
            "state",
            "x.y",
            "",
        ]
        return st.fixed_dictionaries(
            {}, optional={"paths": st.lists(st.sampled_from(names), max_size=3)}
        )
    if descriptor.full_name == "google.protobuf.Timestamp":
        return st.fixed_dictionaries(
            {}, optional={"seconds": st.integers(0, 2**33), "nanos": st.integers(0, 999_999_999)}
        )
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for field in descriptor.fields:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            optional[field.name] = st.dictionaries(
                _strings(known), _scalar(value_field, known), max_size=4
            )
        elif field.message_type is not None:
            if depth >= 3:
                continue
            inner = messages(field.message_type, known, depth + 1)
            optional[field.name] = st.lists(inner, max_size=4) if field.is_repeated else inner
        else:
            scalar = _scalar(field, known)
            optional[field.name] = st.lists(scalar, max_size=4) if field.is_repeated else scalar
    return st.fixed_dictionaries({}, optional=optional)


def build(message_class: type[Message], fields: dict[str, Any]) -> Message:
    message = message_class()
    for name, value in fields.items():
        field = message.DESCRIPTOR.fields_by_name[name]
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            getattr(message, name).update(value)
        elif field.message_type is not None and field.is_repeated:
            for item in value:
                element = getattr(message, name).add()
                element.CopyFrom(build(type(element), item))
        elif field.message_type is not None:
            getattr(message, name).CopyFrom(build(type(getattr(message, name)), value))
        elif field.is_repeated:
            getattr(message, name).extend(value)
        else:
            setattr(message, name, value)
    return message


def snapshot(server: RunningServer, tenant_id: str) -> list[Any]:
    """Every row the tenant owns, to prove a failed call wrote nothing."""
    with server.app.engine.connect() as conn:
        rows: list[Any] = []
        for table in (
            tables.products,
            tables.prices,
            tables.customers,
            tables.payment_methods,
            tables.idempotency_keys,
        ):
            query = (
                select(table)
                .where(table.c.tenant_id == tenant_id)
                .order_by(*table.primary_key.columns)
            )
            rows.extend(tuple(row) for row in conn.execute(query))
        return rows


@pytest.fixture(scope="module")
def fuzz_tenant(server: RunningServer) -> tuple[str, str, Ids]:
    key = server.new_tenant("fuzz")
    clients = GrpcClients(server.grpc_target, key)
    try:
        ids = seed(clients.call)
    finally:
        clients.close()
    return key, server.tenant_of(key), ids


def _check(failure: Any, rpc_name: str, request: Message) -> None:
    assert failure.code not in {"UNKNOWN", "INTERNAL"}, (rpc_name, request, failure)
    assert failure.reason, (rpc_name, failure)
    if failure.code == "INVALID_ARGUMENT":
        assert failure.reason in INVALID_ARGUMENT_REASONS, failure
    if failure.reason == "VALIDATION_FAILED":
        assert failure.field_violations, failure


@pytest.mark.parametrize(("service", "method"), ROUTES, ids=[f"{s}/{m.name}" for s, m in ROUTES])
def test_generated_requests_fail_cleanly_and_change_nothing(
    server: RunningServer, fuzz_tenant: tuple[str, str, Ids], service: str, method: Any
) -> None:
    from google.protobuf.message_factory import GetMessageClass

    key, tenant_id, ids = fuzz_tenant
    known = list(vars(ids).values())
    request_class = GetMessageClass(method.input_type)
    grpc_clients = GrpcClients(server.grpc_target, key)
    connect_clients = ConnectClients(server.connect_url, key)

    @FUZZ
    @given(fields=messages(method.input_type, known), over_connect=st.booleans())
    def run(fields: dict[str, Any], over_connect: bool) -> None:
        request = build(request_class, fields)
        before = snapshot(server, tenant_id)
        clients = connect_clients if over_connect else grpc_clients
        try:
            clients.call(service, method.name, request)
        except grpc.RpcError as error:
            failure = failure_of_grpc(error)
        except ConnectError as error:
            failure = failure_of_connect(error)
        else:
            return
        _check(failure, f"{service}/{method.name}", request)
        assert snapshot(server, tenant_id) == before, "a failed call changed data"

    try:
        run()
    finally:
        grpc_clients.close()
        connect_clients.close()


@FUZZ
@given(body=st.binary(min_size=1, max_size=200))
def test_undecodable_bytes_are_invalid_argument(
    server: RunningServer, fuzz_tenant: tuple[str, str, Ids], body: bytes
) -> None:
    key, _tenant_id, _ids = fuzz_tenant
    channel = grpc.insecure_channel(server.grpc_target)
    call = channel.unary_unary("/accrue.billing.v1.CustomerService/CreateCustomer")
    try:
        call(body, metadata=(("authorization", f"Bearer {key}"),), timeout=10)
    except grpc.RpcError as error:
        failure = failure_of_grpc(error)
        _check(failure, "CreateCustomer", body)  # type: ignore[arg-type]
    finally:
        channel.close()
