"""PaymentGateway calling the simulator directly, for the embedded default
server: no second process, yet the same failures as over HTTP, so code that
passes against this gateway has met lost responses and 503s too."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from accrue.payments.psp.port import PspCharge, PspOutcomeUnknown, PspRefund
from accrue.payments.psp.simulator import Disposition, SimulatedPsp


class InProcessGateway:
    """`timeout_seconds` plays the HTTP client's timeout: a delay longer than it
    (tok_slow, latency) ends in PspOutcomeUnknown after waiting that long, with
    the charge recorded, as it would be over the wire."""

    def __init__(
        self,
        sim: SimulatedPsp,
        name: str = "simulated",
        *,
        timeout_seconds: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._sim = sim
        self._name = name
        self._timeout = timeout_seconds
        self._sleep = sleep

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
        outcome = self._sim.charge(
            idempotency_key=idempotency_key,
            token=token,
            amount_minor=amount_minor,
            currency_code=currency_code,
            metadata=metadata,
        )
        self._wait(outcome.delay_seconds)
        if outcome.charge is None or outcome.disposition is not Disposition.RESPOND:
            raise PspOutcomeUnknown(_unknown(outcome.disposition))
        return outcome.charge.charge

    def refund(
        self,
        *,
        idempotency_key: str,
        charge_psp_id: str,
        amount_minor: int,
        currency_code: str,
    ) -> PspRefund:
        outcome = self._sim.refund(
            idempotency_key=idempotency_key,
            charge_psp_id=charge_psp_id,
            amount_minor=amount_minor,
            currency_code=currency_code,
        )
        self._wait(outcome.delay_seconds)
        if outcome.refund is None or outcome.disposition is not Disposition.RESPOND:
            raise PspOutcomeUnknown(_unknown(outcome.disposition))
        return outcome.refund

    def retrieve_charge(self, idempotency_key: str) -> PspCharge | None:
        record = self._sim.retrieve_charge(idempotency_key)
        return None if record is None else record.charge

    def retrieve_refund(self, idempotency_key: str) -> PspRefund | None:
        return self._sim.retrieve_refund(idempotency_key)

    def _wait(self, delay: float) -> None:
        if delay > self._timeout:
            self._sleep(self._timeout)
            raise PspOutcomeUnknown(f"no answer within {self._timeout}s")
        if delay > 0:
            self._sleep(delay)


def _unknown(disposition: Disposition) -> str:
    if disposition is Disposition.UNAVAILABLE:
        return "PSP answered 503"
    return "the PSP's response was lost"
