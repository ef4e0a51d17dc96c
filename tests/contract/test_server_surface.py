"""What operators and newcomers touch: health, reflection, the printed demo
calls, and how an unexpected failure looks on the wire."""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from accrue.billing.v1 import catalog_pb2 as pb
from tests.conftest import Transport
from tests.support import RunningServer

CATALOG = "accrue.billing.v1.CatalogService"


def test_health_reports_serving_for_each_service(server: RunningServer) -> None:
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", CATALOG, "accrue.billing.v1.CustomerService"):
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_billing_services(server: RunningServer) -> None:
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        )
        names = {s.name for reply in replies for s in reply.list_services_response.service}
    assert {CATALOG, "accrue.billing.v1.CustomerService", "grpc.health.v1.Health"} <= names


def test_unexpected_failure_is_internal_with_only_a_correlation_id(
    rpc: Transport, server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    route = next(r for r in server.app.routes if r.method == "GetProduct")
    handler_object = route.handler.__self__  # type: ignore[attr-defined]

    def explode(*_args: object) -> None:
        raise RuntimeError("password=hunter2 in a stack trace")

    monkeypatch.setattr(handler_object._catalog, "get_product", explode)
    failure = rpc.fail(CATALOG, "GetProduct", pb.GetProductRequest(id="prod_x"))
    assert (failure.code, failure.reason) == ("INTERNAL", "INTERNAL")
    assert "hunter2" not in failure.message
    assert re.fullmatch(r"[0-9a-f]{32}", failure.metadata["correlation_id"])


def _run_demo_server(tmp_path: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "ACCRUE_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"}
    env["ACCRUE_LOG_LEVEL"] = "WARNING"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "accrue.cli",
            "serve",
            "--demo",
            "--grpc-port",
            "0",
            "--connect-port",
            "0",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert process.stdout is not None
    printed = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        printed.append(line)
        if line.startswith("READY") or (not line and process.poll() is not None):
            break
    return process, "".join(printed)


def _command_after(text: str, heading: str) -> str:
    """The (backslash-continued) command printed under `heading`."""
    block = text.split(heading, 1)[1].strip().split("\n\n", 1)[0]
    return block.replace("\\\n", " ")


def test_demo_prints_calls_that_work(tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    process, printed = _run_demo_server(tmp_path)
    try:
        key = re.search(r"export ACCRUE_KEY=(\S+)", printed)
        assert key is not None, printed
        env = {**os.environ, "ACCRUE_KEY": key.group(1)}
        repo = Path(__file__).resolve().parents[2]
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
        curl = _command_after(printed, "Create a customer over Connect with curl:")
        created = subprocess.run(
            ["bash", "-c", curl], check=False, env=env, capture_output=True, text=True, timeout=30
        )
        assert '"displayName": "Ada Lovelace"' in created.stdout, created
        buf_curl = _command_after(
            printed, "The same with buf curl (from the project's virtualenv):"
        )
        listed = subprocess.run(
            ["bash", "-c", buf_curl],
            check=False,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=repo,
        )
        assert "Ada Lovelace" in listed.stdout, listed
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


@pytest.mark.parametrize("transport", ["grpc", "connect"])
def test_a_stream_whose_client_leaves_is_closed_and_logged(
    server: RunningServer, api_key: str, transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The handler's generator is closed promptly, not left to the garbage collector."""
    from accrue.billing.v1 import event_pb2
    from tests.support import ConnectClients, GrpcClients

    caplog.set_level(logging.INFO, logger="accrue.rpc")
    clients: GrpcClients | ConnectClients = (
        GrpcClients(server.grpc_target, api_key)
        if transport == "grpc"
        else ConnectClients(server.connect_url, api_key)
    )
    try:
        clients.call("EventService", "StreamEvents", event_pb2.StreamEventsRequest())
    finally:
        clients.close()

    def ended() -> list[str]:
        return [
            r.outcome  # type: ignore[attr-defined]
            for r in caplog.records
            if getattr(r, "rpc", "").endswith("StreamEvents") and r.getMessage() == "rpc"
        ]

    deadline = time.monotonic() + 5
    while not ended() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ended() == ["CANCELLED"]
