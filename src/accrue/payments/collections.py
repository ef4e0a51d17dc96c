"""Automatic collection: charging finalised invoices, and dunning retries.

An attempt is made in two steps like any payment: a transaction counts the
attempt on the invoice and records its payment (with a request id derived
from the invoice and the attempt number, so two workers can never make the
same attempt twice), then the PSP is charged. The outcome's consequences -
paid, or the next dunning retry and the subscription's status - are in
`PaymentEngine`.
"""

from __future__ import annotations

import logging
from datetime import datetime

from accrue.invoicing import model as inv
from accrue.invoicing.model import InvoiceStatus
from accrue.kernel.clock import Clock
from accrue.kernel.errors import AccrueError
from accrue.payments.engine import PaymentEngine
from accrue.payments.model import Payment
from accrue.ports import UnitOfWorkFactory

log = logging.getLogger("accrue.collections")


class Collections:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, engine: PaymentEngine):
        self._uow = uow_factory
        self._clock = clock
        self._engine = engine

    def collect(self, tenant_id: str, invoice_id: str, *, due_by: datetime) -> Payment | None:
        """Make the invoice's attempt due by `due_by`; None when there is none to make."""
        with self._uow(write=True) as uow:
            invoice = uow.invoices.get(tenant_id, invoice_id, for_update=True)
            due = None if invoice is None else invoice.next_payment_attempt_time
            if invoice is None or due is None or due > due_by:
                return None  # another worker made this attempt already
            if invoice.status is not InvoiceStatus.OPEN or invoice.amount_due_minor <= 0:
                uow.invoices.update(inv.collection_failed(invoice, next_attempt=None))
                uow.commit()
                return None
            customer = uow.customers.get(tenant_id, invoice.customer_id)
            assert customer is not None, "an invoice's customer exists"
            started = inv.collection_started(invoice)
            if uow.payments.in_progress_for_invoice(tenant_id, invoice_id):
                # A payment is under way: it settles the invoice, or its failure
                # brings this attempt back (PaymentEngine._payment_failed).
                uow.invoices.update(inv.collection_failed(invoice, next_attempt=None))
                uow.commit()
                return None
            method = next(
                (m for m in customer.payment_methods if m.id == customer.default_payment_method_id),
                None,
            )
            uow.invoices.update(started)
            if method is None or not self._engine.has_gateway(method.psp):
                # Nothing to charge with: the attempt fails without a PSP call.
                self._engine.attempt_failed(uow, started, customer)
                uow.commit()
                return None
            payment = self._engine.open_payment(
                uow,
                customer=customer,
                invoice_id=invoice_id,
                amount_minor=started.amount_due_minor,
                payment_method_id=method.id,
                psp=method.psp,
                request_id=f"collection:{invoice_id}:{started.attempt_count}",
                fingerprint="",
                description=f"Invoice {invoice.number}",
                metadata={},
                collection_attempt=started.attempt_count,
            )
            uow.commit()
        return self._engine.send(payment, method.token)

    def collect_due(self, *, limit: int) -> int:
        """Attempts due on real time; the number made."""
        now = self._clock.now()
        with self._uow(write=False) as uow:
            due = uow.invoices.claim_collections(now=now, limit=limit)
        made = 0
        for item in due:
            try:
                if self.collect(item.tenant_id, item.id, due_by=now) is not None:
                    made += 1
            except AccrueError as error:
                log.warning(
                    "collection failed", extra={"invoice_id": item.id, "reason": error.reason}
                )
        return made
