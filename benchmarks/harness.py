"""What the benchmark scripts share: `accrue serve` as a child process and
throwaway PostgreSQL databases."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import grpc

ACCRUE = str(Path(sys.executable).with_name("accrue"))
ECHO_METHOD = "/bench.Echo/Echo"
ECHO_PAYLOAD = b"x" * 64  # about the size of a small Accrue request


def echo_server(port_pipe: object) -> None:
    """A bare grpcio server returning the request bytes, with 32 worker threads like
    `accrue serve`: the ceiling for any Python grpcio server on this machine. Run it
    in a spawned process; it sends its port down `port_pipe`."""
    echo = grpc.unary_unary_rpc_method_handler(lambda request, _context: request)  # bytes in/out
    server = grpc.server(ThreadPoolExecutor(32), options=[("grpc.so_reuseport", 0)])  # as accrue
    handler = grpc.method_handlers_generic_handler("bench.Echo", {"Echo": echo})
    server.add_generic_rpc_handlers([handler])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    port_pipe.send(port)  # type: ignore[attr-defined]
    server.wait_for_termination()


@contextmanager
def echo_process(spawn: object) -> Iterator[tuple[int, str]]:
    """`echo_server` in a process of `spawn` (a multiprocessing context); yields (pid, target)."""
    receive, send = spawn.Pipe(duplex=False)  # type: ignore[attr-defined]
    process = spawn.Process(target=echo_server, args=(send,), daemon=True)  # type: ignore[attr-defined]
    process.start()
    try:
        if not receive.poll(60):
            raise RuntimeError("echo server did not start")
        yield process.pid or 0, f"127.0.0.1:{receive.recv()}"
    finally:
        process.terminate()
        process.join(10)


def _env(database_url: str) -> dict[str, str]:
    return {**os.environ, "ACCRUE_DATABASE_URL": database_url, "ACCRUE_LOG_LEVEL": "WARNING"}


def create_tenant(database_url: str, name: str = "bench") -> str:
    """A new tenant through the CLI (migrating the database if needed); returns its API key."""
    created = subprocess.run(
        [ACCRUE, "tenant", "create", name],
        env=_env(database_url),
        capture_output=True,
        text=True,
        check=False,
    )
    if created.returncode != 0:
        raise RuntimeError(f"accrue tenant create failed:\n{created.stderr[-2000:]}")
    return next(ln.split()[-1] for ln in created.stdout.splitlines() if ln.startswith("api key"))


@contextmanager
def accrue_server(database_url: str, workdir: Path) -> Iterator[tuple[int, str]]:
    """`accrue serve` as a child process on `database_url`; yields (pid, gRPC target)."""
    with accrue_servers(database_url, workdir, processes=1) as (pids, target):
        yield pids[0], target


@contextmanager
def accrue_servers(
    database_url: str, workdir: Path, *, processes: int
) -> Iterator[tuple[list[int], str]]:
    """`accrue serve --processes N`; yields (the pids serving calls, gRPC target)."""
    log_path = workdir / "server.log"
    command = [ACCRUE, "serve", "--grpc-port", "0", "--connect-port", "0"]
    command += ["--processes", str(processes)]
    with log_path.open("w") as log:
        server = subprocess.Popen(
            command,
            env=_env(database_url),
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    watchdog = threading.Timer(60, server.kill)  # one that never gets ready is killed
    watchdog.start()
    try:
        line = next((x for x in server.stdout or () if x.startswith("READY")), "")  # "" at exit
        watchdog.cancel()
        if not line:
            raise RuntimeError("accrue serve exited before printing READY")
        ports = dict(part.split("=") for part in line.split()[1:])
        pids = [int(pid) for pid in ports["pids"].split(",")] if "pids" in ports else [server.pid]
        yield pids, f"127.0.0.1:{ports['grpc']}"
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        if server.wait() not in (0, -signal.SIGTERM):
            tail = log_path.read_text().splitlines()[-20:]
            print(f"  accrue serve exited with {server.returncode}; log tail:", *tail, sep="\n    ")


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str | None]:
    """URL of a fresh database accrue_bench_<random>, dropped afterwards; None if unreachable."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"accrue_bench_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split())[:200]  # one line
        print(f"\nPostgreSQL skipped: cannot connect to {admin_url}: {reason}", flush=True)
        yield None
        return
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
