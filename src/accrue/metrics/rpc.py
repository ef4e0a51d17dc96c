"""RED per RPC and transport, observed once per call by the invoker's guard.

The invoker calls `begin(rpc, transport)` when a call enters and `end(...)`
on the slot it got back when it leaves. The hot path is kept to about a
microsecond: a slot per (rpc, transport) made once, holding plain integers
updated under one lock per call (prometheus-client's own Counter and
Histogram take a lock per value, three per call here, and an exemplar costs
a validation and two objects more); in-flight calls are a deque whose
append and pop are atomic. The values become metric families only when
scraped (a `Collector`, the client library's extension point).

Exemplars carry the trace id. A slot keeps the latest exemplar per bucket
(as Prometheus does) but records a new one at most every
`EXEMPLAR_INTERVAL_SECONDS`, or for every call slower than `SLOW_SECONDS`,
so the tail, the part an operator clicks on, always has fresh exemplars.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable, Iterator

from google.rpc import code_pb2
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Exemplar

from accrue.platform.errors import STATUS_BY_REASON

# Seconds; the SLO threshold for CreatePayment p99 (0.5 s) is a bucket edge.
DURATION_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
_BUCKET_LABELS = [*(repr(float(b)) for b in DURATION_BUCKETS), "+Inf"]
EXEMPLAR_INTERVAL_SECONDS = 1.0
SLOW_SECONDS = 0.1
# Outcomes the invoker reports that are not reasons of the error table.
_TRANSPORT_OUTCOMES = {
    "OK": ("OK", ""),
    "CANCELLED": ("CANCELLED", ""),
    "REQUEST_STREAM_BROKEN": ("CANCELLED", "REQUEST_STREAM_BROKEN"),
}
OTHER_REASON = "OTHER"


def code_and_reason(outcome: str) -> tuple[str, str]:
    """The (gRPC code name, ErrorReason) labels of an invoker outcome; bounded."""
    known = _TRANSPORT_OUTCOMES.get(outcome)
    if known is not None:
        return known
    code = STATUS_BY_REASON.get(outcome)
    if code is None:
        return "UNKNOWN", OTHER_REASON
    return code_pb2.Code.Name(code), outcome


class RpcSlot:
    """The numbers of one (rpc, transport); shared by concurrent calls."""

    __slots__ = (
        "_active",
        "_buckets",
        "_counts",
        "_exemplars",
        "_lock",
        "_next_exemplar",
        "_sum",
        "labels",
        "transport",
    )

    def __init__(self, service: str, method: str, transport: str) -> None:
        self.labels = (service, method, transport)
        self.transport = transport
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {"OK": 0}
        self._buckets = [0] * (len(DURATION_BUCKETS) + 1)  # per bucket, not cumulative
        self._sum = 0.0
        self._exemplars: list[Exemplar | None] = [None] * (len(DURATION_BUCKETS) + 1)
        self._next_exemplar = 0.0
        self._active: deque[None] = deque()

    def enter(self) -> RpcSlot:
        self._active.append(None)
        return self

    def end(self, outcome: str, trace_id: str, seconds: float) -> None:
        self._active.pop()
        index = bisect_left(DURATION_BUCKETS, seconds)  # first bucket with le >= seconds
        with self._lock:
            counts = self._counts
            counts[outcome] = counts.get(outcome, 0) + 1
            self._buckets[index] += 1
            self._sum += seconds
        if trace_id:
            now = time.monotonic()
            if now >= self._next_exemplar or seconds >= SLOW_SECONDS:
                self._next_exemplar = now + EXEMPLAR_INTERVAL_SECONDS
                self._exemplars[index] = Exemplar({"trace_id": trace_id}, seconds, time.time())

    def in_flight(self) -> int:
        return len(self._active)

    def snapshot(self) -> tuple[dict[str, int], list[int], float, list[Exemplar | None]]:
        with self._lock:
            return dict(self._counts), list(self._buckets), self._sum, list(self._exemplars)


class RpcMetrics(Collector):
    """The invoker's observer: `begin(rpc, transport)` -> slot, `slot.end(...)`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._slots: dict[tuple[str, str], RpcSlot] = {}
        self._lock = threading.Lock()
        self._labels_of: dict[str, tuple[str, str]] = {}
        self.workers = Gauge(
            "accrue_rpc_workers",
            "Worker threads configured per transport (the ceiling of accrue_rpc_in_flight "
            "for unary calls)",
            ["transport"],
            registry=registry,
        )
        registry.register(self)

    def prepare(self, rpcs: Iterable[str], transports: Iterable[str]) -> None:
        """Make the slots of every (rpc, transport) up front, so each request
        counter exists (at zero) from the first scrape and rates see the first
        call. Histograms appear with their RPC's first call."""
        wanted = list(transports)
        for rpc in rpcs:
            for transport in wanted:
                self._slot(rpc, transport)

    def begin(self, rpc: str, transport: str) -> RpcSlot:
        slot = self._slots.get((rpc, transport))
        if slot is None:
            slot = self._slot(rpc, transport)
        return slot.enter()

    def _slot(self, rpc: str, transport: str) -> RpcSlot:
        with self._lock:
            slot = self._slots.get((rpc, transport))
            if slot is None:
                service, _, method = rpc.rpartition("/")
                slot = RpcSlot(service, method, transport)
                self._slots[(rpc, transport)] = slot
            return slot

    def _code_and_reason(self, outcome: str) -> tuple[str, str]:
        labels = self._labels_of.get(outcome)
        if labels is None:
            labels = self._labels_of[outcome] = code_and_reason(outcome)
        return labels

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "accrue_rpc_requests",
            "RPCs handled, by service, method, transport, gRPC code and ErrorReason "
            "(reason empty for OK and plain cancellations)",
            labels=["service", "method", "transport", "code", "reason"],
        )
        duration = HistogramMetricFamily(
            "accrue_rpc_duration_seconds",
            "Time from a call entering the invoker to its end; exemplars carry the trace id",
            labels=["service", "method", "transport"],
        )
        in_flight = GaugeMetricFamily(
            "accrue_rpc_in_flight",
            "Calls being served now (worker threads busy), by transport",
            labels=["transport"],
        )
        busy: dict[str, int] = {}
        with self._lock:
            slots = list(self._slots.values())
        for slot in slots:
            busy[slot.transport] = busy.get(slot.transport, 0) + slot.in_flight()
            counts, buckets, total, exemplars = slot.snapshot()
            by_labels: dict[tuple[str, str], int] = {}
            for outcome, n in counts.items():
                key = self._code_and_reason(outcome)
                by_labels[key] = by_labels.get(key, 0) + n
            for (code, reason), n in by_labels.items():
                requests.add_metric([*slot.labels, code, reason], n)
            if not any(buckets):
                continue  # a histogram per RPC ever called: an idle one costs 15 lines a scrape
            cumulative, running = [], 0
            for le, n, exemplar in zip(_BUCKET_LABELS, buckets, exemplars, strict=True):
                running += n
                cumulative.append((le, running, exemplar) if exemplar else (le, running))
            duration.add_metric(list(slot.labels), cumulative, total)
        for transport, n in sorted(busy.items()):
            in_flight.add_metric([transport], n)
        yield requests
        yield duration
        yield in_flight
