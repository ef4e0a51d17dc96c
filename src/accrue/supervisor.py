"""`accrue serve --processes N`: N server processes sharing both ports.

Python serves one call at a time per process (the GIL), so one machine's
cores are used by running several processes. Each child is an ordinary
`accrue serve` with SO_REUSEPORT on both its gRPC and its Connect socket; the
kernel spreads incoming connections over the children.

The children are started as fresh interpreters (`python -m accrue.cli`), not
forked: grpcio's threads and a connection pool do not survive `fork()`.
Migrations run once, here, before any child starts, so the children never race
on them. Ports given as 0 are chosen here, once, and held by a socket bound
with SO_REUSEPORT but never listening (so it takes no connections) until every
child is ready; every child then binds the same port.

Shutdown: SIGTERM or SIGINT is passed to every child, which drains its calls
within the grace period as a single server does; a child still running after
that is killed. A child that dies on its own takes the others down with it
and the command exits non-zero: a half-sized server silently serving on would
hide the failure, and the process supervisor (systemd, Kubernetes) restarts the
whole unit.

State the processes must share (rate limits, in-flight request ids) lives in
Redis when `ACCRUE_REDIS_URL` is set; without it each child takes 1/N of the
rate limit (see `bootstrap._rate_limits`).
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from accrue.config import Settings

log = logging.getLogger("accrue.supervisor")

_READY = re.compile(r"READY grpc=(\d+) connect=(\d+)")


@dataclass(frozen=True)
class ChildOptions:
    settings: Settings
    grpc_port: int
    connect_port: int
    database_url: str


def reserve_port(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port) with SO_REUSEPORT, never listening.

    It holds the port number (a port of 0 becomes a free one) without taking
    connections: only listening sockets receive them.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _child_environment(options: ChildOptions, index: int) -> dict[str, str]:
    settings = options.settings
    return {
        **os.environ,
        "ACCRUE_DATABASE_URL": options.database_url,
        "ACCRUE_GRPC_HOST": settings.grpc_host,
        "ACCRUE_CONNECT_HOST": settings.connect_host,
        "ACCRUE_PROCESSES": str(settings.processes),
        "ACCRUE_REUSE_PORT": "true",
        "ACCRUE_AUTO_MIGRATE": "false",  # done once, by the supervisor
        # Each child serves its metrics on ACCRUE_METRICS_PORT + its index.
        "ACCRUE_PROCESS_INDEX": str(index),
    }


def _start_child(options: ChildOptions, index: int) -> subprocess.Popen[str]:
    # Our own interpreter and module, with arguments we made: nothing untrusted.
    return subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "accrue.cli",
            "serve",
            "--supervised",
            "--grpc-port",
            str(options.grpc_port),
            "--connect-port",
            str(options.connect_port),
        ],
        env=_child_environment(options, index),
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - only calls prctl, no locks taken
    )


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if the supervisor itself is killed."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _wait_ready(child: subprocess.Popen[str], deadline: float) -> bool:
    """Read the child's stdout until its READY line; then keep forwarding the rest."""
    assert child.stdout is not None
    found: list[bool] = []
    done = threading.Event()

    def pump() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            if not found and _READY.match(line):
                found.append(True)
                done.set()
                continue
            sys.stdout.write(line)
            sys.stdout.flush()
        done.set()

    threading.Thread(target=pump, name=f"child-{child.pid}-stdout", daemon=True).start()
    done.wait(max(0.0, deadline - time.monotonic()))
    return bool(found)


class Supervisor:
    def __init__(self, settings: Settings, *, database_url: str) -> None:
        self._settings = settings
        self._database_url = database_url
        self._children: list[subprocess.Popen[str]] = []
        self._stop = threading.Event()

    def request_stop(self, signum: int, _frame: FrameType | None = None) -> None:
        log.info("signal received", extra={"signal": signum})
        self._stop.set()

    def run(self, *, on_ready: Callable[[int, int], None] | None = None) -> int:
        settings = self._settings
        grpc_hold = reserve_port(settings.grpc_host, settings.grpc_port)
        connect_hold = reserve_port(settings.connect_host, settings.connect_port)
        grpc_port, connect_port = grpc_hold.getsockname()[1], connect_hold.getsockname()[1]
        options = ChildOptions(settings, grpc_port, connect_port, self._database_url)
        try:
            deadline = time.monotonic() + 120
            for index in range(settings.processes):
                self._children.append(_start_child(options, index))
            for child in self._children:
                if not _wait_ready(child, deadline):
                    log.error("server process did not start", extra={"pid": child.pid})
                    self._stop_children()
                    return 1
        except BaseException:
            self._stop_children()
            raise
        finally:
            grpc_hold.close()
            connect_hold.close()
        log.info(
            "serving",
            extra={
                "grpc": f"{settings.grpc_host}:{grpc_port}",
                "connect": f"{settings.connect_host}:{connect_port}",
                "processes": settings.processes,
            },
        )
        if on_ready is not None:
            on_ready(grpc_port, connect_port)
        pids = ",".join(str(child.pid) for child in self._children)
        print(
            f"READY grpc={grpc_port} connect={connect_port} processes={len(self._children)}"
            f" pids={pids}",
            flush=True,
        )
        failed = self._watch()
        self._stop_children()
        return 1 if failed or any(child.returncode != 0 for child in self._children) else 0

    def _watch(self) -> bool:
        """Wait for a stop request; True if a child died first."""
        while not self._stop.wait(0.2):
            for child in self._children:
                if child.poll() is not None:
                    log.error(
                        "server process exited; stopping the others",
                        extra={"pid": child.pid, "returncode": child.returncode},
                    )
                    return True
        return False

    def _stop_children(self) -> None:
        for child in self._children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self._settings.shutdown_grace_seconds + 10
        for child in self._children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("server process did not stop in time; killed", extra={"pid": child.pid})
                child.kill()
                child.wait()
