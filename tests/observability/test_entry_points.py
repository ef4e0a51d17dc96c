"""Every long-running process serves its metrics: `accrue serve`, `worker`, `psp-sim`.

Each prints the metrics port in its READY line (0 picks a free one), and
the endpoint answers /metrics with the process's role, /healthz and /readyz.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.observability.scrape import get, scrape

pytestmark = pytest.mark.timeout(120)


def _start(args: list[str], env: dict[str, str], pattern: str) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "accrue.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        match = re.match(pattern, line)
        if match:
            return process, int(match.group(1))
        if not line and process.poll() is not None:
            break
    process.kill()
    raise AssertionError(f"{args[0]} did not print {pattern!r}")


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def test_serve_worker_and_psp_sim_serve_metrics(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ACCRUE_DATABASE_URL": f"sqlite:///{tmp_path / 'accrue.db'}",
        "ACCRUE_LOG_LEVEL": "WARNING",
        "ACCRUE_METRICS_PORT": "0",
    }
    started = []
    try:
        serve, serve_port = _start(
            ["serve", "--grpc-port", "0", "--connect-port", "0"],
            env,
            r"READY grpc=\d+ connect=\d+ metrics=(\d+)",
        )
        started.append(serve)
        worker, worker_port = _start(["worker"], env, r"READY worker metrics=(\d+)")
        started.append(worker)
        sim, sim_port = _start(
            ["psp-sim", "--port", "0", "--metrics-port", "0"],
            env,
            r"READY psp-sim port=\d+ metrics=(\d+)",
        )
        started.append(sim)
        for port, role in ((serve_port, "serve"), (worker_port, "worker"), (sim_port, "psp-sim")):
            result = scrape(port)
            assert result.value("accrue_process_info", role=role) == 1
            assert result.value("process_cpu_seconds_total") > 0
            assert get(port, "/healthz")[0] == 200
        for port in (serve_port, worker_port):
            result = scrape(port)
            assert result.value("accrue_state_up") == 1
            assert result.value("accrue_ready") == 1
            assert result.value("accrue_subscriptions_due_unbilled") == 0
            assert get(port, "/readyz")[0] == 200
    finally:
        for process in started:
            _stop(process)
