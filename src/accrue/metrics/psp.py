"""Every request to a PSP measured, by wrapping its PaymentGateway.

Results are a fixed set: `ok`, `declined`, `rejected`, `unknown` (the PSP
may have processed it), `unavailable` (it certainly did not), `not_found` (a
lookup found nothing). A retry is a request under an idempotency key this
process already sent (the engine's retries and the resolver's resends both
are). `accrue_payments_total` counts each charge once, by its key, when the
PSP first gives a definite answer for it: succeeded, declined or rejected.
The keys are only remembered (a bounded window), never exported.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram

from accrue.payments.psp.port import (
    PaymentGateway,
    PspCharge,
    PspOutcomeUnknown,
    PspRefund,
    PspRejected,
    PspStatus,
    PspUnavailable,
)

T = TypeVar("T")

PSP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BREAKER_STATES = ("closed", "open", "half_open")
# How many recent idempotency keys are remembered to tell retries from first sends.
KEY_WINDOW = 65_536


class PspMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "accrue_psp_requests",
            "Requests to a PSP by operation and result "
            "(ok, declined, rejected, unknown, unavailable, not_found)",
            ["psp", "operation", "result"],
            registry=registry,
        )
        self.duration = Histogram(
            "accrue_psp_request_duration_seconds",
            "Latency of one request to a PSP, whatever its result",
            ["psp", "operation"],
            buckets=PSP_BUCKETS,
            registry=registry,
        )
        self.retries = Counter(
            "accrue_psp_retries",
            "Requests resending an idempotency key already sent by this process",
            ["psp", "operation"],
            registry=registry,
        )
        self.payments = Counter(
            "accrue_payments",
            "Charges by the PSP's definite outcome (succeeded, declined, rejected), "
            "each charge counted once",
            ["psp", "outcome"],
            registry=registry,
        )

    def wrap(self, gateway: PaymentGateway) -> PaymentGateway:
        return MeteredGateway(gateway, self)


class MeteredGateway:
    """A PaymentGateway that measures `inner`; behaviour is unchanged."""

    def __init__(self, inner: PaymentGateway, metrics: PspMetrics) -> None:
        self._inner = inner
        self._m = metrics
        self._name = inner.name
        self._lock = threading.Lock()
        # key -> whether its charge outcome was counted in accrue_payments_total
        self._keys: OrderedDict[str, bool] = OrderedDict()
        self._durations = {
            op: metrics.duration.labels(self._name, op)
            for op in ("charge", "refund", "retrieve_charge", "retrieve_refund")
        }

    @property
    def name(self) -> str:
        return self._name

    def charge(
        self,
        *,
        idempotency_key: str,
        token: str,
        amount_minor: int,
        currency_code: str,
        metadata: Mapping[str, str],
    ) -> PspCharge:
        self._seen("charge", idempotency_key)
        try:
            charge = self._timed(
                "charge",
                lambda: self._inner.charge(
                    idempotency_key=idempotency_key,
                    token=token,
                    amount_minor=amount_minor,
                    currency_code=currency_code,
                    metadata=metadata,
                ),
            )
        except PspRejected:
            self._payment_outcome(idempotency_key, "rejected")
            raise
        self._payment_outcome(idempotency_key, _charge_outcome(charge))
        return charge

    def refund(
        self,
        *,
        idempotency_key: str,
        charge_psp_id: str,
        amount_minor: int,
        currency_code: str,
    ) -> PspRefund:
        self._seen("refund", idempotency_key)
        return self._timed(
            "refund",
            lambda: self._inner.refund(
                idempotency_key=idempotency_key,
                charge_psp_id=charge_psp_id,
                amount_minor=amount_minor,
                currency_code=currency_code,
            ),
        )

    def retrieve_charge(self, idempotency_key: str) -> PspCharge | None:
        charge = self._timed(
            "retrieve_charge", lambda: self._inner.retrieve_charge(idempotency_key)
        )
        if charge is not None:
            self._payment_outcome(idempotency_key, _charge_outcome(charge))
        return charge

    def retrieve_refund(self, idempotency_key: str) -> PspRefund | None:
        return self._timed("retrieve_refund", lambda: self._inner.retrieve_refund(idempotency_key))

    def _timed(self, operation: str, request: Callable[[], T]) -> T:
        started = time.perf_counter()
        result = "unknown"
        try:
            value = request()
            if value is None:
                result = "not_found"
            elif getattr(value, "status", None) is PspStatus.FAILED:
                result = "declined"
            else:
                result = "ok"
            return value
        except PspRejected:
            result = "rejected"
            raise
        except PspUnavailable:
            result = "unavailable"
            raise
        except PspOutcomeUnknown:
            result = "unknown"
            raise
        finally:
            self._durations[operation].observe(time.perf_counter() - started)
            self._m.requests.labels(self._name, operation, result).inc()

    def _seen(self, operation: str, key: str) -> None:
        with self._lock:
            if key in self._keys:
                self._keys.move_to_end(key)
                retry = True
            else:
                self._keys[key] = False
                if len(self._keys) > KEY_WINDOW:
                    self._keys.popitem(last=False)
                retry = False
        if retry:
            self._m.retries.labels(self._name, operation).inc()

    def _payment_outcome(self, key: str, outcome: str) -> None:
        with self._lock:
            if self._keys.get(key):
                return
            self._keys[key] = True
            if len(self._keys) > KEY_WINDOW:
                self._keys.popitem(last=False)
        self._m.payments.labels(self._name, outcome).inc()


def _charge_outcome(charge: PspCharge) -> str:
    return "succeeded" if charge.status is PspStatus.SUCCEEDED else "declined"
