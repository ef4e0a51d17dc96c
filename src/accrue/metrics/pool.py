"""Database pool use: connections in use, overflow, checkouts, saturation and waiters.

Counters come from SQLAlchemy's pool events (`checkout`, `connect`,
`invalidate`); the levels are read from the pool at scrape time. A pool at
capacity (in use == size + max overflow) means callers are waiting for a
connection: `accrue_db_pool_saturated`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, event
from sqlalchemy.pool import QueuePool


class PoolMetrics(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self._engines: list[Engine] = []
        self.checkouts = Counter(
            "accrue_db_pool_checkouts", "Connections handed out by the pool", registry=registry
        )
        self.connects = Counter(
            "accrue_db_pool_connects",
            "New database connections opened by the pool",
            registry=registry,
        )
        self.invalidations = Counter(
            "accrue_db_pool_invalidations",
            "Connections thrown away as broken",
            registry=registry,
        )
        registry.register(self)

    def watch(self, engine: Engine) -> None:
        checkout = self.checkouts.inc
        connect = self.connects.inc
        invalidate = self.invalidations.inc

        def on_checkout(*_args: Any) -> None:
            checkout()

        def on_connect(*_args: Any) -> None:
            connect()

        def on_invalidate(*_args: Any) -> None:
            invalidate()

        event.listen(engine, "checkout", on_checkout)
        event.listen(engine, "connect", on_connect)
        event.listen(engine, "invalidate", on_invalidate)
        self._engines.append(engine)

    def collect(self) -> Iterator[Metric]:
        size = GaugeMetricFamily("accrue_db_pool_size", "Connections the pool keeps")
        in_use = GaugeMetricFamily("accrue_db_pool_in_use", "Connections checked out now")
        overflow = GaugeMetricFamily(
            "accrue_db_pool_overflow", "Connections open beyond the pool size now"
        )
        capacity = GaugeMetricFamily(
            "accrue_db_pool_capacity", "Most connections the pool hands out at once"
        )
        saturated = GaugeMetricFamily(
            "accrue_db_pool_saturated", "1 if every connection is in use (callers wait)"
        )
        waiting = GaugeMetricFamily(
            "accrue_db_pool_waiting", "Threads waiting for a connection now"
        )
        for engine in self._engines:
            pool = engine.pool
            if not isinstance(pool, QueuePool):
                continue
            limit = pool.size() + max(0, pool._max_overflow)
            used = pool.checkedout()
            size.add_metric([], pool.size())
            in_use.add_metric([], used)
            overflow.add_metric([], max(0, pool.overflow()))
            capacity.add_metric([], limit)
            saturated.add_metric([], 1 if used >= limit else 0)
            waiting.add_metric([], _waiters(pool))
        yield from (size, in_use, overflow, capacity, saturated, waiting)


def _waiters(pool: QueuePool) -> int:
    """Threads blocked in the pool's queue; SQLAlchemy has no public count of them."""
    queue = getattr(pool, "_pool", None)
    condition = getattr(queue, "not_empty", None)
    waiters = getattr(condition, "_waiters", None)
    return len(waiters) if waiters is not None else 0
