"""Resolving payments and refunds whose outcome was never recorded.

Runs in the worker (and on demand in tests). Each due record's inquiry time
is pushed out in a short claiming transaction first, so concurrent workers
do not ask about the same record at once; the PSP is then asked outside any
transaction, and the answer recorded through the engine.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from accrue.kernel.clock import Clock
from accrue.kernel.errors import AccrueError
from accrue.payments.engine import PaymentEngine
from accrue.platform.ports import DueItem
from accrue.ports import UnitOfWorkFactory

log = logging.getLogger("accrue.resolver")


@dataclass(frozen=True, slots=True)
class Resolved:
    payments: int
    refunds: int


class PaymentResolver:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, engine: PaymentEngine):
        self._uow = uow_factory
        self._clock = clock
        self._engine = engine

    def resolve_due(self, *, limit: int) -> Resolved:
        payments, refunds = self._claim(limit)
        settled_payments = settled_refunds = 0
        for item in payments:
            try:
                settled_payments += self._engine.resolve(item.tenant_id, item.id).status.final
            except AccrueError as error:
                log.warning("inquiry failed", extra={"id": item.id, "reason": error.reason})
        for item in refunds:
            try:
                settled_refunds += self._engine.resolve_refund(item.tenant_id, item.id).status.final
            except AccrueError as error:
                log.warning("inquiry failed", extra={"id": item.id, "reason": error.reason})
        return Resolved(payments=settled_payments, refunds=settled_refunds)

    def _claim(self, limit: int) -> tuple[list[DueItem], list[DueItem]]:
        now = self._clock.now()
        lease = now + self._engine.policy.inquiry_interval
        with self._uow(write=True) as uow:
            payments = list(uow.payments.claim_inquiries(now=now, limit=limit))
            refunds = list(uow.payments.claim_refund_inquiries(now=now, limit=limit))
            uow.payments.postpone_inquiries(
                [p.id for p in payments], [r.id for r in refunds], lease
            )
            uow.commit()
        return payments, refunds
