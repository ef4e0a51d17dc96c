"""One registry per process (per Application) and what feeds it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from prometheus_client import (
    Gauge,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from accrue.metrics.pool import PoolMetrics
from accrue.metrics.process import new_registry
from accrue.metrics.psp import BREAKER_STATES, PspMetrics
from accrue.metrics.rpc import RpcMetrics
from accrue.metrics.state import BacklogSource, OperationalState, StateCollector
from accrue.payments.psp.port import PaymentGateway


class _QueueDepths(Collector):
    """Work waiting for a thread, read from the executors at scrape time."""

    def __init__(self) -> None:
        self._executors: dict[str, ThreadPoolExecutor] = {}

    def add(self, name: str, executor: ThreadPoolExecutor) -> None:
        self._executors[name] = executor

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "accrue_executor_queue_depth",
            "Calls accepted and waiting for a worker thread, by transport",
            labels=["transport"],
        )
        for name, executor in sorted(self._executors.items()):
            depth.add_metric([name], executor._work_queue.qsize())
        yield depth


class _Breakers(Collector):
    def __init__(self) -> None:
        self._states: dict[str, Callable[[], str]] = {}

    def add(self, psp: str, state: Callable[[], str]) -> None:
        self._states[psp] = state

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "accrue_psp_breaker_state",
            "Circuit breaker of a PSP: 1 for its current state, 0 for the others",
            labels=["psp", "state"],
        )
        for psp, state in sorted(self._states.items()):
            now = state()
            for name in BREAKER_STATES:
                family.add_metric([psp, name], 1 if name == now else 0)
        yield family


class AppMetrics:
    """The metrics of one Accrue process.

    `enabled=False` (ACCRUE_METRICS_ENABLED=false) records nothing: the
    invoker gets no observer and gateways are not wrapped, so the cost of
    metrics is measurable against a run without them.
    """

    def __init__(self, process: str, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.registry = new_registry(process)
        self.rpc = RpcMetrics(self.registry)
        self.psp = PspMetrics(self.registry)
        self.pool = PoolMetrics(self.registry)
        self._queues = _QueueDepths()
        self.registry.register(self._queues)
        self._state: StateCollector | None = None
        self._breakers = _Breakers()
        self.registry.register(self._breakers)
        self.ready = Gauge(
            "accrue_ready",
            "1 if the process is ready (database reachable, migrations at head)",
            registry=self.registry,
        )

    def meter_gateway(self, gateway: PaymentGateway) -> PaymentGateway:
        return self.psp.wrap(gateway) if self.enabled else gateway

    def watch_pool(self, engine: Engine) -> None:
        if self.enabled:
            self.pool.watch(engine)

    def watch_executor(self, transport: str, executor: ThreadPoolExecutor, workers: int) -> None:
        self._queues.add(transport, executor)
        self.rpc.workers.labels(transport).set(workers)

    def watch_breaker(self, psp: str, state: Callable[[], str]) -> None:
        """Show a PSP's breaker state (closed, open, half_open) at every scrape."""
        self._breakers.add(psp, state)

    def watch_state(
        self,
        state: OperationalState,
        now: Callable[[], datetime],
        *,
        refresh_seconds: float,
    ) -> None:
        self._state = StateCollector(state, now, refresh_seconds=refresh_seconds)
        self.registry.register(self._state)

    def add_backlog(self, name: str, source: BacklogSource) -> None:
        """The hook for another queue (e.g. outgoing webhooks) to be reported."""
        if self._state is not None:
            self._state.add_backlog(name, source)
