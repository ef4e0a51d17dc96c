"""State every server process and machine must agree on, kept in Redis.

Two things cannot live in one process once `accrue serve --processes N` or a
second machine runs: a tenant's rate limit (N processes would each grant the
whole limit) and "this request_id is being worked on right now" (a duplicate
arriving at another process must be told ABORTED, not run).

Rate limits: one token bucket per (tenant, method) as a Redis hash, updated by
a Lua script, which Redis runs atomically; the script reads Redis's own clock
(`TIME`), so machines with skewed clocks still share one bucket correctly.
A refused call is told the real time until a token will be there.

In-flight request ids: `SET key token NX PX ttl` claims, a compare-and-delete
script releases only our own claim. The TTL bounds how long a crashed
process's claim can block a retry; correctness never depends on it (see below).

When Redis cannot be reached (each command has a short timeout), Accrue
neither refuses all money movement nor drops its limits:

- rate limits fall back to the in-process bucket with this process's share of
  the limit (rate and burst divided by the number of processes), so the
  machine as a whole still never grants more than the limit; a Redis outage
  must not become a billing outage, and must not remove the protection either;
- in-flight claims fall back to the database: the in-process lock plus, on
  PostgreSQL, the advisory lock that also spans processes. Exactly-once never
  rests on Redis: the stored response and the unique (tenant, request_id) keys
  are in the same transaction as the effect, so the worst a lost claim can do
  is make a duplicate wait for the first and replay its answer.

Failures are logged at most once per `_LOG_EVERY_SECONDS`, and Redis is not
asked again for `_RETRY_AFTER_SECONDS` after a failure so that an outage adds
no timeout to every call.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Hashable
from typing import Any

import redis

from accrue.platform.db.key_locks import KeyLocks
from accrue.platform.resilience.rate_limit import TokenBucketLimiter

log = logging.getLogger("accrue.shared_state")

_RETRY_AFTER_SECONDS = 1.0
_LOG_EVERY_SECONDS = 10.0
IN_FLIGHT_TTL_MS = 60_000

# KEYS[1] bucket; ARGV rate/s, burst, cost. Returns the wait in seconds as a
# string ("0" when admitted): Lua numbers returned to Redis become integers.
_BUCKET_SCRIPT = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate)
  at = now
end
local wait = 0
if tokens + 1e-9 >= cost then
  tokens = tokens - cost
else
  wait = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at',
  string.format('%.17g', at))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return string.format('%.17g', wait)
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def connect(url: str, *, timeout_seconds: float) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        health_check_interval=30,
    )


class _Outage:
    """Remembers a Redis failure for a moment, and rate-limits the log about it."""

    def __init__(self, what: str, monotonic: Callable[[], float]) -> None:
        self._what = what
        self._monotonic = monotonic
        self._down_until = 0.0
        self._logged_at = -_LOG_EVERY_SECONDS
        self._lock = threading.Lock()

    def down(self) -> bool:
        return self._monotonic() < self._down_until

    def failed(self, error: Exception, fallback: str) -> None:
        now = self._monotonic()
        with self._lock:
            self._down_until = now + _RETRY_AFTER_SECONDS
            if now - self._logged_at < _LOG_EVERY_SECONDS:
                return
            self._logged_at = now
        log.warning(
            "Redis unreachable; falling back",
            extra={"state": self._what, "fallback": fallback, "error": repr(error)[:200]},
        )


class RedisTokenBuckets:
    """Per-key token buckets shared by every process using the same Redis and prefix."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str,
        fallback: TokenBucketLimiter,
        rate_per_second: float,
        burst: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate_per_second = rate_per_second
        self.burst = burst
        self._prefix = prefix
        self._fallback = fallback
        self._script: Any = client.register_script(_BUCKET_SCRIPT)
        self._outage = _Outage("rate limits", monotonic)

    @property
    def unlimited(self) -> bool:
        return self.rate_per_second <= 0

    def acquire(self, key: Hashable, cost: float = 1.0) -> float:
        """0.0 if admitted (tokens taken), else seconds until it would be (nothing taken)."""
        if self.unlimited:
            return 0.0
        if not (cost > 0 and cost <= self.burst):
            raise ValueError(f"cost must be in (0, burst={self.burst}]: {cost!r}")
        if not self._outage.down():
            try:
                wait = float(
                    self._script(
                        keys=[self._key(key)], args=[repr(self.rate_per_second), self.burst, cost]
                    )
                )
                # Rounded up to the millisecond RetryInfo carries: never "retry after 0".
                return 0.0 if wait <= 0 else max(0.001, math.ceil(wait * 1000) / 1000)
            except redis.RedisError as error:
                self._outage.failed(error, "this process's share of the limit, in-process")
        return self._fallback.acquire(key, cost)

    def _key(self, key: Hashable) -> str:
        parts = key if isinstance(key, tuple) else (key,)
        return self._prefix + "rate:" + ":".join(str(part) for part in parts)


class RedisKeyLocks(KeyLocks):
    """In-flight request ids claimed in Redis, so a duplicate at any process is refused.

    `try_acquire` answers like `KeyLocks`; `spans_processes(key)` says whether
    the claim is held in Redis (True) or, Redis being unreachable, only in
    this process, in which case the database must add its own cross-process
    lock.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str,
        ttl_ms: int = IN_FLIGHT_TTL_MS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._client = client
        self._prefix = prefix
        self._ttl_ms = ttl_ms
        self._release: Any = client.register_script(_RELEASE)
        self._outage = _Outage("in-flight request ids", monotonic)
        self._tokens: dict[tuple[str, str], str] = {}

    def try_acquire(self, key: tuple[str, str]) -> bool:
        if not super().try_acquire(key):
            return False
        if self._outage.down():
            return True
        token = uuid.uuid4().hex
        try:
            claimed = self._client.set(self._key(key), token, nx=True, px=self._ttl_ms)
        except redis.RedisError as error:
            self._outage.failed(error, "in-process lock and the database's lock")
            return True
        if not claimed:
            super().release(key)
            return False
        with self._mutex:
            self._tokens[key] = token
        return True

    def spans_processes(self, key: tuple[str, str]) -> bool:
        with self._mutex:
            return key in self._tokens

    def release(self, key: tuple[str, str]) -> None:
        with self._mutex:
            token = self._tokens.pop(key, None)
        try:
            if token is not None:
                self._release(keys=[self._key(key)], args=[token])
        except redis.RedisError as error:
            # The claim expires by itself after the TTL.
            self._outage.failed(error, "claim left to expire")
        finally:
            super().release(key)

    def _key(self, key: tuple[str, str]) -> str:
        tenant_id, request_id = key
        return f"{self._prefix}inflight:{tenant_id}:{request_id}"
