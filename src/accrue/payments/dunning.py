"""Dunning: when a failed automatic collection is tried again, and when to stop.

Retries are counted from the failure before them (3, 5 and 7 days by
default), in the customer's business time, so a test clock walks through
them exactly as real time would. After the last retry fails the
subscription is canceled or kept as UNPAID, by policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

FinalAction = Literal["cancel", "unpaid"]


@dataclass(frozen=True, slots=True)
class DunningPolicy:
    retry_delays: tuple[timedelta, ...] = (timedelta(days=3), timedelta(days=5), timedelta(days=7))
    final_action: FinalAction = "cancel"

    def __post_init__(self) -> None:
        if any(delay <= timedelta(0) for delay in self.retry_delays):
            raise ValueError("dunning retry delays must be positive")

    @property
    def max_attempts(self) -> int:
        """The first attempt and every retry."""
        return 1 + len(self.retry_delays)

    def next_attempt(self, attempts_made: int, failed_at: datetime) -> datetime | None:
        """When to try again after the `attempts_made`-th attempt failed; None when done."""
        if attempts_made < 1:
            raise ValueError("at least one attempt was made before a retry is planned")
        if attempts_made > len(self.retry_delays):
            return None
        return failed_at + self.retry_delays[attempts_made - 1]

    @classmethod
    def parse(cls, retry_days: str, final_action: FinalAction) -> DunningPolicy:
        """From settings: comma-separated days between attempts, e.g. `3,5,7`."""
        text = retry_days.strip()
        delays = tuple(timedelta(days=float(part)) for part in text.split(",")) if text else ()
        return cls(retry_delays=delays, final_action=final_action)
