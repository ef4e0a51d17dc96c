"""The billing side of subscription transitions, shared by every caller.

An RPC, a test-clock advance and the bill-run worker all turn a domain
`Transition` into invoices and events through this one class, so the same
change bills the same way whoever triggers it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from accrue.domain import subscriptions as subs
from accrue.domain.billing import period_charges, unused_time_credits
from accrue.domain.customers import Customer
from accrue.domain.invoices import BillingReason, Invoice, InvoiceLine, LineCharge
from accrue.domain.subscriptions import (
    DueAction,
    DueWork,
    Subscription,
    SubscriptionStatus,
    Transition,
)
from accrue.services.events import EventRecorder
from accrue.services.invoicing import Invoicing
from accrue.services.ports import UnitOfWork

_BILLED = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)


class SubscriptionBilling:
    def __init__(self, invoicing: Invoicing, events: EventRecorder) -> None:
        self._invoicing = invoicing
        self._events = events

    @property
    def invoicing(self) -> Invoicing:
        return self._invoicing

    def period_invoice(
        self,
        customer: Customer,
        sub: Subscription,
        *,
        reason: BillingReason,
        now: datetime,
        extra: Sequence[LineCharge] = (),
        preview: bool = False,
    ) -> Invoice:
        """The (unsaved) invoice for the current period, with pending lines first."""
        charges = [*extra, *period_charges(sub, sub.current_period)]
        lines = [*sub.pending_lines, *self._invoicing.lines(customer, charges)]
        return self._invoicing.draft(
            customer,
            lines,
            reason=reason,
            subscription_id=sub.id,
            period=sub.current_period,
            now=now,
            preview=preview,
        )

    def issue(
        self, uow: UnitOfWork, sub: Subscription, draft: Invoice, *, now: datetime
    ) -> Subscription:
        """Issue `draft` for `sub`; its pending lines are now billed."""
        invoice = self._invoicing.issue(uow, draft, now=now)
        return replace(sub, pending_lines=(), latest_invoice_id=invoice.id)

    def issue_lines(
        self,
        uow: UnitOfWork,
        customer: Customer,
        sub: Subscription,
        lines: Sequence[InvoiceLine],
        *,
        reason: BillingReason,
        now: datetime,
    ) -> Subscription:
        """Invoice `lines` at once (plus any pending ones); nothing to do without lines."""
        everything = [*sub.pending_lines, *lines]
        if not everything:
            return sub
        draft = self._invoicing.draft(
            customer,
            everything,
            reason=reason,
            subscription_id=sub.id,
            period=sub.current_period,
            now=now,
        )
        return self.issue(uow, sub, draft, now=now)

    def after_resume(
        self, uow: UnitOfWork, customer: Customer, paused: Subscription, resumed: Transition
    ) -> Subscription:
        """Invoice the new period, crediting the paused rest of the period kept at pause."""
        sub = resumed.subscription
        at = sub.current_period.start
        credits: list[LineCharge] = []
        if paused.pause is not None:
            credits = unused_time_credits(paused, paused.pause.started_at, paused.current_period)
        draft = self.period_invoice(
            customer, sub, reason=BillingReason.SUBSCRIPTION_ADJUSTMENT, now=at, extra=credits
        )
        return self.issue(uow, sub, draft, now=at)

    def run_step(
        self, uow: UnitOfWork, customer: Customer, sub: Subscription, work: DueWork
    ) -> Subscription:
        """Carry out one piece of due work at its scheduled instant, with its invoice."""
        transition = subs.run_due(sub, work)
        new = transition.subscription
        if work.action is DueAction.SCHEDULED_RESUME:
            new = self.after_resume(uow, customer, sub, transition)
        elif new.status is SubscriptionStatus.CANCELED:
            new = self.issue_lines(
                uow, customer, new, [], reason=BillingReason.SUBSCRIPTION_ADJUSTMENT, now=work.at
            )
        elif new.status in _BILLED:
            reason = (
                BillingReason.SUBSCRIPTION_CREATE
                if work.action is DueAction.TRIAL_END
                else BillingReason.SUBSCRIPTION_CYCLE
            )
            draft = self.period_invoice(customer, new, reason=reason, now=work.at)
            new = self.issue(uow, new, draft, now=work.at)
        new = replace(new, update_time=work.at)
        self.record(uow, replace(transition, subscription=new))
        return new

    def run_due(
        self, uow: UnitOfWork, customer: Customer, sub: Subscription, *, until: datetime
    ) -> tuple[Subscription, int]:
        """Every step due at or before `until`, in order; the result and the step count."""
        steps = 0
        while (work := subs.due_work(sub, until)) is not None:
            sub = self.run_step(uow, customer, sub, work)
            steps += 1
        return sub, steps

    def record(self, uow: UnitOfWork, transition: Transition) -> None:
        """One event per fact, each carrying the subscription as it ended up."""
        sub = transition.subscription
        for event in transition.events:
            self._events.record(
                uow, sub.tenant_id, type=event.type, resource_id=sub.id, subject=sub
            )

    def record_change(self, uow: UnitOfWork, change: str, sub: Subscription) -> None:
        self._events.record(
            uow, sub.tenant_id, type=f"subscription.{change}", resource_id=sub.id, subject=sub
        )
