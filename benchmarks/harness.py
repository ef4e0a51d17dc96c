"""What the benchmark scripts share: `accrue serve` as a child process and
throwaway PostgreSQL databases."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
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
    with spawned_server(spawn, echo_server, ()) as found:
        yield found


@contextmanager
def spawned_server(
    spawn: object, serve: Callable[..., None], args: tuple[object, ...], wait: float = 60
) -> Iterator[tuple[int, str]]:
    """`serve(*args, port_pipe)` in a process of `spawn` (a multiprocessing context), which
    sends the gRPC port it bound down the pipe; yields (pid, target), terminates it after."""
    receive, send = spawn.Pipe(duplex=False)  # type: ignore[attr-defined]
    process = spawn.Process(target=serve, args=(*args, send), daemon=True)  # type: ignore[attr-defined]
    process.start()
    try:
        if not receive.poll(wait):
            raise RuntimeError(f"{serve.__name__} did not start")
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


def analyze(database_url: str) -> None:
    """ANALYZE a PostgreSQL database (nothing on SQLite), as autovacuum would.

    Tables that grew from nothing since their last statistics make the planner reach a
    batch's rows through a (tenant_id, ...) index and read every row of the tenant (the
    sequencer's numbering UPDATE did so per batch); this server may run without
    autovacuum. After an ANALYZE the estimates grow with the tables' pages.
    """
    if not database_url.startswith("postgresql"):
        return
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(database_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute("ANALYZE")


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process of this machine (0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def context_switches(pid: int) -> int:
    """Context switches (voluntary and not) of every thread of a process so far; 0 if it is
    gone. A thread that ends in between takes its count with it, so measure a steady server."""
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            lines = status.read_text().splitlines()
        except OSError:
            continue
        total += sum(int(x.split()[1]) for x in lines if "ctxt_switches:" in x)
    return total


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, all) CPU seconds of the whole machine so far, every core, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    busy = user + nice + system + irq + softirq + steal
    tick = os.sysconf("SC_CLK_TCK")
    return busy / tick, (busy + idle + iowait) / tick


def database_backends(database_url: str) -> list[int]:
    """Pids of the PostgreSQL backends connected to `database_url`'s database now."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (url.database,),
        ).fetchall()
    return [int(pid) for (pid,) in rows]


class CpuWatch:
    """CPU seconds each named group of processes spent between `start` and `stop`,
    and how busy the whole machine was: which part of the machine a figure is
    bound by. A process that appears during the phase counts from zero."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self._groups = groups
        self._before: dict[str, dict[int, float]] = {}
        self._machine = (0.0, 0.0)

    def _sample(self) -> dict[str, dict[int, float]]:
        return {
            name: {pid: process_cpu(pid) for pid in pids()} for name, pids in self._groups.items()
        }

    def start(self) -> None:
        self._before = self._sample()
        self._machine = machine_busy_seconds()

    def stop(self) -> dict[str, float]:
        """Seconds per group, plus "machine busy" (cores busy on average) and "cores"."""
        after = self._sample()
        busy, total = machine_busy_seconds()
        spent = {
            name: sum(cpu - self._before[name].get(pid, 0.0) for pid, cpu in pids.items())
            for name, pids in after.items()
        }
        cores = float(os.cpu_count() or 1)
        elapsed = max(total - self._machine[1], 1e-9)
        spent["machine busy"] = cores * (busy - self._machine[0]) / elapsed
        spent["cores"] = cores
        return spent
