"""Crash injection for reliability tests: the process dies, as in a power cut.

`os._exit` skips every cleanup (no rollback, no atexit, no flush), which is
what a kill -9 at that instant would do; the tests then restart the server
and check that nothing was charged twice or lost.
"""

from __future__ import annotations

import os
import sys

POINTS = frozenset({"before_psp_call", "after_psp_call", "after_commit"})
CRASH_EXIT_CODE = 86


class CrashAt:
    def __init__(self, point: str) -> None:
        if point not in POINTS:
            raise ValueError(f"unknown crash point {point!r}; one of {sorted(POINTS)}")
        self._point = point

    def reached(self, point: str) -> None:
        if point == self._point:
            sys.stderr.write(f"CRASH at {point}\n")
            sys.stderr.flush()
            os._exit(CRASH_EXIT_CODE)
