"""RED per RPC and transport, observed once per call by the invoker's guard.

The invoker calls `begin(rpc, transport)` when a call enters and `end(...)`
on the slot it got back when it leaves. A slot holds the label children of
one (rpc, transport) pair, made once, so the hot path is a dict lookup, an
in-flight gauge increment and decrement, one counter increment and one
histogram observation (with the trace id as its exemplar); no label strings
are built per call.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from google.rpc import code_pb2
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from accrue.api.errors import STATUS_BY_REASON

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
    """The metric children of one (rpc, transport); shared by concurrent calls."""

    __slots__ = ("_counts", "_duration", "_in_flight", "_labels", "_owner")

    def __init__(self, owner: RpcMetrics, service: str, method: str, transport: str) -> None:
        self._owner = owner
        self._labels = (service, method, transport)
        self._in_flight = owner.in_flight.labels(transport)
        self._duration = owner.duration.labels(service, method, transport)
        self._counts = {"OK": owner.requests.labels(service, method, transport, "OK", "")}

    def enter(self) -> RpcSlot:
        self._in_flight.inc()
        return self

    def end(self, outcome: str, trace_id: str, seconds: float) -> None:
        self._in_flight.dec()
        counter = self._counts.get(outcome)
        if counter is None:
            code, reason = code_and_reason(outcome)
            counter = self._owner.requests.labels(*self._labels, code, reason)
            self._counts[outcome] = counter  # a benign race: both writers store the same child
        counter.inc()
        if trace_id:
            self._duration.observe(seconds, {"trace_id": trace_id})
        else:
            self._duration.observe(seconds)


class RpcMetrics:
    """The invoker's observer: `begin(rpc, transport)` -> slot, `slot.end(...)`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "accrue_rpc_requests",
            "RPCs handled, by service, method, transport, gRPC code and ErrorReason "
            "(reason empty for OK and plain cancellations)",
            ["service", "method", "transport", "code", "reason"],
            registry=registry,
        )
        self.duration = Histogram(
            "accrue_rpc_duration_seconds",
            "Time from a call entering the invoker to its end; exemplars carry the trace id",
            ["service", "method", "transport"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "accrue_rpc_in_flight",
            "Calls being served now (worker threads busy), by transport",
            ["transport"],
            registry=registry,
        )
        self.workers = Gauge(
            "accrue_rpc_workers",
            "Worker threads configured per transport (the ceiling of accrue_rpc_in_flight "
            "for unary calls)",
            ["transport"],
            registry=registry,
        )
        self._slots: dict[tuple[str, str], RpcSlot] = {}
        self._lock = threading.Lock()

    def prepare(self, rpcs: Iterable[str], transports: Iterable[str]) -> None:
        """Make the children of every (rpc, transport) up front, so each series
        exists (at zero) from the first scrape and rates see the first call."""
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
                slot = RpcSlot(self, service, method, transport)
                self._slots[(rpc, transport)] = slot
            return slot
