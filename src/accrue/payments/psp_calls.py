"""One call to a PSP: retries with jittered backoff behind the PSP's circuit breaker.

Resilience mechanics only: what the answer means for a payment is the
engine's business. A rejection is final and not retried; a transport failure
is retried while the breaker allows; an outcome that may have reached the PSP
is remembered (`maybe_sent`) so the payment is never declared unsent.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from accrue.payments.psp.port import PspOutcomeUnknown, PspRejected, PspUnavailable
from accrue.platform.resilience.backoff import Backoff
from accrue.platform.resilience.circuit_breaker import CircuitBreaker

log = logging.getLogger("accrue.payments")

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True, slots=True)
class PspCall(Generic[T_co]):
    """How one call to the PSP (with its retries) went."""

    answered: bool  # the PSP gave a definite answer (`value`, which may be None)
    value: T_co | None
    rejected: PspRejected | None
    maybe_sent: bool  # some request may have reached the PSP
    requests: int


def call_psp(
    breaker: CircuitBreaker,
    backoff: Backoff,
    request: Callable[[], T],
    *,
    psp: str,
    sleep: Callable[[float], None],
    rng: random.Random,
) -> PspCall[T]:
    maybe_sent = False
    requests = 0
    for attempt in range(backoff.max_attempts):
        if attempt:
            sleep(backoff.delay(attempt - 1, rng))
        if not breaker.allow():
            break
        requests += 1
        try:
            value = request()
        except PspRejected as rejected:
            breaker.record_success()  # the PSP answered; it is healthy
            return PspCall(False, None, rejected, maybe_sent, requests)
        except PspOutcomeUnknown as error:
            breaker.record_failure()
            maybe_sent = True
            log.warning("psp outcome unknown", extra={"psp": psp, "error": str(error)})
        except PspUnavailable as error:
            breaker.record_failure()
            log.warning("psp unavailable", extra={"psp": psp, "error": str(error)})
        else:
            breaker.record_success()
            return PspCall(True, value, None, maybe_sent, requests)
    return PspCall(False, None, None, maybe_sent, requests)
