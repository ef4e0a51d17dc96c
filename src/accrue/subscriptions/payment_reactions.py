"""How subscriptions react to what payments announce about an invoice's collection.

Payments own the money and the dunning schedule; a subscription's status is
this area's business. The payment engine announces, in the payment's own
transaction, that an invoice was paid or that a collection attempt failed
(`accrue.payments.ports.InvoiceCollectionListener`); this class applies the
consequence to the invoice's subscription, in that same transaction, so the
payment, the invoice and the subscription never disagree.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from accrue.invoicing.model import Invoice
from accrue.payments.dunning import FinalAction
from accrue.ports import UnitOfWork
from accrue.subscriptions import model as subs
from accrue.subscriptions.billing import SubscriptionBilling
from accrue.subscriptions.model import SubscriptionStatus, Transition


class SubscriptionCollectionReactions:
    def __init__(self, billing: SubscriptionBilling) -> None:
        self._billing = billing

    def invoice_paid(self, uow: UnitOfWork, invoice: Invoice, now: datetime) -> None:
        """A paid invoice restarts a PAST_DUE or UNPAID subscription, or starts an
        INCOMPLETE one whose first invoice it was."""
        if not invoice.subscription_id:
            return
        sub = uow.subscriptions.get(invoice.tenant_id, invoice.subscription_id, for_update=True)
        if sub is None or sub.status not in (
            SubscriptionStatus.PAST_DUE,
            SubscriptionStatus.UNPAID,
            SubscriptionStatus.INCOMPLETE,  # its first invoice is paid: it starts
        ):
            return
        self._store(uow, sub.version, subs.mark_paid(sub, now), now)

    def collection_failed(
        self,
        uow: UnitOfWork,
        invoice: Invoice,
        now: datetime,
        *,
        final_action: FinalAction | None,
    ) -> None:
        """An automatic attempt on `invoice` failed; `final_action` is set when it
        was the last one the dunning schedule allows."""
        if not invoice.subscription_id:
            return
        sub = uow.subscriptions.get(invoice.tenant_id, invoice.subscription_id, for_update=True)
        if sub is None:
            return
        if sub.status is SubscriptionStatus.ACTIVE:
            sub = self._store(uow, sub.version, subs.mark_payment_failed(sub, now), now)
        if final_action is not None and sub.status is SubscriptionStatus.PAST_DUE:
            self._store(uow, sub.version, subs.exhaust_dunning(sub, now, final_action), now)
        if final_action is not None and sub.status is SubscriptionStatus.INCOMPLETE:
            # Never started: it is canceled and its unpaid first invoice voided,
            # so no receivable is left on a subscription that never ran.
            self._store(uow, sub.version, subs.cancel_now(sub, now), now)
            if not invoice.amount_paid_minor and not invoice.credited_minor:
                self._billing.invoicing.void(uow, invoice, now=now)

    def _store(
        self,
        uow: UnitOfWork,
        expected_version: int,
        transition: Transition,
        now: datetime,
    ) -> subs.Subscription:
        sub = replace(transition.subscription, update_time=now)
        uow.subscriptions.update(sub, expected_version=expected_version)
        self._billing.record(uow, replace(transition, subscription=sub))
        return sub
