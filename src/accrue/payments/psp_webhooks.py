"""Applying PSP webhook events: each has one effect, however often and in
whatever order it arrives.

The effect itself is idempotent (a final payment or refund ignores later
news, under its row lock), so two deliveries racing each other still settle
a record once. The event id is remembered after the effect commits, which
makes repeats cheap and means a crash between the two only costs a repeat
of an idempotent step, never a lost event.
"""

from __future__ import annotations

from dataclasses import dataclass

from accrue.kernel.clock import Clock
from accrue.payments.engine import PaymentEngine
from accrue.payments.model import Cause
from accrue.payments.psp.port import PspCharge, PspRefund
from accrue.ports import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class PspEvent:
    """A verified webhook event: a charge or a refund as the PSP now sees it."""

    id: str
    type: str
    charge: PspCharge | None = None
    refund: PspRefund | None = None


class PspWebhookService:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, engine: PaymentEngine):
        self._uow = uow_factory
        self._clock = clock
        self._engine = engine

    def receive(self, psp: str, event: PspEvent) -> str:
        """Apply `event`; the outcome: `applied`, `duplicate` or `ignored`."""
        with self._uow(write=False) as uow:
            if uow.payments.webhook_seen(psp, event.id):
                return "duplicate"
        applied: object = None
        if event.charge is not None:
            applied = self._engine.apply_charge_report(event.charge, Cause.PSP_WEBHOOK)
        elif event.refund is not None:
            applied = self._engine.apply_refund_report(event.refund, Cause.PSP_WEBHOOK)
        outcome = "ignored" if applied is None else "applied"
        with self._uow(write=True) as uow:
            first = uow.payments.record_webhook(
                psp, event.id, type=event.type, now=self._clock.now()
            )
            uow.commit()
        return outcome if first else "duplicate"
