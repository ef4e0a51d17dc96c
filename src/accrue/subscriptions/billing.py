"""The billing side of subscription transitions, shared by every caller.

An RPC, a test-clock advance and the bill-run worker all turn a domain
`Transition` into invoices and events through this one class, so the same
change bills the same way whoever triggers it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from accrue.customers.model import Customer
from accrue.event_log.service import EventRecorder
from accrue.invoicing.issuing import Invoicing
from accrue.invoicing.model import BillingReason, Invoice, InvoiceLine, LineCharge
from accrue.kernel.calendar import Period
from accrue.kernel.records import evolve
from accrue.subscriptions import model as subs
from accrue.subscriptions.charges import metered_notices, period_charges, unused_time_credits
from accrue.subscriptions.model import (
    DueAction,
    DueWork,
    Subscription,
    SubscriptionItem,
    SubscriptionStatus,
    Transition,
)
from accrue.subscriptions.ports import SubscriptionsUnitOfWork

_BILLED = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)
_UNBILLED_USAGE = (SubscriptionStatus.TRIALING, SubscriptionStatus.INCOMPLETE)


@dataclass(frozen=True, slots=True)
class DuePlan:
    """Due work of many subscriptions planned in memory: each one's steps, and the drafts."""

    planned: list[tuple[Subscription, list[Transition]]]
    drafts: list[tuple[Invoice, datetime]]

    @property
    def results(self) -> list[tuple[Subscription, int]]:
        """Each subscription as it ends up, and how many steps it took."""
        return [(sub, len(steps)) for sub, steps in self.planned]


class ArrearsCharges(Protocol):
    """Metered items' lines (the usage area provides them) and the record of what they billed.

    `unsaved`: metered lines planned by earlier steps and not stored yet; they
    count as billed, so a plan of many steps bills what one step at a time does.
    """

    def charges(
        self, sub: Subscription, period: Period, unsaved: Sequence[LineCharge] = ()
    ) -> list[LineCharge]:
        """The usage of a period that has ended, and what changed in earlier ones."""
        ...

    def removed_charges(
        self, sub: Subscription, removed: Sequence[SubscriptionItem], until: datetime
    ) -> list[LineCharge]:
        """Usage of metered items a change removes, from the period's start to the change."""
        ...

    def final_charges(
        self, sub: Subscription, until: datetime, unsaved: Sequence[LineCharge] = ()
    ) -> list[LineCharge]:
        """Every metered item's usage of the current period up to `until`, and what
        changed in earlier ones (an immediate cancellation's last lines)."""
        ...

    def settlement_charges(
        self, sub: Subscription, unsaved: Sequence[LineCharge] = ()
    ) -> list[LineCharge]:
        """A canceled subscription's trailing lines: what changed in the usage periods
        it billed since its last invoice (their grace has closed)."""
        ...

    def open_until(self, sub: Subscription, charges: Iterable[LineCharge]) -> datetime | None:
        """`sub.usage_open_until` once `charges` are billed too."""
        ...

    def record_billed(
        self,
        uow: SubscriptionsUnitOfWork,
        sub: Subscription,
        charges: Iterable[LineCharge],
        *,
        invoice_id: str,
        at: datetime,
    ) -> None:
        """Record the metered lines among `charges` as billed."""
        ...


class SubscriptionBilling:
    def __init__(
        self, invoicing: Invoicing, events: EventRecorder, usage: ArrearsCharges | None = None
    ) -> None:
        self._invoicing = invoicing
        self._events = events
        self._usage = usage

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
        if not charges and not sub.pending_lines:
            charges = metered_notices(sub, sub.current_period)
        lines = [*sub.pending_lines, *self._invoicing.lines(customer, charges)]
        return self._invoicing.draft(
            customer,
            lines,
            reason=reason,
            subscription_id=sub.id,
            period=sub.current_period,
            now=now,
            preview=preview,
            collection_method=sub.collection_method,
        )

    def issue(
        self, uow: SubscriptionsUnitOfWork, sub: Subscription, draft: Invoice, *, now: datetime
    ) -> Subscription:
        """Issue `draft` for `sub`; its pending lines are now billed."""
        invoice = self._invoicing.issue(uow, draft, now=now)
        self.record_usage(uow, sub, draft.lines, invoice_id=invoice.id, at=now)
        return _billed(sub, invoice)

    def record_usage(
        self,
        uow: SubscriptionsUnitOfWork,
        sub: Subscription,
        lines: Sequence[InvoiceLine],
        *,
        invoice_id: str,
        at: datetime,
    ) -> None:
        """Record what the metered lines just made bill (lines read back carry no mark,
        so pending lines recorded when they were made are not recorded twice)."""
        if self._usage is not None:
            self._usage.record_billed(
                uow, sub, [line.charge for line in lines], invoice_id=invoice_id, at=at
            )

    def lines_invoice(
        self,
        customer: Customer,
        sub: Subscription,
        lines: Sequence[InvoiceLine],
        *,
        reason: BillingReason,
        now: datetime,
        preview: bool = False,
    ) -> Invoice | None:
        """The (unsaved) invoice of `lines` plus any pending ones; None without lines."""
        everything = [*sub.pending_lines, *lines]
        if not everything:
            return None
        return self._invoicing.draft(
            customer,
            everything,
            reason=reason,
            subscription_id=sub.id,
            period=sub.current_period,
            now=now,
            preview=preview,
            collection_method=sub.collection_method,
        )

    def issue_lines(
        self,
        uow: SubscriptionsUnitOfWork,
        customer: Customer,
        sub: Subscription,
        lines: Sequence[InvoiceLine],
        *,
        reason: BillingReason,
        now: datetime,
    ) -> Subscription:
        """Invoice `lines` at once (plus any pending ones); nothing to do without lines."""
        draft = self.lines_invoice(customer, sub, lines, reason=reason, now=now)
        return sub if draft is None else self.issue(uow, sub, draft, now=now)

    def resume_invoice(
        self, customer: Customer, paused: Subscription, resumed: Subscription, *, preview: bool
    ) -> Invoice:
        """The new period's invoice, crediting the paused rest of the period kept at pause."""
        credits: list[LineCharge] = []
        if paused.pause is not None:
            credits = unused_time_credits(paused, paused.pause.started_at, paused.current_period)
        return self.period_invoice(
            customer,
            resumed,
            reason=BillingReason.SUBSCRIPTION_ADJUSTMENT,
            now=resumed.current_period.start,
            extra=credits,
            preview=preview,
        )

    def plan_step(
        self,
        customer: Customer,
        sub: Subscription,
        work: DueWork,
        *,
        preview: bool = False,
        unsaved: Sequence[LineCharge] = (),
    ) -> tuple[Transition, Invoice | None]:
        """What one piece of due work does and the invoice it makes, without storing anything.

        The bill run and GetUpcomingInvoice both call this, so the preview of the
        next renewal is the renewal's own computation.
        """
        transition = subs.run_due(sub, work)
        new = transition.subscription
        if work.action is DueAction.SCHEDULED_RESUME:
            return transition, self.resume_invoice(customer, sub, new, preview=preview)
        if work.action is DueAction.USAGE_SETTLEMENT:
            return transition, self._settlement_invoice(
                customer, sub, new, at=work.at, preview=preview, unsaved=unsaved
            )
        arrears = self._arrears(sub, work, unsaved)
        new = self.with_usage(new, arrears)
        transition = evolve(transition, subscription=new)
        if new.status is SubscriptionStatus.CANCELED:
            reason = BillingReason.SUBSCRIPTION_ADJUSTMENT
            lines = self._invoicing.lines(customer, arrears)
            draft = self.lines_invoice(
                customer, new, lines, reason=reason, now=work.at, preview=preview
            )
            return transition, draft
        if new.status in _BILLED:
            reason = (
                BillingReason.SUBSCRIPTION_CREATE
                if work.action is DueAction.TRIAL_END
                else BillingReason.SUBSCRIPTION_CYCLE
            )
            draft = self.period_invoice(
                customer, new, reason=reason, now=work.at, preview=preview, extra=arrears
            )
            return transition, draft
        return transition, None

    def _settlement_invoice(
        self,
        customer: Customer,
        sub: Subscription,
        settled: Subscription,
        *,
        at: datetime,
        preview: bool,
        unsaved: Sequence[LineCharge],
    ) -> Invoice | None:
        """A canceled subscription's trailing invoice: the late usage and corrections
        of its last periods, or None when they changed nothing (no empty invoice).

        Its lines are the renewal's late usage and usage adjustment lines, planned
        by the same code, so the bill run and a test clock bill the same (there is
        no preview: GetUpcomingInvoice refuses a canceled subscription). The step
        runs once: it clears `usage_open_until` under the subscription's
        version check, and what it bills is recorded as billed.
        """
        if self._usage is None:
            return None
        charges = self._usage.settlement_charges(sub, unsaved)
        lines = self._invoicing.lines(customer, charges)
        return self.lines_invoice(
            customer,
            settled,
            lines,
            reason=BillingReason.SUBSCRIPTION_ADJUSTMENT,
            now=at,
            preview=preview,
        )

    def with_usage(self, sub: Subscription, charges: Iterable[LineCharge]) -> Subscription:
        """`sub` once the metered lines among `charges` are billed: open for late usage
        and corrections until the last of their periods' grace has passed."""
        if self._usage is None:
            return sub
        return evolve(sub, usage_open_until=self._usage.open_until(sub, charges))

    def metered_until_change(
        self, sub: Subscription, new_items: Sequence[SubscriptionItem], at: datetime
    ) -> list[LineCharge]:
        """Lines for the usage so far of metered items a change removes (at their price)."""
        kept = {item.price_id for item in new_items}
        removed = [item for item in sub.items if item.metered and item.price_id not in kept]
        if self._usage is None or not removed or sub.status is SubscriptionStatus.TRIALING:
            return []
        return self._usage.removed_charges(sub, removed, at)

    def usage_until_cancel(self, sub: Subscription, at: datetime) -> list[LineCharge]:
        """An immediate cancellation's usage: the current period's up to `at`, and what
        changed in earlier periods since they were billed (a trial's and an unstarted
        subscription's usage is free)."""
        if self._usage is None or sub.status in _UNBILLED_USAGE:
            return []
        return self._usage.final_charges(sub, at)

    def _arrears(
        self, sub: Subscription, work: DueWork, unsaved: Sequence[LineCharge]
    ) -> list[LineCharge]:
        """Metered usage of the period `work` closes (a trial's usage is free)."""
        if self._usage is None or sub.status is SubscriptionStatus.TRIALING:
            return []
        if work.action not in (DueAction.RENEWAL, DueAction.PERIOD_END_CANCELLATION):
            return []
        return self._usage.charges(sub, sub.current_period, unsaved)

    def run_step(
        self,
        uow: SubscriptionsUnitOfWork,
        customer: Customer,
        sub: Subscription,
        work: DueWork,
        *,
        unsaved: list[LineCharge] | None = None,
    ) -> Subscription:
        """Carry out one piece of due work at its scheduled instant, with its invoice.

        `unsaved`: the metered lines earlier steps of this transaction billed (the
        usage is read through its own unit of work, which cannot see them yet); this
        step's are added to it.
        """
        transition, draft = self.plan_step(customer, sub, work, unsaved=unsaved or ())
        new = transition.subscription
        if draft is not None:
            new = self.issue(uow, new, draft, now=work.at)
            if unsaved is not None:
                unsaved += [line.charge for line in draft.lines if line.charge.usage]
        new = replace(new, update_time=work.at)
        self.record(uow, replace(transition, subscription=new))
        return new

    def run_due(
        self,
        uow: SubscriptionsUnitOfWork,
        customer: Customer,
        sub: Subscription,
        *,
        until: datetime,
    ) -> tuple[Subscription, int]:
        """Every step due at or before `until`, in order; the result and the step count."""
        steps = 0
        unsaved: list[LineCharge] = []
        while (work := subs.due_work(sub, until)) is not None:
            sub = self.run_step(uow, customer, sub, work, unsaved=unsaved)
            steps += 1
        return sub, steps

    def run_due_many(
        self,
        uow: SubscriptionsUnitOfWork,
        due: Sequence[tuple[Customer, Subscription]],
        *,
        until: datetime,
    ) -> list[tuple[Subscription, int]]:
        """`run_due` of many subscriptions at once, in the order given.

        Every step is planned in memory by `plan_step`, exactly as `run_step` does;
        then all the drafts are issued together (`Invoicing.issue_many`) and the
        transitions' events recorded. The invoices, numbers, postings and events are
        those `run_due` would make for each subscription in turn; only the order of the
        events in the stream differs (the batch's postings are recorded first).
        """
        plan = self.plan_due_many(due, until=until)
        self.issue_planned(uow, plan)
        return plan.results

    def plan_due_many(
        self, due: Sequence[tuple[Customer, Subscription]], *, until: datetime
    ) -> DuePlan:
        """The first half of `run_due_many`: every step planned, nothing stored or locked."""
        planned: list[tuple[Subscription, list[Transition]]] = []
        drafts: list[tuple[Invoice, datetime]] = []
        for customer, stored in due:
            sub = stored
            steps: list[Transition] = []
            unsaved: list[LineCharge] = []
            while (work := subs.due_work(sub, until)) is not None:
                transition, draft = self.plan_step(customer, sub, work, unsaved=unsaved)
                new = transition.subscription
                if draft is not None:
                    drafts.append((draft, work.at))
                    unsaved += [line.charge for line in draft.lines if line.charge.usage]
                    new = _billed(new, draft)
                new = evolve(new, update_time=work.at)
                steps.append(evolve(transition, subscription=new))
                sub = new
            planned.append((sub, steps))
        return DuePlan(planned, drafts)

    def store_planned(
        self,
        uow: SubscriptionsUnitOfWork,
        due: Sequence[tuple[Customer, Subscription]],
        plan: DuePlan,
    ) -> int:
        """Store a plan of `due` (claimed or locked by the caller); the steps it ran.

        The subscriptions that moved are advanced first, in one statement checked
        against the versions they were planned from, so the tenant's invoice counter
        (taken when the invoices are issued) is held only while they are written.
        """
        results = plan.results
        uow.subscriptions.update_many(
            [
                (after, before.version)
                for (_, before), (after, ran) in zip(due, results, strict=True)
                if ran
            ]
        )
        self.issue_planned(uow, plan)
        return sum(ran for _, ran in results)

    def issue_planned(self, uow: SubscriptionsUnitOfWork, plan: DuePlan) -> None:
        """The second half of `run_due_many`: the drafts issued, the events recorded."""
        self._invoicing.issue_many(uow, plan.drafts)
        subscriptions = {sub.id: sub for sub, _ in plan.planned}
        for draft, at in plan.drafts:
            self.record_usage(
                uow, subscriptions[draft.subscription_id], draft.lines, invoice_id=draft.id, at=at
            )
        for _sub, steps in plan.planned:
            for transition in steps:
                self.record(uow, transition)

    def record(self, uow: SubscriptionsUnitOfWork, transition: Transition) -> None:
        """One event per fact, each carrying the subscription as it ended up."""
        sub = transition.subscription
        for event in transition.events:
            self._events.record(
                uow, sub.tenant_id, type=event.type, resource_id=sub.id, subject=sub
            )

    def record_change(self, uow: SubscriptionsUnitOfWork, change: str, sub: Subscription) -> None:
        self._events.record(
            uow, sub.tenant_id, type=f"subscription.{change}", resource_id=sub.id, subject=sub
        )


def _billed(sub: Subscription, invoice: Invoice) -> Subscription:
    """`sub` once `invoice` (issued) has billed its pending lines."""
    return evolve(sub, pending_lines=(), latest_invoice_id=invoice.id)
