"""Properties every RPC must have, driven from the service descriptors:
authentication, tenant isolation, and identical answers on both transports."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf.message import Message

from accrue.billing.v1 import usage_pb2 as use
from accrue.bootstrap import SERVICES
from tests.conftest import Transport
from tests.contract.samples import SAMPLES, Ids, seed
from tests.support import (
    ConnectClients,
    GrpcClients,
    RunningServer,
    failure_of_connect,
    failure_of_grpc,
)

PER_EVENT_OUTCOMES = frozenset({"IngestUsage", "StreamIngestUsage"})
ALL_RPCS = sorted(f"{s.full_name}/{m.name}" for s in SERVICES for m in s.methods)


def test_samples_cover_every_rpc() -> None:
    assert sorted(SAMPLES) == ALL_RPCS


def _split(rpc_name: str) -> tuple[str, str]:
    service, method = rpc_name.split("/")
    return service, method


def _call_failure(clients: GrpcClients | ConnectClients, rpc_name: str, request: Message) -> Any:
    import grpc
    from connectrpc.errors import ConnectError

    try:
        clients.call(*_split(rpc_name), request)
    except grpc.RpcError as error:
        return failure_of_grpc(error)
    except ConnectError as error:
        return failure_of_connect(error)
    return None


@pytest.fixture(scope="module")
def victim(server: RunningServer) -> Ids:
    clients = GrpcClients(server.grpc_target, server.new_tenant("victim"))
    try:
        return seed(clients.call)
    finally:
        clients.close()


@pytest.mark.parametrize("transport", ["grpc", "connect"])
@pytest.mark.parametrize(
    "credentials", [None, "Bearer acc_not-a-real-key", "Basic dXNlcjpwYXNz", "Bearer "]
)
@pytest.mark.parametrize("rpc_name", ALL_RPCS)
def test_no_rpc_succeeds_without_a_valid_key(
    server: RunningServer, victim: Ids, rpc_name: str, credentials: str | None, transport: str
) -> None:
    clients: GrpcClients | ConnectClients
    if transport == "grpc":
        clients = GrpcClients(server.grpc_target, None)
        if credentials is not None:
            clients.metadata = (("authorization", credentials),)
    else:
        clients = ConnectClients(server.connect_url, None)
        if credentials is not None:
            clients.headers = {"authorization": credentials}
    try:
        failure = _call_failure(clients, rpc_name, SAMPLES[rpc_name](victim))
    finally:
        clients.close()
    assert failure is not None, f"{rpc_name} succeeded without a valid key"
    assert (failure.code, failure.reason) == ("UNAUTHENTICATED", "UNAUTHENTICATED")
    # Missing, unknown and malformed keys are indistinguishable.
    assert failure.message == "a valid API key is required: authorization: Bearer <key>"


@pytest.mark.parametrize("rpc_name", ALL_RPCS)
def test_another_tenants_ids_are_not_found(rpc: Transport, victim: Ids, rpc_name: str) -> None:
    request = SAMPLES[rpc_name](victim)
    refers_to_resource = bool(_resource_ids(request))
    service, method = _split(rpc_name)
    if method in PER_EVENT_OUTCOMES:
        # A batch answers per event: each of another tenant's ids is refused as not found.
        response = rpc.call(service, method, request)
        assert {(r.outcome, r.reason) for r in response.results} == {
            (use.USAGE_EVENT_OUTCOME_REFUSED, "RESOURCE_NOT_FOUND")
        }
        return
    if refers_to_resource:
        failure = rpc.fail(service, method, request)
        assert (failure.code, failure.reason) == ("NOT_FOUND", "RESOURCE_NOT_FOUND"), rpc_name
    else:
        response = rpc.call(service, method, request)
        # Creates make the caller's own resource; lists show only the caller's resources.
        listed = [
            getattr(item, "id", "")
            for field, value in response.ListFields()
            if field.is_repeated
            for item in value
        ]
        assert not set(listed) & set(vars(victim).values())


def _resource_ids(message: Message) -> list[str]:
    """Every non-empty `id` / `*_id` string in the request, however deeply nested."""
    found = []
    for field, value in message.ListFields():
        if field.message_type is not None and not field.message_type.GetOptions().map_entry:
            for item in value if field.is_repeated else [value]:
                found += _resource_ids(item)
        elif (
            isinstance(value, str)
            and field.name != "request_id"
            and (field.name == "id" or field.name.endswith("_id"))
        ):
            found.append(value)
    return found


def test_same_scenario_gives_same_results_on_both_transports(server: RunningServer) -> None:
    """Parity: the same calls, in order, on gRPC and Connect, compared field by field."""
    transcripts = []
    for kind in ("grpc", "connect"):
        key = server.new_tenant(f"parity-{kind}")
        clients: GrpcClients | ConnectClients = (
            GrpcClients(server.grpc_target, key)
            if kind == "grpc"
            else ConnectClients(server.connect_url, key)
        )
        try:
            ids = seed(clients.call)
            transcript = []
            for rpc_name in ALL_RPCS:
                request = SAMPLES[rpc_name](ids)
                if hasattr(request, "request_id"):
                    request.request_id = f"parity-{rpc_name}"
                failure = _call_failure(clients, rpc_name, request)
                if failure is not None:
                    transcript.append((rpc_name, "error", failure.code, failure.reason))
                    continue
                response = clients.call(*_split(rpc_name), request)
                transcript.append((rpc_name, "ok", _normalised(response, ids)))
        finally:
            clients.close()
        transcripts.append(transcript)
    grpc_transcript, connect_transcript = transcripts
    assert grpc_transcript == connect_transcript


def _normalised(message: Message, ids: Ids) -> dict[str, Any]:
    """The response as a dict with server-made ids and times replaced by placeholders."""
    from google.protobuf.json_format import MessageToDict

    known = {value: f"<{name}>" for name, value in vars(ids).items()}

    def scrub(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: scrub(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [scrub(v) for v in value]
        if key.endswith("Time"):
            return "<time>"
        if key in {"hash", "previousHash"} and value != "0" * 64:
            return "<hash>"  # covers tenant id and time, so differs per run
        if isinstance(value, str) and value in known:
            return known[value]
        if isinstance(value, str):
            for raw, placeholder in known.items():
                if raw:
                    value = value.replace(raw, placeholder)
        if key == "secret":  # a webhook signing secret is new random bytes every time
            return "<secret>" if value else value
        if key in {"resolvedBy", "updateActor"}:  # the caller's API key, different per run
            return "<api key>"
        if key in {"url", "path", "content", "sha256"}:  # signed links, PDFs naming new ids
            return f"<{key}>" if value else value
        if key in {"id", "nextPageToken"} or key.endswith(("Id", "IdempotencyKey")):
            return "<new id>" if value else value
        return value

    return scrub(MessageToDict(message))
