"""Rate limits and in-flight request ids shared through Redis by several servers."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import redis

from accrue.config import Settings
from accrue.kernel.errors import RateLimited
from accrue.platform.db.statements import count_statements
from accrue.platform.resilience.rate_limit import TokenBucketLimiter
from accrue.platform.shared_state import RedisKeyLocks, RedisTokenBuckets, connect
from tests.integration.test_idempotency import (
    assert_exactly_one_effect,
    call_together,
    create_request,
    slow_effect,  # noqa: F401 - the fixture, used by name
)
from tests.redis_support import redis_prefix
from tests.support import running_server

RATE, BURST = 20.0, 10


@pytest.fixture
def shared_redis() -> Iterator[tuple[str, str]]:
    with redis_prefix() as url_and_prefix:
        yield url_and_prefix


def buckets(url: str, prefix: str, *, rate: float = RATE, burst: int = BURST) -> RedisTokenBuckets:
    return RedisTokenBuckets(
        connect(url, timeout_seconds=1),
        prefix=prefix,
        fallback=TokenBucketLimiter(rate_per_second=rate, burst=burst),
        rate_per_second=rate,
        burst=burst,
    )


def test_two_limiters_sharing_redis_never_grant_more_than_one_limit(
    shared_redis: tuple[str, str],
) -> None:
    url, prefix = shared_redis
    limiters = [buckets(url, prefix), buckets(url, prefix)]  # as two processes would hold
    granted: list[float] = []
    lock = threading.Lock()
    started = time.monotonic()
    stop = started + 1.0

    def hammer(limiter: RedisTokenBuckets) -> None:
        while time.monotonic() < stop:
            if limiter.acquire(("ten_1", "m")) == 0.0:
                with lock:
                    granted.append(time.monotonic())

    threads = [threading.Thread(target=hammer, args=(limiters[i % 2],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    # A limit per limiter would grant about twice this.
    assert len(granted) <= BURST + RATE * elapsed + 1
    assert len(granted) >= BURST, "the shared bucket must still grant its burst"


def test_a_refused_call_is_told_the_real_time_until_a_token() -> None:
    with redis_prefix() as (url, prefix):
        limiter = buckets(url, prefix, rate=2.0, burst=1)
        assert limiter.acquire(("ten_1", "m")) == 0.0
        wait = limiter.acquire(("ten_1", "m"))
        assert 0.4 < wait <= 0.5  # one token per 0.5 s; never 0
        time.sleep(wait)
        assert limiter.acquire(("ten_1", "m")) == 0.0


def test_unreachable_redis_falls_back_to_this_processes_share() -> None:
    # Nothing listens on port 1: every command fails at once.
    dead = connect("redis://127.0.0.1:1/0", timeout_seconds=0.2)
    local = TokenBucketLimiter(rate_per_second=0.001, burst=2)
    limiter = RedisTokenBuckets(dead, prefix="x:", fallback=local, rate_per_second=1, burst=4)
    results = [limiter.acquire(("ten_1", "m")) for _ in range(3)]
    assert results[:2] == [0.0, 0.0]
    assert results[2] > 0, "the fallback must still limit"


def test_unreachable_redis_leaves_in_flight_claims_to_the_process_and_database() -> None:
    locks = RedisKeyLocks(connect("redis://127.0.0.1:1/0", timeout_seconds=0.2), prefix="x:")
    assert locks.try_acquire(("ten_1", "r1"))
    assert not locks.spans_processes(("ten_1", "r1")), "the database lock must be taken too"
    assert not locks.try_acquire(("ten_1", "r1"))
    locks.release(("ten_1", "r1"))
    assert locks.try_acquire(("ten_1", "r1"))


def test_in_flight_claim_in_redis_excludes_another_process(
    shared_redis: tuple[str, str],
) -> None:
    url, prefix = shared_redis
    first = RedisKeyLocks(connect(url, timeout_seconds=1), prefix=prefix)
    second = RedisKeyLocks(connect(url, timeout_seconds=1), prefix=prefix)
    assert first.try_acquire(("ten_1", "r1"))
    assert first.spans_processes(("ten_1", "r1"))
    assert not second.try_acquire(("ten_1", "r1"))
    assert second.try_acquire(("ten_2", "r1")), "tenants are independent"
    first.release(("ten_1", "r1"))
    assert second.try_acquire(("ten_1", "r1"))


@pytest.mark.usefixtures("slow_effect")
def test_concurrent_duplicates_across_two_servers_sharing_redis_are_aborted(
    postgres_url: str, shared_redis: tuple[str, str]
) -> None:
    url, prefix = shared_redis
    settings = {"redis_url": url, "redis_key_prefix": prefix}
    with ExitStack() as stack:
        first = stack.enter_context(running_server(postgres_url, **settings))
        second = stack.enter_context(running_server(postgres_url, **settings))
        api_key = first.new_tenant()
        counted = [stack.enter_context(count_statements(s.app.engine)) for s in (first, second)]
        targets = [first.grpc_target, second.grpc_target]
        logs = call_together(targets, api_key, create_request(str(uuid.uuid4())))

        assert_exactly_one_effect(logs, first, api_key)
        for target in targets:
            assert sum(log.aborted for log in logs if log.target == target) > 0, target
        # Only Redis can have told them: no database lock was asked for.
        sql = [s for c in counted for s in c.sql]
        assert not [s for s in sql if "advisory" in s]


def test_redis_claims_expire_so_a_crashed_process_blocks_nobody(
    shared_redis: tuple[str, str],
) -> None:
    url, prefix = shared_redis
    crashed = RedisKeyLocks(connect(url, timeout_seconds=1), prefix=prefix, ttl_ms=200)
    assert crashed.try_acquire(("ten_1", "r1"))  # and never released
    other = RedisKeyLocks(connect(url, timeout_seconds=1), prefix=prefix)
    assert not other.try_acquire(("ten_1", "r1"))
    time.sleep(0.3)
    assert other.try_acquire(("ten_1", "r1"))
    other.release(("ten_1", "r1"))
    client = redis.Redis.from_url(url)
    assert client.get(f"{prefix}inflight:ten_1:r1") is None
    client.close()


def test_without_redis_each_of_n_processes_takes_its_share_of_the_limit() -> None:
    from accrue.bootstrap import _rate_limits

    settings = Settings(payment_rate_per_second=50, payment_rate_burst=100, processes=4)
    limits = _rate_limits(settings)
    method = "accrue.billing.v1.PaymentService/CreatePayment"
    admitted = 0
    for _ in range(100):
        try:
            limits.check(method, "ten_1")
            admitted += 1
        except RateLimited as refused:
            assert refused.retry_after_seconds is not None and refused.retry_after_seconds > 0
    assert admitted == 25  # a quarter of the burst; four processes admit the whole of it
