"""Per-tenant token buckets, so one noisy tenant cannot starve the others.

A token bucket allows short bursts (`burst` tokens) while holding the long-run
rate to `rate_per_second`, which matches how API clients really behave. The
limiter only answers "admitted, or retry after N seconds"; turning that into
RESOURCE_EXHAUSTED with RetryInfo is the transport's job.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Protocol

# Float refills drift by a few ulps; without this slack a caller that waited
# exactly the advertised retry-after could be refused again by 1e-16 tokens.
_EPSILON_TOKENS = 1e-9
# RetryInfo carries whole milliseconds: a wait is rounded up to the next one,
# and never below one, so "retry after 0 s" (retry at once, into the same
# refusal) is never advertised.
MIN_RETRY_SECONDS = 0.001


@dataclass
class _Bucket:
    tokens: float
    updated_at: float


class TokenBucketLimiter:
    """Thread-safe; memory stays bounded however many keys (tenants) appear.

    Buckets are created lazily (full) and evicted when more than `max_keys`
    are held. Full buckets go first: a full bucket is exactly what a new one
    would be, so dropping it loses nothing. Only if that is not enough are the
    least recently used buckets dropped, down to nine tenths of `max_keys`, so
    that a flood of new keys costs one sweep per many keys rather than one per
    key; a dropped bucket that was not full forgives that key's recent usage,
    the price of bounded memory.
    """

    def __init__(
        self,
        *,
        rate_per_second: float,
        burst: int,
        monotonic: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if math.isnan(rate_per_second):
            raise ValueError("rate_per_second must be a number")
        if burst < 1:
            raise ValueError(f"burst must be at least 1: {burst!r}")
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1: {max_keys!r}")
        self.rate_per_second = rate_per_second
        self.burst = burst
        self.max_keys = max_keys
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._buckets: OrderedDict[Hashable, _Bucket] = OrderedDict()

    @property
    def unlimited(self) -> bool:
        return self.rate_per_second <= 0

    def __len__(self) -> int:
        """Buckets currently held, for the memory bound and for metrics."""
        with self._lock:
            return len(self._buckets)

    def acquire(self, key: Hashable, cost: float = 1.0) -> float:
        """0.0 if admitted (tokens taken), else seconds until it would be (nothing taken)."""
        if self.unlimited:
            return 0.0
        if not (cost > 0 and cost <= self.burst):
            # More than a full bucket could never be admitted; that is a caller bug.
            raise ValueError(f"cost must be in (0, burst={self.burst}]: {cost!r}")
        with self._lock:
            now = self._monotonic()
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self.max_keys:
                    self._evict(now)
                bucket = _Bucket(tokens=float(self.burst), updated_at=now)
                self._buckets[key] = bucket
            else:
                self._buckets.move_to_end(key)
                bucket.tokens = self._refilled(bucket, now)
                bucket.updated_at = max(bucket.updated_at, now)
            if bucket.tokens + _EPSILON_TOKENS >= cost:
                bucket.tokens -= cost
                return 0.0
            return _retry_after(cost - bucket.tokens, self.rate_per_second)

    def _refilled(self, bucket: _Bucket, now: float) -> float:
        elapsed = max(0.0, now - bucket.updated_at)
        return min(float(self.burst), bucket.tokens + elapsed * self.rate_per_second)

    def _evict(self, now: float) -> None:
        full = [
            key
            for key, bucket in self._buckets.items()
            if self._refilled(bucket, now) + _EPSILON_TOKENS >= self.burst
        ]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) < self.max_keys:
            return
        low_water = max(0, self.max_keys - max(1, self.max_keys // 10))
        while len(self._buckets) > low_water:
            self._buckets.popitem(last=False)


def _retry_after(missing_tokens: float, rate_per_second: float) -> float:
    """Seconds until `missing_tokens` have refilled, rounded up to whole milliseconds."""
    # round() first drops float noise (0.3 s must not become 0.301 s).
    milliseconds = math.ceil(round(missing_tokens / rate_per_second * 1000, 6))
    return max(MIN_RETRY_SECONDS, milliseconds / 1000)


class Limiter(Protocol):
    """What the API's rate limits need: the in-process buckets or shared ones."""

    rate_per_second: float
    burst: int

    def acquire(self, key: Hashable, cost: float = 1.0) -> float: ...
