"""`accrue serve --processes N` and several servers sharing one tenant's limits."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import httpx

from accrue.billing.v1 import customer_pb2 as cus
from accrue.billing.v1 import customer_pb2_grpc, payment_pb2, payment_pb2_grpc
from tests.redis_support import redis_prefix
from tests.reliability.processes import accrue, start_server

READY = re.compile(r"READY grpc=(\d+) connect=(\d+) processes=(\d+) pids=([\d,]+)")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "ACCRUE_DATABASE_URL": f"sqlite:///{tmp_path / 'accrue.db'}",
        "ACCRUE_LOG_LEVEL": "WARNING",
        "ACCRUE_SHUTDOWN_GRACE_SECONDS": "3",
        **extra,
    }


@contextmanager
def supervised(
    env: dict[str, str], processes: int
) -> Iterator[tuple[subprocess.Popen[str], re.Match[str]]]:
    command = [sys.executable, "-m", "accrue.cli", "serve", "--processes", str(processes)]
    command += ["--grpc-port", "0", "--connect-port", "0"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        timer = threading.Timer(90, process.kill)
        timer.start()
        ready = None
        for line in process.stdout:
            ready = READY.match(line)
            if ready:
                break
        timer.cancel()
        assert ready is not None, "the supervisor never printed READY"
        yield process, ready
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def listening_pids(port: int) -> set[int]:
    """The processes holding a listening TCP socket on `port` (any address)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                inodes.add(fields[9])
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            links = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
        except OSError:
            continue
        if any(f"socket:[{inode}]" in links for inode in inodes):
            pids.add(int(entry.name))
    return pids


def test_two_processes_serve_both_ports_and_stop_cleanly(tmp_path: Path) -> None:
    env = _env(tmp_path)
    key = re.search(r"api key (\S+)", accrue("tenant", "create", "procs", env=env)).group(1)  # type: ignore[union-attr]
    with supervised(env, 2) as (process, ready):
        grpc_port, connect_port = int(ready.group(1)), int(ready.group(2))
        pids = {int(pid) for pid in ready.group(4).split(",")}
        assert int(ready.group(3)) == 2 and len(pids) == 2
        assert listening_pids(grpc_port) == pids
        assert listening_pids(connect_port) == pids

        metadata = (("authorization", f"Bearer {key}"),)
        created = []
        for n in range(8):  # a channel each: new connections, spread by the kernel
            with grpc.insecure_channel(
                f"127.0.0.1:{grpc_port}", options=[("grpc.use_local_subchannel_pool", 1)]
            ) as channel:
                stub = customer_pb2_grpc.CustomerServiceStub(channel)
                request = cus.CreateCustomerRequest(
                    customer=cus.Customer(display_name=f"c{n}", currency_code="USD"),
                    request_id=f"r{n}",
                )
                created.append(stub.CreateCustomer(request, metadata=metadata, timeout=10).id)
        response = httpx.post(
            f"http://127.0.0.1:{connect_port}/accrue.billing.v1.CustomerService/GetCustomer",
            json={"id": created[0]},
            headers={"authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert response.status_code == 200 and response.json()["id"] == created[0]

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        for pid in pids:
            assert not Path(f"/proc/{pid}").exists() or "Z" in _state(pid), f"child {pid} left"
        assert listening_pids(grpc_port) == set()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_a_child_that_dies_takes_the_supervisor_down(tmp_path: Path) -> None:
    with supervised(_env(tmp_path), 2) as (process, ready):
        victim = int(ready.group(4).split(",")[0])
        os.kill(victim, signal.SIGKILL)
        assert process.wait(timeout=30) != 0


def test_two_servers_under_load_never_exceed_one_tenants_rate_limit(tmp_path: Path) -> None:
    rate, burst, seconds = 10.0, 5, 2.0
    with redis_prefix() as (url, prefix):
        env = _env(
            tmp_path,
            ACCRUE_REDIS_URL=url,
            ACCRUE_REDIS_KEY_PREFIX=prefix,
            ACCRUE_PAYMENT_RATE_PER_SECOND=str(rate),
            ACCRUE_PAYMENT_RATE_BURST=str(burst),
        )
        key = re.search(r"api key (\S+)", accrue("tenant", "create", "rl", env=env)).group(1)  # type: ignore[union-attr]
        servers = [start_server(env), start_server(env)]
        try:
            admitted, refused, delays = _hammer([port for _p, port in servers], key, seconds)
        finally:
            for server, _port in servers:
                server.send_signal(signal.SIGTERM)
            for server, _port in servers:
                assert server.wait(timeout=30) == 0
    elapsed = max(admitted) - min(admitted) if admitted else 0.0
    # Each server alone would admit burst + rate * seconds; together they must too.
    assert len(admitted) <= burst + rate * elapsed + 1, (len(admitted), elapsed)
    assert len(admitted) >= burst + rate * seconds * 0.5, "the load did not reach the limit"
    assert refused > len(admitted), "the load must have been well over the limit"
    assert min(delays) > 0, "RetryInfo must say when to come back, never 0"


def _hammer(ports: list[int], key: str, seconds: float) -> tuple[list[float], int, list[float]]:
    """Invalid CreatePayment calls (limited before validation) from both servers' callers."""
    from tests.integration.test_idempotency import retry_delay_of

    admitted: list[float] = []
    refused = [0]
    delays: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    metadata = (("authorization", f"Bearer {key}"),)

    def caller(port: int) -> None:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = payment_pb2_grpc.PaymentServiceStub(channel)
            while time.monotonic() < stop:
                try:
                    stub.CreatePayment(payment_pb2.CreatePaymentRequest(), metadata=metadata)
                    code = grpc.StatusCode.OK
                except grpc.RpcError as error:
                    code = error.code()  # type: ignore[attr-defined]
                    delay = retry_delay_of(error)
                with lock:
                    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
                        refused[0] += 1
                        delays.append(delay if delay is not None else 0.0)
                    else:
                        admitted.append(time.monotonic())

    threads = [threading.Thread(target=caller, args=(ports[i % 2],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return admitted, refused[0], delays
