"""A refusal's RetryInfo is the real time until the call would be admitted,
rounded up to whole milliseconds and never zero."""

from __future__ import annotations

from google.protobuf import duration_pb2
from google.rpc import error_details_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from accrue.kernel.errors import RateLimited
from accrue.platform.errors import to_status
from accrue.platform.resilience.rate_limit import TokenBucketLimiter
from accrue.platform.resilience.rpc_limits import RateLimits


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _retry_delay(error: RateLimited) -> duration_pb2.Duration:
    for detail in to_status(error).details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return info.retry_delay
    raise AssertionError("no RetryInfo")


def _refusal(limits: RateLimits) -> RateLimited:
    try:
        limits.check("m", "tenant")
    except RateLimited as error:
        return error
    raise AssertionError("admitted")


def test_a_refusal_just_before_the_next_token_says_one_millisecond_not_zero() -> None:
    clock = FakeMonotonic()
    limits = RateLimits(
        TokenBucketLimiter(rate_per_second=10, burst=1, monotonic=clock), methods=["m"]
    )
    limits.check("m", "tenant")
    clock.now += 0.09999  # the next token is 10 microseconds away

    delay = _retry_delay(_refusal(limits))

    assert delay.ToMilliseconds() == 1


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    rate=st.floats(0.01, 100_000),
    burst=st.integers(1, 50),
    elapsed=st.floats(0, 10),
)
def test_waiting_the_advertised_delay_is_always_enough(
    rate: float, burst: int, elapsed: float
) -> None:
    clock = FakeMonotonic()
    limiter = TokenBucketLimiter(rate_per_second=rate, burst=burst, monotonic=clock)
    limits = RateLimits(limiter, methods=["m"])
    for _ in range(burst):
        limits.check("m", "tenant")
    clock.now += elapsed
    try:
        limits.check("m", "tenant")
    except RateLimited as error:
        delay = _retry_delay(error)
        assert delay.ToNanoseconds() >= 1_000_000
        assert delay.ToNanoseconds() % 1_000_000 == 0
        clock.now += delay.ToNanoseconds() / 1e9
        limits.check("m", "tenant")  # admitted after exactly the advertised delay
