"""Circuit breakers that stop calling a payment provider while it is failing.

A failing PSP is usually failing for everyone: hammering it adds load to its
recovery and makes our callers wait for timeouts. After enough consecutive
failures the breaker refuses calls outright, and after a cool-down lets one
probe through to find out whether the provider is back. Time is a monotonic
clock (wall-clock jumps must not open or close a breaker) injected so tests
can move it without sleeping.
"""

from __future__ import annotations

import enum
import math
import threading
import time
from collections.abc import Callable


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """One breaker per downstream; safe to share across request threads.

    Only a probe decides whether an open breaker closes: outcomes reported
    while it is OPEN come from calls admitted before it opened and are
    ignored, so a late straggler can neither close it nor extend its timer.
    A probe that never reports (its caller died) is presumed lost after
    another `reset_after_seconds`, and the next caller probes instead, so a
    breaker cannot stay half open forever.
    """

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_after_seconds: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be at least 1: {failure_threshold!r}")
        if not (math.isfinite(reset_after_seconds) and reset_after_seconds > 0):
            raise ValueError(f"reset_after_seconds must be positive: {reset_after_seconds!r}")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_after_seconds = reset_after_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        # When OPEN: when it opened. When HALF_OPEN: when the probe went out.
        self._since = 0.0

    @property
    def state(self) -> BreakerState:
        """The recorded state; OPEN turns HALF_OPEN only when a caller asks to probe."""
        with self._lock:
            return self._state

    def allow(self) -> bool:
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return True
            if self._monotonic() - self._since < self.reset_after_seconds:
                return False
            # Cool-down over (OPEN) or the probe presumed lost (HALF_OPEN): this caller probes.
            self._state = BreakerState.HALF_OPEN
            self._since = self._monotonic()
            return True

    def retry_after_seconds(self) -> float:
        """How long a refused caller should wait; fits a RetryInfo detail."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return 0.0
            elapsed = self._monotonic() - self._since
            return max(0.0, self.reset_after_seconds - elapsed)

    def record_success(self) -> None:
        with self._lock:
            if self._state is BreakerState.OPEN:
                return
            self._state = BreakerState.CLOSED
            self._failures = 0

    def record_failure(self) -> None:
        with self._lock:
            if self._state is BreakerState.OPEN:
                return
            if self._state is BreakerState.HALF_OPEN:
                self._open()
                return
            self._failures += 1
            if self._failures >= self.failure_threshold:
                self._open()

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._failures = 0
        self._since = self._monotonic()


class CircuitBreakers:
    """One breaker per PSP name, created on first use with shared settings."""

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_after_seconds: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        # Built once here so bad settings fail at start-up, not on the first payment.
        CircuitBreaker(
            "settings-check",
            failure_threshold=failure_threshold,
            reset_after_seconds=reset_after_seconds,
            monotonic=monotonic,
        )
        self._failure_threshold = failure_threshold
        self._reset_after_seconds = reset_after_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, name: str) -> CircuitBreaker:
        with self._lock:
            breaker = self._breakers.get(name)
            if breaker is None:
                breaker = CircuitBreaker(
                    name,
                    failure_threshold=self._failure_threshold,
                    reset_after_seconds=self._reset_after_seconds,
                    monotonic=self._monotonic,
                )
                self._breakers[name] = breaker
            return breaker
