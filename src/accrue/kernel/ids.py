"""Resource identifiers: a type prefix and a ULID (time-ordered, 128 bits).

Lists page by id, so ids that sort by creation time give a stable
oldest-first order without a second sort key.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import datetime

from accrue.kernel.clock import Clock

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


# Every pair of Crockford digits, indexed by the 10 bits they encode.
_PAIRS = tuple(high + low for high in _CROCKFORD for low in _CROCKFORD)
_PAIR_SHIFTS = tuple(range(120, -1, -10))  # most significant pair first


def encode_ulid(timestamp_ms: int, randomness: int) -> str:
    """26 Crockford base32 characters: 48 bits of milliseconds, 80 of randomness.

    Two digits per table lookup (13 instead of 26 steps): the bill run makes about
    six ids per renewal, and the digit-at-a-time loop was its costliest function of
    its own."""
    value = (timestamp_ms << 80) | randomness
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in _PAIR_SHIFTS])


# How many times this process's lineage has forked: state made before is stale.
_FORKS = [0]


def _after_fork_in_child() -> None:
    _FORKS[0] += 1


os.register_at_fork(after_in_child=_after_fork_in_child)


class OsRandomness:
    """Random bits from the operating system's CSPRNG, read 4 KiB at a time.

    One `getrandom` call per id was 3% of a bill-run worker's time; one per
    about 400 ids is nothing. A forked child drops what its parent read, so
    two processes never hand out the same bits. Not thread-safe: the
    generator calls it under its lock."""

    _SIZE = 4096

    def __init__(self) -> None:
        self._buffer = b""
        self._at = 0
        self._forks = _FORKS[0]

    def __call__(self, bits: int) -> int:
        size = (bits + 7) // 8
        if self._forks != _FORKS[0] or self._at + size > len(self._buffer):
            self._buffer, self._at, self._forks = os.urandom(self._SIZE), 0, _FORKS[0]
        chunk = self._buffer[self._at : self._at + size]
        self._at += size
        return int.from_bytes(chunk, "big") >> (size * 8 - bits)


class IdGenerator:
    """Makes `prefix_<ULID>` ids; monotonic within a process even within one millisecond."""

    def __init__(self, clock: Clock, entropy: Callable[[int], int] | None = None) -> None:
        self._clock = clock
        self._entropy = entropy if entropy is not None else OsRandomness()
        self._last_ms = -1
        self._last_random = 0
        self._forks = _FORKS[0]
        self._lock = threading.Lock()

    def new(self, prefix: str) -> str:
        millis = _millis(self._clock.now())
        with self._lock:  # one generator serves every request thread
            if self._forks != _FORKS[0]:  # a forked child: its parent's last id is not ours
                self._last_ms, self._forks = -1, _FORKS[0]
            if millis <= self._last_ms:
                millis = self._last_ms
                randomness = self._last_random + 1
            else:
                randomness = self._entropy(80)
            self._last_ms, self._last_random = millis, randomness
        return f"{prefix}_{encode_ulid(millis, randomness & ((1 << 80) - 1))}"


def _millis(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)
