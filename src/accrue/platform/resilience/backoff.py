"""Exponential backoff with full jitter for retries against payment providers.

Full jitter (a uniform draw between zero and the exponential ceiling) rather
than a fixed or "equal jitter" delay: when many callers fail together (a PSP
blip), spreading their retries over the whole window is what stops them from
returning in synchronized waves, and it does so with the least total work
(AWS Architecture Blog, "Exponential Backoff And Jitter").
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Retry timing policy; `max_attempts` travels with it so callers share one limit."""

    base_seconds: float
    cap_seconds: float
    max_attempts: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.base_seconds) and self.base_seconds > 0):
            raise ValueError(f"base_seconds must be positive and finite: {self.base_seconds!r}")
        if not (math.isfinite(self.cap_seconds) and self.cap_seconds >= self.base_seconds):
            raise ValueError(
                f"cap_seconds must be finite and at least base_seconds: {self.cap_seconds!r}"
            )
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1: {self.max_attempts!r}")

    def ceiling(self, attempt: int) -> float:
        """The largest delay allowed before retry `attempt` (counted from 0)."""
        if attempt < 0:
            raise ValueError(f"attempt must be non-negative: {attempt!r}")
        try:
            grown = self.base_seconds * 2.0**attempt
        except OverflowError:
            # Far past the cap anyway; the cap is the answer, not an exception.
            return self.cap_seconds
        return min(self.cap_seconds, grown)

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The rng is passed in so that retries are reproducible under a seed."""
        return rng.uniform(0.0, self.ceiling(attempt))
