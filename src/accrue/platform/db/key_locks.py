"""In-process try-locks keyed by (tenant, request id).

They answer "is a request with this key in flight in this process?" without
waiting; PostgreSQL advisory locks answer the same across processes.
"""

from __future__ import annotations

import threading


class KeyLocks:
    def __init__(self) -> None:
        self._held: set[tuple[str, str]] = set()
        self._mutex = threading.Lock()

    def try_acquire(self, key: tuple[str, str]) -> bool:
        with self._mutex:
            if key in self._held:
                return False
            self._held.add(key)
            return True

    def release(self, key: tuple[str, str]) -> None:
        with self._mutex:
            self._held.discard(key)

    def spans_processes(self, key: tuple[str, str]) -> bool:
        """Whether the claim on `key` also excludes other processes (see shared_state)."""
        return False
