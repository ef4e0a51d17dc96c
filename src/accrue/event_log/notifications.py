"""Wakes this process's event streams when any process's sequencer numbers events.

The sequencer sends `NOTIFY accrue_sequenced, '<tenant>'` in each batch that
numbered events (delivered at its commit); this listener holds one dedicated
PostgreSQL connection in LISTEN and rings the event bell, so an idle
StreamEvents in any server wakes within milliseconds instead of at its next
poll. The poll stays as the safety net if a notification is ever lost (for
example while the listener reconnects).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import URL

# The PostgreSQL channel the sequencer notifies after numbering a batch.
CHANNEL = "accrue_sequenced"

log = logging.getLogger("accrue.events.listener")


class SequencedListener:
    def __init__(self, url: URL, ring: Callable[[list[str]], None]) -> None:
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._ring = ring
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="event-listener", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    while not self._stop.is_set():
                        # Each notification rings at once; the timeout only
                        # bounds how long a stop request waits.
                        for notification in conn.notifies(timeout=0.25):
                            self._ring([notification.payload])
            except Exception:  # reconnect: streams still poll meanwhile
                self.listening.clear()
                log.exception("event listener lost its connection; reconnecting")
                self._stop.wait(1.0)
