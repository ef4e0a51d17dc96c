"""The only way domain and service code learns the time.

Injected everywhere so that tests (and, later, test clocks) control time;
nothing else calls `datetime.now()`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...
