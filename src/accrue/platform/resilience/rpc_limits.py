"""Per-tenant rate limits on the RPCs that move money.

Checked after authentication (a stranger's requests never count against a
tenant) and before validation, so a flood of bad requests is throttled too.
Each limited RPC has a bucket of its own per tenant: a burst of refunds
cannot stop a tenant's payments.
"""

from __future__ import annotations

from collections.abc import Iterable

from accrue.kernel.errors import RateLimited
from accrue.platform.resilience.rate_limit import Limiter, TokenBucketLimiter


class RateLimits:
    def __init__(self, limiter: Limiter, methods: Iterable[str]) -> None:
        self._limiter = limiter
        self._methods = frozenset(methods)

    def check(self, method: str, tenant_id: str) -> None:
        if method not in self._methods:
            return
        wait = self._limiter.acquire((tenant_id, method))
        if wait > 0:
            raise RateLimited(
                f"rate limit for {method} exceeded; retry after {wait:.3f}s",
                metadata={
                    "method": method,
                    "limit_per_second": f"{self._limiter.rate_per_second:g}",
                    "burst": str(self._limiter.burst),
                },
                retry_after_seconds=wait,
            )


NO_LIMITS = RateLimits(TokenBucketLimiter(rate_per_second=0, burst=1), ())
