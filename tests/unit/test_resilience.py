"""Backoff, circuit breakers and rate limits: retries spread out, failing PSPs
get a rest, and no tenant can take more than its share."""

from __future__ import annotations

import random
import statistics
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accrue.platform.resilience.backoff import Backoff
from accrue.platform.resilience.circuit_breaker import BreakerState, CircuitBreaker, CircuitBreakers
from accrue.platform.resilience.rate_limit import TokenBucketLimiter


class FakeMonotonic:
    """Seconds that only move when a test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --- backoff ---------------------------------------------------------------


@given(
    base=st.floats(1e-3, 10),
    cap_factor=st.floats(1, 1000),
    attempt=st.integers(0, 2000),
    seed=st.integers(0, 2**32),
)
def test_backoff_delay_is_always_between_zero_and_the_ceiling(
    base: float, cap_factor: float, attempt: int, seed: int
) -> None:
    backoff = Backoff(base_seconds=base, cap_seconds=base * cap_factor, max_attempts=5)
    ceiling = backoff.ceiling(attempt)
    assert 0 < ceiling <= backoff.cap_seconds
    assert 0 <= backoff.delay(attempt, random.Random(seed)) <= ceiling


def test_backoff_ceiling_doubles_until_the_cap() -> None:
    backoff = Backoff(base_seconds=0.25, cap_seconds=3.0, max_attempts=10)
    assert [backoff.ceiling(n) for n in range(7)] == [0.25, 0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    assert backoff.ceiling(10_000) == 3.0


@given(base=st.floats(1e-3, 10), cap_factor=st.floats(1, 1e6), attempt=st.integers(0, 60))
def test_backoff_each_ceiling_is_double_the_previous_or_the_cap(
    base: float, cap_factor: float, attempt: int
) -> None:
    backoff = Backoff(base_seconds=base, cap_seconds=base * cap_factor, max_attempts=3)
    assert backoff.ceiling(0) == base
    assert backoff.ceiling(attempt + 1) == min(backoff.cap_seconds, 2 * backoff.ceiling(attempt))


def test_backoff_uses_full_jitter_over_the_whole_window() -> None:
    backoff = Backoff(base_seconds=1.0, cap_seconds=60.0, max_attempts=8)
    rng = random.Random(20240601)
    ceiling = backoff.ceiling(3)
    draws = [backoff.delay(3, rng) for _ in range(1000)]
    # Equal jitter would never go below ceiling/2; no jitter would be constant.
    assert min(draws) < 0.02 * ceiling
    assert max(draws) > 0.98 * ceiling
    assert 0.45 * ceiling < statistics.fmean(draws) < 0.55 * ceiling
    assert len(set(draws)) == 1000


def test_backoff_delays_are_reproducible_from_a_seed() -> None:
    backoff = Backoff(base_seconds=0.1, cap_seconds=10.0, max_attempts=5)
    first = [backoff.delay(n, random.Random(7)) for n in range(5)]
    again = [backoff.delay(n, random.Random(7)) for n in range(5)]
    assert first == again


@pytest.mark.parametrize(
    ("base", "cap", "attempts"),
    [
        (0.0, 1.0, 3),
        (-1.0, 1.0, 3),
        (float("nan"), 1.0, 3),
        (2.0, 1.0, 3),
        (1.0, float("inf"), 3),
        (1.0, 2.0, 0),
    ],
)
def test_backoff_refuses_nonsense_settings(base: float, cap: float, attempts: int) -> None:
    with pytest.raises(ValueError):
        Backoff(base_seconds=base, cap_seconds=cap, max_attempts=attempts)


def test_backoff_refuses_a_negative_attempt() -> None:
    with pytest.raises(ValueError):
        Backoff(base_seconds=1.0, cap_seconds=2.0, max_attempts=1).ceiling(-1)


# --- circuit breaker -------------------------------------------------------


def _breaker(clock: FakeMonotonic, threshold: int = 3) -> CircuitBreaker:
    return CircuitBreaker(
        "stripe", failure_threshold=threshold, reset_after_seconds=30.0, monotonic=clock
    )


def _state(breaker: CircuitBreaker) -> BreakerState:
    """Read afresh each time (a bare property read would be narrowed by type checkers)."""
    return breaker.state


def _fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        breaker.record_failure()


def test_breaker_opens_after_exactly_the_threshold_of_consecutive_failures() -> None:
    breaker = _breaker(FakeMonotonic(), threshold=3)
    _fail(breaker, 2)
    assert _state(breaker) is BreakerState.CLOSED
    assert breaker.allow()
    assert breaker.retry_after_seconds() == 0.0
    breaker.record_failure()
    assert _state(breaker) is BreakerState.OPEN
    assert not breaker.allow()


def test_breaker_success_between_failures_resets_the_count() -> None:
    breaker = _breaker(FakeMonotonic(), threshold=3)
    _fail(breaker, 2)
    breaker.record_success()
    _fail(breaker, 2)
    assert _state(breaker) is BreakerState.CLOSED
    breaker.record_failure()
    assert _state(breaker) is BreakerState.OPEN


def test_breaker_stays_open_until_the_reset_timeout() -> None:
    clock = FakeMonotonic()
    breaker = _breaker(clock)
    _fail(breaker, 3)
    clock.advance(29.5)
    assert not breaker.allow()
    assert breaker.retry_after_seconds() == pytest.approx(0.5)
    clock.advance(0.5)
    assert breaker.retry_after_seconds() == 0.0
    assert breaker.allow()
    assert _state(breaker) is BreakerState.HALF_OPEN


def _allow_all_at_once(breaker: CircuitBreaker, callers: int) -> list[bool]:
    start = threading.Barrier(callers)
    results: list[bool] = []
    results_lock = threading.Lock()

    def call() -> None:
        start.wait()
        allowed = breaker.allow()
        with results_lock:
            results.append(allowed)

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_breaker_lets_exactly_one_probe_through_under_contention() -> None:
    clock = FakeMonotonic()
    breaker = _breaker(clock)
    for _ in range(20):
        _fail(breaker, 3)
        clock.advance(30.0)
        assert sorted(_allow_all_at_once(breaker, 16)) == [False] * 15 + [True]
        assert breaker.retry_after_seconds() == pytest.approx(30.0)
        breaker.record_success()


def test_breaker_probe_success_closes_and_clears_the_count() -> None:
    clock = FakeMonotonic()
    breaker = _breaker(clock, threshold=3)
    _fail(breaker, 3)
    clock.advance(30.0)
    assert breaker.allow()
    breaker.record_success()
    assert _state(breaker) is BreakerState.CLOSED
    assert all(breaker.allow() for _ in range(5))
    _fail(breaker, 2)
    assert _state(breaker) is BreakerState.CLOSED


def test_breaker_probe_failure_reopens_with_a_fresh_timer() -> None:
    clock = FakeMonotonic()
    breaker = _breaker(clock)
    _fail(breaker, 3)
    clock.advance(30.0)
    assert breaker.allow()
    clock.advance(5.0)
    breaker.record_failure()
    assert _state(breaker) is BreakerState.OPEN
    assert breaker.retry_after_seconds() == pytest.approx(30.0)
    clock.advance(29.9)
    assert not breaker.allow()
    clock.advance(0.1)
    assert breaker.allow()


def test_breaker_lost_probe_is_replaced_after_another_timeout() -> None:
    clock = FakeMonotonic()
    breaker = _breaker(clock)
    _fail(breaker, 3)
    clock.advance(30.0)
    assert breaker.allow()
    clock.advance(29.0)
    assert not breaker.allow()
    clock.advance(1.0)
    assert breaker.allow()
    assert not breaker.allow()


def test_breaker_ignores_straggler_outcomes_while_open() -> None:
    clock = FakeMonotonic()
    breaker = _breaker(clock)
    _fail(breaker, 3)
    clock.advance(20.0)
    breaker.record_success()
    breaker.record_failure()
    assert _state(breaker) is BreakerState.OPEN
    assert breaker.retry_after_seconds() == pytest.approx(10.0)


def test_breaker_registry_keeps_one_breaker_per_psp_with_shared_settings() -> None:
    clock = FakeMonotonic()
    breakers = CircuitBreakers(failure_threshold=2, reset_after_seconds=10.0, monotonic=clock)
    stripe = breakers.get("stripe")
    assert breakers.get("stripe") is stripe
    adyen = breakers.get("adyen")
    assert adyen is not stripe
    _fail(stripe, 2)
    assert _state(stripe) is BreakerState.OPEN
    assert _state(adyen) is BreakerState.CLOSED
    assert adyen.failure_threshold == 2
    clock.advance(10.0)
    assert stripe.allow()


@pytest.mark.parametrize(("threshold", "reset"), [(0, 30.0), (3, 0.0), (3, float("nan"))])
def test_breaker_refuses_nonsense_settings(threshold: int, reset: float) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker("x", failure_threshold=threshold, reset_after_seconds=reset)
    with pytest.raises(ValueError):
        CircuitBreakers(failure_threshold=threshold, reset_after_seconds=reset)


# --- rate limit ------------------------------------------------------------


def _limiter(clock: FakeMonotonic, *, rate: float = 2.0, burst: int = 5) -> TokenBucketLimiter:
    return TokenBucketLimiter(rate_per_second=rate, burst=burst, monotonic=clock)


def test_limiter_admits_the_burst_then_refuses_with_the_time_to_the_next_token() -> None:
    clock = FakeMonotonic()
    limiter = _limiter(clock, rate=2.0, burst=5)
    key = ("tenant-a", "writes")
    assert [limiter.acquire(key) for _ in range(5)] == [0.0] * 5
    assert limiter.acquire(key) == pytest.approx(0.5)
    assert limiter.acquire(key, cost=3.0) == pytest.approx(1.5)
    clock.advance(0.2)
    assert limiter.acquire(key) == pytest.approx(0.3)


def test_limiter_refills_over_time_up_to_the_burst() -> None:
    clock = FakeMonotonic()
    limiter = _limiter(clock, rate=2.0, burst=5)
    for _ in range(5):
        limiter.acquire("k")
    clock.advance(0.5)
    assert limiter.acquire("k") == 0.0
    assert limiter.acquire("k") > 0
    clock.advance(3600.0)
    assert [limiter.acquire("k") for _ in range(5)] == [0.0] * 5
    assert limiter.acquire("k") > 0


def test_limiter_keys_are_independent() -> None:
    limiter = _limiter(FakeMonotonic(), rate=1.0, burst=3)
    tenant_a, tenant_b = ("tenant-a", "writes"), ("tenant-b", "writes")
    for _ in range(3):
        limiter.acquire(tenant_a)
    assert limiter.acquire(tenant_a) > 0
    assert [limiter.acquire(tenant_b) for _ in range(3)] == [0.0] * 3
    assert limiter.acquire(("tenant-a", "reads")) == 0.0


def test_limiter_with_no_rate_is_unlimited_and_holds_nothing() -> None:
    limiter = TokenBucketLimiter(rate_per_second=0, burst=1, monotonic=FakeMonotonic())
    assert all(limiter.acquire("k") == 0.0 for _ in range(1000))
    assert len(limiter) == 0


@pytest.mark.parametrize("cost", [0.0, -1.0, 6.0, float("nan")])
def test_limiter_refuses_a_cost_no_bucket_could_pay(cost: float) -> None:
    with pytest.raises(ValueError):
        _limiter(FakeMonotonic(), burst=5).acquire("k", cost=cost)


steps = st.lists(st.tuples(st.floats(0, 3), st.sampled_from([1.0, 1.0, 2.0, 0.5])), max_size=200)


@given(rate=st.floats(0.1, 50), burst=st.integers(1, 20), steps=steps)
def test_limiter_never_admits_more_than_burst_plus_rate_times_elapsed(
    rate: float, burst: int, steps: list[tuple[float, float]]
) -> None:
    clock = FakeMonotonic()
    limiter = _limiter(clock, rate=rate, burst=burst)
    start = clock.now
    admitted = 0.0
    for advance, cost in steps:
        clock.advance(advance)
        wait = limiter.acquire("k", cost=min(cost, burst))
        if wait == 0.0:
            admitted += min(cost, burst)
        else:
            # The advertised wait is rounded up to whole milliseconds.
            assert 0 < wait <= min(cost, burst) / rate + 0.001 + 1e-9
        assert admitted <= burst + rate * (clock.now - start) + 1e-6


@given(rate=st.floats(0.1, 50), burst=st.integers(1, 20), steps=steps)
def test_limiter_admits_a_caller_that_waits_the_advertised_time(
    rate: float, burst: int, steps: list[tuple[float, float]]
) -> None:
    clock = FakeMonotonic()
    limiter = _limiter(clock, rate=rate, burst=burst)
    for advance, cost in steps:
        clock.advance(advance)
        wait = limiter.acquire("k", cost=min(cost, burst))
        if wait > 0:
            clock.advance(wait)
            assert limiter.acquire("k", cost=min(cost, burst)) == 0.0


def test_limiter_memory_stays_bounded_under_a_flood_of_keys() -> None:
    limiter = TokenBucketLimiter(
        rate_per_second=1.0, burst=10, monotonic=FakeMonotonic(), max_keys=50
    )
    for n in range(5000):
        limiter.acquire(("tenant", n))
        assert len(limiter) <= 50
    assert len(limiter) > 0


def test_limiter_drops_full_buckets_before_active_ones() -> None:
    clock = FakeMonotonic()
    limiter = TokenBucketLimiter(rate_per_second=1.0, burst=10, monotonic=clock, max_keys=3)
    limiter.acquire("busy-a", cost=10)
    limiter.acquire("busy-b", cost=10)
    clock.advance(1.0)
    limiter.acquire("idle")  # the most recently used, but full again two seconds later
    clock.advance(2.0)
    limiter.acquire("new")
    assert len(limiter) == 3
    # Had "busy-a" been dropped instead, it would start again from a full bucket.
    assert limiter.acquire("busy-a", cost=10) == pytest.approx(7.0)
    assert limiter.acquire("busy-b", cost=10) == pytest.approx(7.0)


def test_limiter_is_exact_under_concurrent_callers() -> None:
    limiter = _limiter(FakeMonotonic(), rate=1.0, burst=100)
    start = threading.Barrier(8)
    admitted: list[int] = []
    admitted_lock = threading.Lock()

    def call() -> None:
        start.wait()
        mine = sum(1 for _ in range(50) if limiter.acquire("k") == 0.0)
        with admitted_lock:
            admitted.append(mine)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(admitted) == 100
