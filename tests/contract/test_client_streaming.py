"""Client-streaming RPCs over both transports, through the shared Invoker.

The reconciliation handler is not needed here: a fake one, bound to the real
ReconciliationService descriptor, records what it pulls from the stream, and
is served by the real gRPC and Connect transports.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import hashlib
import logging
import socket
import struct
import threading
import time
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, cast

import grpc
import httpx
import pytest
import uvicorn
from connectrpc.errors import ConnectError

from accrue.billing.v1 import reconciliation_connect, reconciliation_pb2_grpc
from accrue.billing.v1 import reconciliation_pb2 as pb
from accrue.kernel.errors import InvalidState, NotFound, Unauthenticated
from accrue.platform.transport.call import CallContext
from accrue.platform.transport.connect_transport import connect_app
from accrue.platform.transport.grpc_transport import generic_handlers
from accrue.platform.transport.pipeline import Invoker, RequestStreamBroken
from accrue.platform.transport.routes import build_routes
from accrue.tenancy.service import Authenticator
from tests.support import Failure, failure_of_connect, failure_of_grpc

pytestmark = pytest.mark.timeout(180)

MiB = 1024 * 1024
KEY = "test-key"
TENANT = "ten_streaming"
SERVICE = pb.DESCRIPTOR.services_by_name["ReconciliationService"]
TRANSPORTS = ["grpc", "connect"]


# --- the fake service ------------------------------------------------------------------


class FakeAuthenticator:
    """Accepts one key; counts how often it is asked."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def tenant_for(self, authorization: str | None) -> str:
        with self._lock:
            self.calls += 1
        if authorization != f"Bearer {KEY}":
            raise Unauthenticated("a valid API key is required: authorization: Bearer <key>")
        return TENANT


@dataclass
class Upload:
    """What the handler saw of one call, looked up by the header's file name."""

    header_read: threading.Event = field(default_factory=threading.Event)
    header: pb.SettlementReportHeader | None = None
    tenant_id: str = ""
    chunks: int = 0
    size: int = 0
    order: list[int] = field(default_factory=list)
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)
    pull_error: Exception | None = None
    resume: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    returned: bool = False


class FakeReconciliation:
    """`import_settlement_report` consumes the stream; the mode is the file name's prefix.

    `ok:` reads everything, `stall:` too but only once `resume` is set,
    `early:` stops after the header, `fail:` raises INVALID_STATE after one
    chunk, `boom:` raises an unexpected error.
    """

    def __init__(self) -> None:
        self.uploads: dict[str, Upload] = {}
        self.calls = 0

    def expect(self, file_name: str) -> Upload:
        upload = self.uploads[file_name] = Upload()
        return upload

    def import_settlement_report(
        self, requests: Iterator[pb.ImportSettlementReportRequest], call: CallContext
    ) -> pb.ReconciliationRun:
        self.calls += 1
        header = next(requests).header
        upload = self.uploads[header.file_name]
        try:
            run = self._consume(header, requests, call, upload)
            upload.returned = True
            return run
        finally:
            upload.done.set()

    @staticmethod
    def _consume(
        header: pb.SettlementReportHeader,
        requests: Iterator[pb.ImportSettlementReportRequest],
        call: CallContext,
        upload: Upload,
    ) -> pb.ReconciliationRun:
        upload.header, upload.tenant_id = header, call.tenant_id
        upload.header_read.set()
        mode = header.file_name.split(":", 1)[0]
        if mode == "boom":
            raise RuntimeError("the fake handler broke")
        if mode == "stall":  # busy: reads nothing more until told
            upload.resume.wait(60)
        if mode != "early":
            try:
                for request in requests:
                    upload.chunks += 1
                    upload.size += len(request.chunk)
                    upload.order.append(int.from_bytes(request.chunk[:4], "big"))
                    upload.digest.update(request.chunk)
                    if mode == "fail":
                        raise InvalidState("the fake handler refuses this report")
            except (InvalidState, RuntimeError):
                raise
            except Exception as exc:
                upload.pull_error = exc
                raise
        return pb.ReconciliationRun(
            file_name=header.file_name,
            format=header.format,
            line_count=upload.size,
            matched_count=upload.chunks,
            report_sha256=upload.digest.hexdigest(),
        )

    def get_reconciliation_run(self, request: object, call: CallContext) -> object:
        raise NotFound("reconciliation run", "recon_x")

    list_reconciliation_runs = get_reconciliation_run
    list_reconciliation_breaks = get_reconciliation_run
    resolve_reconciliation_break = get_reconciliation_run


# --- a minimal server on both transports --------------------------------------------------


@dataclass
class Served:
    grpc_target: str
    connect_url: str
    fake: FakeReconciliation
    authenticator: FakeAuthenticator


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    fake, authenticator = FakeReconciliation(), FakeAuthenticator()
    routes = build_routes([(SERVICE, fake)])
    invoker = Invoker(cast(Authenticator, authenticator))

    grpc_executor = ThreadPoolExecutor(8, thread_name_prefix="test-grpc")
    grpc_server = grpc.server(grpc_executor)
    grpc_server.add_generic_rpc_handlers(generic_handlers(routes, invoker))
    grpc_port = grpc_server.add_insecure_port("127.0.0.1:0")
    grpc_server.start()

    connect_executor = ThreadPoolExecutor(8, thread_name_prefix="test-connect")
    sock = socket.socket(socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    connect_port = sock.getsockname()[1]
    config = uvicorn.Config(
        connect_app(routes, invoker, executor=connect_executor),
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(
        target=lambda: asyncio.run(uvicorn_server.serve(sockets=[sock])), daemon=True
    )
    thread.start()
    for _ in range(3000):
        if uvicorn_server.started or not thread.is_alive():
            break
        time.sleep(0.01)
    assert uvicorn_server.started, "the Connect server did not start"
    try:
        yield Served(
            f"127.0.0.1:{grpc_port}", f"http://127.0.0.1:{connect_port}", fake, authenticator
        )
    finally:
        uvicorn_server.should_exit = True
        grpc_server.stop(1).wait(5)
        thread.join(10)
        grpc_executor.shutdown(wait=True)
        connect_executor.shutdown(wait=True)


Messages = Iterator[pb.ImportSettlementReportRequest]


class Upload_(Protocol):
    def __call__(
        self, messages: Messages, key: str | None = KEY, timeout: float = 60
    ) -> pb.ReconciliationRun | Failure: ...


@pytest.fixture(params=TRANSPORTS)
def upload(request: pytest.FixtureRequest, served: Served) -> Iterator[Upload_]:
    """Sends a stream over one transport; the run, or the failure."""
    if request.param == "grpc":
        channel = grpc.insecure_channel(served.grpc_target)
        stub = reconciliation_pb2_grpc.ReconciliationServiceStub(channel)

        def over_grpc(
            messages: Messages, key: str | None = KEY, timeout: float = 60
        ) -> pb.ReconciliationRun | Failure:
            metadata = () if key is None else (("authorization", f"Bearer {key}"),)
            try:
                return cast(
                    pb.ReconciliationRun,
                    stub.ImportSettlementReport(messages, metadata=metadata, timeout=timeout),
                )
            except grpc.RpcError as error:
                return failure_of_grpc(error)

        yield over_grpc
        channel.close()
    else:
        client = reconciliation_connect.ReconciliationServiceClientSync(served.connect_url)

        def over_connect(
            messages: Messages, key: str | None = KEY, timeout: float = 60
        ) -> pb.ReconciliationRun | Failure:
            headers = {} if key is None else {"authorization": f"Bearer {key}"}
            try:
                run = client.import_settlement_report(
                    messages, headers=headers, timeout_ms=int(timeout * 1000)
                )
                return cast(pb.ReconciliationRun, run)
            except ConnectError as error:
                return failure_of_connect(error)

        yield over_connect
        client.close()


def _header(file_name: str, **fields: object) -> pb.ImportSettlementReportRequest:
    header = pb.SettlementReportHeader(
        format=pb.SETTLEMENT_FORMAT_SIMULATED, psp="simulated", file_name=file_name
    )
    header.cut_off_time.FromSeconds(1_767_225_600)
    for name, value in fields.items():
        setattr(header, name, value)
    return pb.ImportSettlementReportRequest(header=header)


def _chunk(index: int, size: int = MiB) -> pb.ImportSettlementReportRequest:
    """Chunk `index`: its index, big-endian, repeated, so order and content can be checked."""
    return pb.ImportSettlementReportRequest(chunk=index.to_bytes(4, "big") * (size // 4))


def _chunks(count: int, size: int = MiB) -> Messages:
    for index in range(count):
        yield _chunk(index, size)


def _expected_sha256(count: int, size: int = MiB) -> str:
    digest = hashlib.sha256()
    for index in range(count):
        digest.update(index.to_bytes(4, "big") * (size // 4))
    return digest.hexdigest()


def _name(request: pytest.FixtureRequest, mode: str = "ok") -> str:
    return f"{mode}:{request.node.name}"


# --- tests ---------------------------------------------------------------------------------


def test_a_20_mib_upload_arrives_complete_and_in_order(
    upload: Upload_, served: Served, request: pytest.FixtureRequest
) -> None:
    name = _name(request)
    seen = served.fake.expect(name)
    asked_before = served.authenticator.calls

    def messages() -> Messages:
        yield _header(name)
        yield from _chunks(20)

    run = upload(messages())

    assert isinstance(run, pb.ReconciliationRun), run
    assert (run.file_name, run.line_count, run.matched_count) == (name, 20 * MiB, 20)
    assert run.report_sha256 == _expected_sha256(20)
    assert seen.order == list(range(20))
    assert seen.header is not None and seen.header.psp == "simulated"
    assert seen.tenant_id == TENANT
    assert served.authenticator.calls == asked_before + 1, "authenticated once per call"


def test_the_handler_reads_the_stream_as_it_arrives(
    upload: Upload_, served: Served, request: pytest.FixtureRequest
) -> None:
    name = _name(request)
    seen = served.fake.expect(name)
    header_handled_first: list[bool] = []

    def messages() -> Messages:
        yield _header(name)
        # The rest is sent only once the handler has read the header.
        header_handled_first.append(seen.header_read.wait(20))
        yield from _chunks(3)

    run = upload(messages())

    assert isinstance(run, pb.ReconciliationRun), run
    assert header_handled_first == [True]
    assert (run.line_count, seen.order) == (3 * MiB, [0, 1, 2])


def _send_without_read_ahead(
    transport: str, served: Served, messages: Messages
) -> pb.ReconciliationRun | Failure:
    """A client that hands the next message over only once the last one is on the wire.

    grpcio's client does; the generated Connect client reads the request
    iterator ahead into its own buffer, so Connect is spoken here over httpx,
    which writes each envelope to the socket before asking for the next.
    """
    if transport == "grpc":
        with grpc.insecure_channel(served.grpc_target) as channel:
            stub = reconciliation_pb2_grpc.ReconciliationServiceStub(channel)
            try:
                return cast(
                    pb.ReconciliationRun,
                    stub.ImportSettlementReport(
                        messages, metadata=(("authorization", f"Bearer {KEY}"),), timeout=60
                    ),
                )
            except grpc.RpcError as error:
                return failure_of_grpc(error)

    def envelopes() -> Iterator[bytes]:
        for message in messages:
            data = message.SerializeToString()
            yield struct.pack(">BI", 0, len(data)) + data

    response = httpx.post(
        f"{served.connect_url}/{SERVICE.full_name}/ImportSettlementReport",
        content=envelopes(),
        headers={"content-type": "application/connect+proto", "authorization": f"Bearer {KEY}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    flags, length = struct.unpack(">BI", response.content[:5])
    assert flags == 0, response.content
    return pb.ReconciliationRun.FromString(response.content[5 : 5 + length])


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_fast_client_is_held_back_while_the_handler_is_busy(
    transport: str, served: Served, request: pytest.FixtureRequest
) -> None:
    """The server reads a few messages ahead, then flow control stops the client."""
    name = _name(request, "stall")
    seen = served.fake.expect(name)
    total = 96
    produced = [0]
    outcome: list[pb.ReconciliationRun | Failure] = []

    def messages() -> Messages:
        yield _header(name)
        for index in range(total):
            produced[0] += 1
            yield _chunk(index)

    sender = threading.Thread(
        target=lambda: outcome.append(_send_without_read_ahead(transport, served, messages()))
    )
    sender.start()
    try:
        assert seen.header_read.wait(20)
        # Wait for the client to stop making progress: it is held back.
        last, steady_since = -1, time.monotonic()
        while time.monotonic() - steady_since < 1.0:
            time.sleep(0.05)
            if produced[0] != last:
                last, steady_since = produced[0], time.monotonic()
        held_at = produced[0]
    finally:
        seen.resume.set()
        sender.join(60)

    # A few messages read ahead plus the socket buffers; nothing like the whole upload.
    assert held_at < total // 2, f"{held_at} MiB taken from the client while the handler was busy"
    run = outcome[0]
    assert isinstance(run, pb.ReconciliationRun), run
    assert (run.line_count, seen.order) == (total * MiB, list(range(total)))


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_no_valid_api_key_is_unauthenticated_before_any_message_is_read(
    upload: Upload_, served: Served, request: pytest.FixtureRequest, key: str | None
) -> None:
    name = _name(request)
    served.fake.expect(name)
    calls_before = served.fake.calls
    release = threading.Event()

    def messages() -> Messages:
        yield _header(name)
        # Never finishes by itself: the answer must come before the stream ends.
        release.wait(30)
        yield _chunk(0)

    try:
        failure = upload(messages(), key)
    finally:
        release.set()

    assert isinstance(failure, Failure), failure
    assert (failure.code, failure.reason) == ("UNAUTHENTICATED", "UNAUTHENTICATED")
    assert served.fake.calls == calls_before, "the handler never ran"


@pytest.mark.parametrize(
    ("bad", "field_path"),
    [
        (_header("second-header", format=pb.SETTLEMENT_FORMAT_UNSPECIFIED), "header.format"),
        (pb.ImportSettlementReportRequest(), "part"),
    ],
    ids=["header-with-unspecified-format", "empty-message"],
)
def test_an_invalid_message_mid_stream_is_invalid_argument(
    upload: Upload_,
    served: Served,
    request: pytest.FixtureRequest,
    bad: pb.ImportSettlementReportRequest,
    field_path: str,
) -> None:
    name = _name(request)
    seen = served.fake.expect(name)
    release = threading.Event()

    def messages() -> Messages:
        yield _header(name)
        yield from _chunks(2)
        yield bad
        release.wait(30)  # the error comes back without waiting for the rest
        yield from _chunks(2)

    try:
        failure = upload(messages())
    finally:
        release.set()

    assert isinstance(failure, Failure), failure
    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")
    assert field_path in failure.field_violations
    assert seen.order == [0, 1], "the messages before the bad one reached the handler"
    assert seen.pull_error is not None, "the handler saw the failure where it pulled"


def test_an_invalid_first_message_never_reaches_the_handler(
    upload: Upload_, served: Served, request: pytest.FixtureRequest
) -> None:
    calls_before = served.fake.calls

    failure = upload(iter([pb.ImportSettlementReportRequest(), _chunk(0)]))

    assert isinstance(failure, Failure), failure
    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")
    # The handler ran and pulled, but got the error instead of a message.
    assert served.fake.calls == calls_before + 1


def test_a_chunk_over_the_message_limit_is_refused(
    upload: Upload_, served: Served, request: pytest.FixtureRequest
) -> None:
    name = _name(request)
    seen = served.fake.expect(name)

    def messages() -> Messages:
        yield _header(name)
        yield _chunk(0)
        yield _chunk(1, 4 * MiB + 4)

    failure = upload(messages())

    assert isinstance(failure, Failure), failure
    # Over the contract's 4 MiB: the transport's message limit or protovalidate refuses it.
    assert failure.code in {"RESOURCE_EXHAUSTED", "INVALID_ARGUMENT"}
    assert seen.order == [0]


def test_an_accrue_error_from_the_handler_maps_to_its_status(
    upload: Upload_, served: Served, request: pytest.FixtureRequest
) -> None:
    name = _name(request, "fail")
    served.fake.expect(name)

    def messages() -> Messages:
        yield _header(name)
        yield from _chunks(3)

    failure = upload(messages())

    assert isinstance(failure, Failure), failure
    assert (failure.code, failure.reason) == ("FAILED_PRECONDITION", "INVALID_STATE")
    assert failure.message == "the fake handler refuses this report"


def test_an_unexpected_error_from_the_handler_is_internal_with_a_correlation_id(
    upload: Upload_, served: Served, request: pytest.FixtureRequest
) -> None:
    name = _name(request, "boom")
    served.fake.expect(name)

    failure = upload(iter([_header(name), _chunk(0)]))

    assert isinstance(failure, Failure), failure
    assert (failure.code, failure.reason) == ("INTERNAL", "INTERNAL")
    assert failure.metadata.get("correlation_id")
    assert "fake handler broke" not in failure.message


def test_a_handler_may_answer_before_reading_the_whole_stream(
    upload: Upload_, served: Served, request: pytest.FixtureRequest
) -> None:
    name = _name(request, "early")
    served.fake.expect(name)

    def messages() -> Messages:
        yield _header(name)
        yield from _chunks(4)

    run = upload(messages())

    assert isinstance(run, pb.ReconciliationRun), run
    assert (run.file_name, run.line_count) == (name, 0)


def test_a_deadline_mid_upload_ends_the_handler_without_a_result(
    upload: Upload_, served: Served, request: pytest.FixtureRequest
) -> None:
    name = _name(request)
    seen = served.fake.expect(name)
    release = threading.Event()

    def messages() -> Messages:
        yield _header(name)
        yield _chunk(0)
        release.wait(10)  # stalls past the deadline
        yield _chunk(1)

    try:
        failure = upload(messages(), timeout=1.0)
    finally:
        release.set()

    assert isinstance(failure, Failure), failure
    assert failure.code == "DEADLINE_EXCEEDED"
    assert seen.done.wait(10), "the handler was left waiting for messages"
    assert isinstance(seen.pull_error, RequestStreamBroken), seen.pull_error
    assert not seen.returned
    assert seen.order == [0]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_client_going_away_mid_upload_ends_the_handler_without_a_result(
    transport: str,
    served: Served,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="accrue.rpc")
    name = _name(request)
    seen = served.fake.expect(name)

    class GoneAway(Exception):
        pass

    def messages() -> Messages:
        yield _header(name)
        yield from _chunks(2)
        assert seen.header_read.wait(10)
        raise GoneAway  # the client drops the call mid-upload

    with contextlib.suppress(GoneAway, grpc.RpcError, httpx.HTTPError):
        _send_without_read_ahead(transport, served, messages())

    assert seen.done.wait(10), "the handler was left waiting for messages"
    assert isinstance(seen.pull_error, RequestStreamBroken), seen.pull_error
    assert not seen.returned
    # Logged as a broken stream, not as an unexpected failure.
    deadline = time.monotonic() + 5
    while not (outcomes := [getattr(r, "outcome", None) for r in caplog.records if r.msg == "rpc"]):
        assert time.monotonic() < deadline, "the call was never logged"
        time.sleep(0.05)
    assert outcomes == ["REQUEST_STREAM_BROKEN"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.name == "accrue.rpc"]


def test_unary_methods_of_the_same_service_still_work(served: Served) -> None:
    channel = grpc.insecure_channel(served.grpc_target)
    stub = reconciliation_pb2_grpc.ReconciliationServiceStub(channel)
    try:
        stub.GetReconciliationRun(
            pb.GetReconciliationRunRequest(id="recon_x"),
            metadata=(("authorization", f"Bearer {KEY}"),),
            timeout=10,
        )
    except grpc.RpcError as error:
        assert failure_of_grpc(error).reason == "RESOURCE_NOT_FOUND"
    else:
        raise AssertionError("GetReconciliationRun should have failed")
    finally:
        channel.close()


def test_memory_does_not_grow_with_the_upload(
    upload: Upload_, served: Served, request: pytest.FixtureRequest
) -> None:
    """128 MiB through the server (and the client: same process) in little memory.

    Protobuf keeps messages in C arenas that tracemalloc does not see, so the
    resident-set high-water mark is the measure where the OS can reset it
    (Linux); tracemalloc still catches raw bytes piling up in a transport.
    """
    name = _name(request)
    seen = served.fake.expect(name)
    total = 128

    def messages() -> Messages:
        yield _header(name)
        yield from _chunks(total)

    warm_up = f"{name}:warm-up"  # first-call allocations of the transports are not growth
    served.fake.expect(warm_up)
    upload(iter([_header(warm_up), *_chunks(8)]))
    gc.collect()
    rss_before = _reset_peak_rss()
    tracemalloc.start()
    try:
        run = upload(messages())
        _, traced_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_growth = None if rss_before is None else _proc_status_bytes("VmHWM") - rss_before

    assert isinstance(run, pb.ReconciliationRun), run
    assert (run.line_count, seen.chunks) == (total * MiB, total)
    assert traced_peak < 16 * MiB, f"traced peak {traced_peak / MiB:.1f} MiB"
    if rss_growth is not None:
        assert rss_growth < 48 * MiB, f"peak RSS grew {rss_growth / MiB:.1f} MiB"


def _proc_status_bytes(name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1]) * 1024  # kB
    raise LookupError(name)


def _reset_peak_rss() -> int | None:
    """Resets the resident-set high-water mark; the current RSS, or None where unsupported.

    Freed memory the allocator kept is handed back first, or a buffered upload
    could fit in it without raising the mark.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)  # glibc
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _proc_status_bytes("VmRSS")
    except (OSError, LookupError):
        return None
