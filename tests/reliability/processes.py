"""Running `accrue` as a separate process, the way an operator does."""

from __future__ import annotations

import re
import subprocess
import sys
import time


def accrue(*args: str, env: dict[str, str]) -> str:
    """Run one `accrue` command to completion and return what it printed."""
    return subprocess.run(
        [sys.executable, "-m", "accrue.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    """`accrue serve` on free ports; returns the process and its gRPC port once ready."""
    process = subprocess.Popen(
        [sys.executable, "-m", "accrue.cli", "serve", "--grpc-port", "0", "--connect-port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        match = re.match(r"READY grpc=(\d+) connect=(\d+)", line)
        if match:
            return process, int(match.group(1))
        if not line and process.poll() is not None:
            break
    process.kill()
    raise AssertionError("server did not become ready")
