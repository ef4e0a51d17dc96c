"""Liveness and readiness, shared by the HTTP probes and gRPC health.

Alive: the process answers. Ready: the database answers a query and its
schema is at the migrations' head (a process started against an older or a
newer schema must not take traffic). The check result is cached for a
moment so probes from several orchestrators cost one query.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, text

from accrue.platform.db import migrate

log = logging.getLogger("accrue.health")


@dataclass(frozen=True)
class ReadinessResult:
    ready: bool
    detail: str


class Readiness:
    def __init__(self, engine: Engine, *, cache_seconds: float = 1.0) -> None:
        self._engine = engine
        self._cache_seconds = cache_seconds
        self._head: str | None = None
        self._lock = threading.Lock()
        self._last: tuple[float, ReadinessResult] | None = None

    def check(self) -> ReadinessResult:
        with self._lock:
            if self._last is not None and time.monotonic() - self._last[0] < self._cache_seconds:
                return self._last[1]
            result = self._check()
            self._last = (time.monotonic(), result)
            return result

    def _check(self) -> ReadinessResult:
        try:
            if self._head is None:
                self._head = migrate.head_revision(self._engine)
            with self._engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            current = migrate.current_revision(self._engine)
        except Exception as exc:  # any failure to reach the database means not ready
            return ReadinessResult(False, f"database unreachable: {type(exc).__name__}")
        if current != self._head:
            return ReadinessResult(
                False, f"database at migration {current}, this build needs {self._head}"
            )
        return ReadinessResult(True, f"database reachable, migrations at head {current}")


class ReadinessWatcher:
    """Re-checks readiness every `interval` seconds and reports each change."""

    def __init__(
        self,
        check: Callable[[], ReadinessResult],
        on_change: Callable[[bool], None],
        *,
        interval: float = 2.0,
    ) -> None:
        self._check = check
        self._on_change = on_change
        self._interval = interval
        self._stop = threading.Event()
        self._state: bool | None = None
        self._thread = threading.Thread(target=self._run, name="readiness", daemon=True)

    def start(self) -> ReadinessWatcher:
        self._poll()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self._interval + 1)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._poll()

    def _poll(self) -> None:
        result = self._check()
        if result.ready != self._state:
            self._state = result.ready
            log.log(
                logging.INFO if result.ready else logging.WARNING,
                "readiness changed",
                extra={"ready": result.ready, "detail": result.detail},
            )
            self._on_change(result.ready)
