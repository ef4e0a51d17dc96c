"""Bad input never yields UNKNOWN or INTERNAL, is reported as typed field
violations, and changes nothing. Requests are generated from the request
descriptors, so new RPCs and fields are fuzzed without editing this file."""

from __future__ import annotations

import base64
import re
from typing import Any

import grpc
import httpx
import pytest
from connectrpc.errors import ConnectError
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from accrue import schema as tables
from accrue.bootstrap import SERVICES
from accrue.kernel.card_data import looks_like_card_number
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


# What careless and hostile clients send: NUL, lone surrogates (the JSON escape
# `\ud800`, or its bytes in a protobuf string), digits of other scripts
# (full-width, Arabic-Indic, Devanagari) and separators between digit groups.
_HOSTILE = "\x00\ud800\udfff\uff14\uff12\u0664\u0662\u0967\u200b42 ._/-a"
_SMUGGLED_CARDS = [
    "\uff14\uff12\uff14\uff12" * 4,
    "4242.4242.4242.4242",
    " ".join(["\u0664\u0662\u0664\u0662"] * 4),
    "\x00",
    "a\x00b",
    "\ud800",
]


def _strings(known: list[str]) -> st.SearchStrategy[str]:
    plausible = ["USD", "JPY", "KWD", "usd", "", "tok_visa", "simulated", "Europe/Berlin"]
    return st.one_of(
        st.text(max_size=80),
        st.sampled_from(known + plausible),
        st.text("0123456789 -", max_size=25),
        st.text(_HOSTILE, max_size=25),
        st.sampled_from(_SMUGGLED_CARDS),
        st.builds("".join, st.lists(st.sampled_from(known + _SMUGGLED_CARDS), max_size=3)),
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


# A lone surrogate cannot live in a Python protobuf message: the request is
# built with this stand-in (3 bytes in UTF-8, like an encoded surrogate), and
# the stand-in is swapped for the surrogate on the wire.
_STAND_IN = "\ue000"
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def _without_surrogates(value: Any) -> tuple[Any, bool]:
    """`value` with every lone surrogate (keys too) replaced by the stand-in."""
    if isinstance(value, str):
        replaced = _SURROGATE_RE.sub(_STAND_IN, value)
        return replaced, replaced != value
    if isinstance(value, dict):
        found, out = False, {}
        for key, item in value.items():
            new_key, in_key = _without_surrogates(key)
            new_item, in_item = _without_surrogates(item)
            out[new_key] = new_item
            found = found or in_key or in_item
        return out, found
    if isinstance(value, list):
        items = [_without_surrogates(item) for item in value]
        return [item for item, _ in items], any(hit for _, hit in items)
    return value, False


def _send_with_surrogates(
    server: RunningServer, key: str, service: str, method: str, request: Message, *, json: bool
) -> Any:
    """Send `request` with its stand-ins as lone surrogates; the failure, or None."""
    path = f"/{service}/{method}"
    if not json:
        body = request.SerializeToString().replace(_STAND_IN.encode(), b"\xed\xa0\x80")
        channel = grpc.insecure_channel(server.grpc_target)
        try:
            channel.unary_unary(path)(
                body, metadata=(("authorization", f"Bearer {key}"),), timeout=30
            )
        except grpc.RpcError as error:
            return failure_of_grpc(error)
        finally:
            channel.close()
        return None
    text = json_format.MessageToJson(request, indent=None)
    text = text.replace(_STAND_IN, "\\ud800").replace("\\ue000", "\\ud800")
    response = httpx.post(
        server.connect_url + path,
        content=text.encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {key}"},
        timeout=30,
    )
    if response.status_code == 200:
        return None
    answer = response.json()
    assert response.status_code < 500, (path, response.status_code, answer)
    return _ConnectJsonFailure(answer)


class _ConnectJsonFailure:
    """A Connect JSON error body, read as tests.support.Failure is."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.code = str(answer.get("code", "")).upper()
        self.message = answer.get("message", "")
        self.reason = ""
        self.field_violations: list[str] = []
        for detail in answer.get("details", []):
            raw = base64.b64decode(detail["value"] + "=" * (-len(detail["value"]) % 4))
            if detail["type"] == "google.rpc.ErrorInfo":
                self.reason = error_details_pb2.ErrorInfo.FromString(raw).reason
            elif detail["type"] == "google.rpc.BadRequest":
                bad = error_details_pb2.BadRequest.FromString(raw)
                self.field_violations = [v.field for v in bad.field_violations]


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


def _check_accepted(request: Message) -> None:
    """What was accepted held no NUL and no card number, however written."""
    for text in _all_strings(request):
        assert "\x00" not in text, request
        assert not looks_like_card_number(text), request


def _all_strings(message: Message) -> list[str]:
    found: list[str] = []
    for field, value in message.ListFields():
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            for key, item in value.items():
                found.append(key)
                found.extend([item] if isinstance(item, str) else _all_strings(item))
        elif field.message_type is not None:
            for item in value if field.is_repeated else [value]:
                found.extend(_all_strings(item))
        elif field.type == field.TYPE_STRING and field.name != "page_token":
            found.extend(value if field.is_repeated else [value])
    return found


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
        fields, has_surrogates = _without_surrogates(fields)
        request = build(request_class, fields)
        before = snapshot(server, tenant_id)
        clients = connect_clients if over_connect else grpc_clients
        unary = not (method.client_streaming or method.server_streaming)
        if has_surrogates and unary:
            failure = _send_with_surrogates(
                server, key, service, method.name, request, json=over_connect
            )
            assert failure is not None, "a request holding a lone surrogate was accepted"
            assert failure.code == "INVALID_ARGUMENT", failure
            assert snapshot(server, tenant_id) == before, "a failed call changed data"
            return
        try:
            clients.call(service, method.name, request)
        except grpc.RpcError as error:
            failure = failure_of_grpc(error)
        except ConnectError as error:
            failure = failure_of_connect(error)
        else:
            _check_accepted(request)
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
