"""Charging an INCOMPLETE subscription's first invoice, right after it was created.

A subscription concern (which invoice is its first, whether it is still
INCOMPLETE) over the payments area's `Collections`, which makes the attempt.
"""

from __future__ import annotations

from accrue.payments.collections import Collections
from accrue.payments.model import Payment
from accrue.ports import UnitOfWorkFactory
from accrue.subscriptions.model import SubscriptionStatus


class FirstCharge:
    def __init__(self, uow_factory: UnitOfWorkFactory, collections: Collections) -> None:
        self._uow = uow_factory
        self._collections = collections

    def collect_first(self, tenant_id: str, subscription_id: str) -> Payment | None:
        """Charge an INCOMPLETE subscription's first invoice now, after it was committed.

        CreateSubscription calls this once its transaction has committed (the
        PSP is never called inside one); a worker that gets there first makes
        the same attempt, and `collect` lets only one of them make it.
        """
        with self._uow(write=False) as uow:
            sub = uow.subscriptions.get(tenant_id, subscription_id)
            if sub is None or sub.status is not SubscriptionStatus.INCOMPLETE:
                return None
            invoice = uow.invoices.get(tenant_id, sub.latest_invoice_id)
            due = None if invoice is None else invoice.next_payment_attempt_time
        if invoice is None or due is None:
            return None
        return self._collections.collect(tenant_id, invoice.id, due_by=due)
