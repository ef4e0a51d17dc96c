"""The only way domain and service code learns the time.

Injected everywhere so that tests (and, later, test clocks) control time;
nothing else calls `datetime.now()`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from accrue.kernel.errors import ValidationFailed


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


def whole_second(value: datetime, field: str) -> datetime:
    """`value` in UTC without its fraction of a second: billing counts whole seconds."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed.on(field, "must be timezone-aware")
    return value.astimezone(UTC).replace(microsecond=0)
