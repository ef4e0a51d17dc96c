"""Hardening seen from a client: RetryInfo on rate limits, server reflection v1."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from connectrpc.errors import ConnectError
from google.protobuf import any_pb2, descriptor_pb2
from google.rpc import error_details_pb2
from grpc_reflection.v1alpha.reflection_pb2 import (
    ServerReflectionRequest,
    ServerReflectionResponse,
)
from grpc_status import rpc_status

from accrue.billing.v1 import payment_pb2
from accrue.bootstrap import SERVICES
from tests.support import (
    ConnectClients,
    GrpcClients,
    RunningServer,
    failure_of_connect,
    failure_of_grpc,
    running_server,
)


def _retry_delay_ns(error: Exception) -> int | None:
    if isinstance(error, grpc.RpcError):
        status = rpc_status.from_call(error)  # type: ignore[arg-type]
        details = list(status.details) if status is not None else []
    else:
        assert isinstance(error, ConnectError)
        details = [
            any_pb2.Any(type_url="type.googleapis.com/" + d.type_name, value=d.message_bytes)
            for d in error.details
        ]
    for detail in details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return int(info.retry_delay.ToNanoseconds())
    return None


@pytest.mark.parametrize("transport", ["grpc", "connect"])
def test_a_rate_limited_payment_says_when_to_retry_and_that_is_enough(
    tmp_path: Path, transport: str
) -> None:
    # A token every 2 ms: a refusal is often less than 1 ms from admission,
    # which used to be advertised as "retry after 0 s" (and 1.7 ms as 1 ms).
    settings = {"payment_rate_per_second": 500, "payment_rate_burst": 1}
    with running_server(f"sqlite:///{tmp_path / 'a.db'}", **settings) as server:
        key = server.new_tenant()
        clients: GrpcClients | ConnectClients = (
            GrpcClients(server.grpc_target, key)
            if transport == "grpc"
            else ConnectClients(server.connect_url, key)
        )
        # Limits are checked before validation, so an empty request is a cheap probe.
        probe = payment_pb2.CreatePaymentRequest()
        delays = []
        try:
            for _ in range(400):
                try:
                    clients.call("PaymentService", "CreatePayment", probe)
                except (grpc.RpcError, ConnectError) as error:
                    failure = (
                        failure_of_grpc(error)
                        if isinstance(error, grpc.RpcError)
                        else failure_of_connect(error)
                    )
                    if failure.reason != "RATE_LIMITED":
                        continue
                    delay = _retry_delay_ns(error)
                    assert delay is not None and delay >= 1_000_000, delay
                    delays.append(delay)
                    # Waiting exactly the advertised delay is enough.
                    time.sleep(delay / 1e9)
                    try:
                        clients.call("PaymentService", "CreatePayment", probe)
                    except (grpc.RpcError, ConnectError) as again:
                        after = (
                            failure_of_grpc(again)
                            if isinstance(again, grpc.RpcError)
                            else failure_of_connect(again)
                        )
                        assert after.reason == "VALIDATION_FAILED", after
                    if len(delays) >= 5:
                        break
        finally:
            clients.close()
        if not delays:
            pytest.skip("no call was refused: this machine never sent two within 2 ms")


# -- server reflection v1 (grpcurl and buf curl try it first) ---------------------

_V1_METHOD = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"


def _reflect_v1(target: str, *requests: ServerReflectionRequest) -> list[ServerReflectionResponse]:
    """Speak grpc.reflection.v1 (its messages encode exactly as v1alpha's do)."""
    with grpc.insecure_channel(target) as channel:
        call = channel.stream_stream(
            _V1_METHOD,
            request_serializer=ServerReflectionRequest.SerializeToString,
            response_deserializer=ServerReflectionResponse.FromString,
        )
        return list(call(iter(requests), timeout=10))


def test_reflection_v1_lists_and_describes_the_services(server: RunningServer) -> None:
    listed, described, itself = _reflect_v1(
        server.grpc_target,
        ServerReflectionRequest(list_services="*"),
        ServerReflectionRequest(file_containing_symbol="accrue.billing.v1.CustomerService"),
        ServerReflectionRequest(file_containing_symbol="grpc.reflection.v1.ServerReflection"),
    )

    names = {s.name for s in listed.list_services_response.service}
    assert {s.full_name for s in SERVICES} <= names
    assert {
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    } <= names
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in described.file_descriptor_response.file_descriptor_proto
    ]
    assert any(
        "CustomerService" in [s.name for s in f.service] and f.package == "accrue.billing.v1"
        for f in files
    )
    (reflection_file,) = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in itself.file_descriptor_response.file_descriptor_proto
    ]
    assert reflection_file.package == "grpc.reflection.v1"
    assert reflection_file.service[0].method[0].input_type == (
        ".grpc.reflection.v1.ServerReflectionRequest"
    )


def test_buf_curl_lists_services_and_calls_over_reflection_v1(
    server: RunningServer, api_key: str
) -> None:
    """A real v1 reflection client (buf curl, told to use grpc-v1 only)."""
    buf = Path(sys.executable).parent / "buf"
    base = [
        str(buf),
        "curl",
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        "--reflect-protocol",
        "grpc-v1",
    ]
    url = f"http://{server.grpc_target}"
    listed = subprocess.run(
        [*base, "--list-services", url], capture_output=True, text=True, timeout=60, check=True
    )
    assert "accrue.billing.v1.CustomerService" in listed.stdout.split()
    called = subprocess.run(
        [
            *base,
            "-H",
            f"authorization: Bearer {api_key}",
            "-d",
            "{}",
            f"{url}/accrue.billing.v1.CustomerService/ListCustomers",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert called.returncode == 0, called.stderr
    assert json.loads(called.stdout or "{}") == {}
