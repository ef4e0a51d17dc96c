"""Subscription use cases. Each runs inside the unit of work it is given.

"Now" is the customer's: its test clock's frozen time when it lives on one.
A change is planned once (`_plan_change`) and either returned as a preview
or applied, so a preview cannot disagree with the commit at the same instant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from accrue.catalog.model import UsageType
from accrue.customers.model import Customer
from accrue.invoicing.line_text import item_label
from accrue.invoicing.model import (
    BillingReason,
    CollectionMethod,
    CreditNoteReason,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineCharge,
)
from accrue.kernel.calendar import BillingInterval, anchor_from, boundary, utc_text
from accrue.kernel.clock import whole_second
from accrue.kernel.errors import (
    CurrencyMismatch,
    InvalidState,
    NotFound,
    PreconditionViolation,
    ValidationFailed,
)
from accrue.kernel.ids import IdGenerator
from accrue.kernel.paging import Page, PageRequest, paginate
from accrue.subscriptions import model as subs
from accrue.subscriptions.billing import SubscriptionBilling
from accrue.subscriptions.charges import unused_time_credits
from accrue.subscriptions.guard import SubscriptionGuard, Unguarded, Violation
from accrue.subscriptions.model import (
    ProrationBehavior,
    Subscription,
    SubscriptionItem,
    SubscriptionStatus,
    Transition,
)
from accrue.subscriptions.ports import SubscriptionsUnitOfWork


@dataclass(frozen=True, slots=True)
class ItemRequest:
    price_id: str
    quantity: int


@dataclass(frozen=True, slots=True)
class NewSubscription:
    customer_id: str
    items: tuple[ItemRequest, ...]
    trial_days: int = 0
    trial_end: datetime | None = None
    start_time: datetime | None = None
    billing_anchor_time: datetime | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    collection_method: CollectionMethod = CollectionMethod.SEND_INVOICE


@dataclass(frozen=True, slots=True)
class ItemChange:
    subscription_id: str
    items: tuple[ItemRequest, ...]
    behavior: ProrationBehavior
    proration_time: datetime | None


@dataclass(frozen=True, slots=True)
class ChangeResult:
    subscription: Subscription
    proration_lines: tuple[InvoiceLine, ...]
    invoice: Invoice | None
    proration_time: datetime
    # A preview's: the tenant's policy rules the change would break.
    policy_violations: tuple[Violation, ...] = ()


class SubscriptionService:
    def __init__(
        self, ids: IdGenerator, billing: SubscriptionBilling, guard: SubscriptionGuard | None = None
    ) -> None:
        self._ids = ids
        self._guard = guard or Unguarded()
        self._billing = billing
        self._invoicing = billing.invoicing

    # -- reads ---------------------------------------------------------------

    def get(
        self,
        uow: SubscriptionsUnitOfWork,
        tenant_id: str,
        subscription_id: str,
        *,
        for_update: bool = False,
    ) -> Subscription:
        sub = uow.subscriptions.get(tenant_id, subscription_id, for_update=for_update)
        if sub is None:
            raise NotFound("subscription", subscription_id)
        return sub

    def list_subscriptions(
        self,
        uow: SubscriptionsUnitOfWork,
        tenant_id: str,
        page: PageRequest,
        *,
        customer_id: str,
        status: SubscriptionStatus | None,
    ) -> Page[Subscription]:
        fetched = uow.subscriptions.list(tenant_id, page, customer_id=customer_id, status=status)
        return paginate(fetched, page)

    def upcoming_invoice(
        self, uow: SubscriptionsUnitOfWork, tenant_id: str, subscription_id: str
    ) -> Invoice:
        """The next renewal's invoice, built by the code the renewal runs."""
        sub = self.get(uow, tenant_id, subscription_id)
        customer = self._customer(uow, sub.tenant_id, sub.customer_id)
        work = subs.scheduled_work(sub)
        draft = None
        if work is not None and work.action is subs.DueAction.PERIOD_END_CANCELLATION:
            subs.refuse(
                sub,
                "preview the next renewal",
                f"it is scheduled to cancel at the end of its period, {utc_text(work.at)},"
                " so nothing will renew (ReactivateSubscription undoes the cancellation)",
            )
        if work is not None and work.action is subs.DueAction.USAGE_SETTLEMENT:
            # A canceled subscription's trailing usage invoice is no renewal: the
            # contract refuses the preview for every canceled subscription.
            work = None
        if work is not None:
            _, draft = self._billing.plan_step(customer, sub, work, preview=True)
        if draft is None:
            subs.refuse(sub, "preview the next renewal", _why_nothing_renews(sub))
        return replace(draft, credit_applied_minor=self._preview_credit(uow, customer, draft))

    # -- creation ------------------------------------------------------------

    def create(
        self, uow: SubscriptionsUnitOfWork, tenant_id: str, new: NewSubscription
    ) -> Subscription:
        customer = self._customer(uow, tenant_id, new.customer_id)
        customer.ensure_active()
        if (
            new.collection_method is CollectionMethod.CHARGE_AUTOMATICALLY
            and not customer.default_payment_method_id
        ):
            raise InvalidState(
                f"customer {customer.id!r} has no default payment method to charge automatically",
                metadata={"customer_id": customer.id},
                precondition_violations=[
                    PreconditionViolation(
                        "PAYMENT_METHOD", f"customers/{customer.id}", "no default payment method"
                    )
                ],
            )
        now = self._invoicing.now_for(uow, customer)
        items = self._items(uow, tenant_id, customer, new.items, "items")
        interval = self._interval(items)
        start = now if new.start_time is None else whole_second(new.start_time, "start_time")
        if start > now:
            raise ValidationFailed.on("start_time", "must not be in the future")
        trial_end = self._trial_end(new, start)
        anchor_at = new.billing_anchor_time or trial_end or start
        anchor_at = whole_second(anchor_at, "billing_anchor_time")
        first_boundary = trial_end or start
        latest = boundary(anchor_from(first_boundary, customer.time_zone), interval, 1)
        if not first_boundary <= anchor_at <= latest:
            raise ValidationFailed.on(
                "billing_anchor_time",
                "must lie between the start (or trial end) and one interval after it",
            )
        sub = subs.create_subscription(
            id=self._ids.new("sub"),
            tenant_id=tenant_id,
            customer_id=customer.id,
            items=items,
            anchor=anchor_from(anchor_at, customer.time_zone),
            interval=interval,
            now=start,
        )
        sub = replace(
            sub,
            test_clock_id=customer.test_clock_id,
            metadata=dict(new.metadata),
            update_time=start,
            collection_method=new.collection_method,
        )
        # Charged automatically: INCOMPLETE until the first invoice is paid. The
        # charge is attempted after this commits (see FirstCharge.collect_first).
        charge = new.collection_method is CollectionMethod.CHARGE_AUTOMATICALLY
        started = subs.start(sub, start, trial_end=trial_end, await_payment=charge)
        sub = started.subscription
        if sub.status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.INCOMPLETE):
            draft = self._billing.period_invoice(
                customer, sub, reason=BillingReason.SUBSCRIPTION_CREATE, now=start
            )
            sub = self._billing.issue(uow, sub, draft, now=start)
            first = uow.invoices.get(tenant_id, sub.latest_invoice_id)
            if (
                sub.status is SubscriptionStatus.INCOMPLETE
                and first
                and first.amount_due_minor <= 0
            ):
                sub = subs.mark_paid(
                    sub, start
                ).subscription  # covered by credit: nothing to charge
        self._billing.record_change(uow, "created", sub)
        # A backdated start catches up on every period since, as the worker would have.
        sub, _ = self._billing.run_due(uow, customer, sub, until=now)
        uow.subscriptions.add(sub)
        for item in items:
            uow.prices.mark_in_use(tenant_id, item.price_id)
        return sub

    # -- changes ---------------------------------------------------------------

    def preview_change(
        self, uow: SubscriptionsUnitOfWork, tenant_id: str, change: ItemChange
    ) -> ChangeResult:
        sub = self.get(uow, tenant_id, change.subscription_id)
        customer = self._customer(uow, tenant_id, sub.customer_id)
        transition, lines, at, now = self._plan_change(uow, customer, sub, change)
        violations = self._guard.change_violations(
            uow, before=sub, after=transition.subscription, at=at, behavior=change.behavior
        )
        invoice = None
        if change.behavior is ProrationBehavior.ALWAYS_INVOICE and lines:
            invoice = self._billing.lines_invoice(
                customer,
                sub,
                lines,
                reason=BillingReason.SUBSCRIPTION_UPDATE,
                now=at,
                preview=True,
            )
            if invoice is not None:
                # Unsaved, so DRAFT (no id, no number); its amounts are what the
                # commit finalises, including the customer credit it would use.
                credit = self._preview_credit(uow, customer, invoice)
                invoice = replace(invoice, credit_applied_minor=credit)
        preview = transition.subscription
        if change.behavior is not ProrationBehavior.ALWAYS_INVOICE:
            preview = replace(preview, pending_lines=(*sub.pending_lines, *lines))
        preview = replace(preview, update_time=now)
        return ChangeResult(preview, tuple(lines), invoice, at, violations)

    def change(
        self, uow: SubscriptionsUnitOfWork, tenant_id: str, change: ItemChange
    ) -> ChangeResult:
        sub = self.get(uow, tenant_id, change.subscription_id, for_update=True)
        customer = self._customer(uow, tenant_id, sub.customer_id)
        transition, lines, at, now = self._plan_change(uow, customer, sub, change)
        self._guard.enforce_change(
            uow, before=sub, after=transition.subscription, at=at, behavior=change.behavior
        )
        new = replace(transition.subscription, update_time=now)
        # The removed metered items' usage so far stays open for late usage.
        new = self._billing.with_usage(new, [line.charge for line in lines])
        invoice = None
        if change.behavior is ProrationBehavior.ALWAYS_INVOICE and lines:
            new = self._billing.issue_lines(
                uow, customer, new, lines, reason=BillingReason.SUBSCRIPTION_UPDATE, now=at
            )
            invoice = uow.invoices.get(tenant_id, new.latest_invoice_id)
        elif lines:
            # CREATE_PRORATIONS, and NONE whose only lines are the usage so far of
            # metered items the change removes: billed on the next invoice, at the
            # price they were used under, never dropped.
            new = replace(new, pending_lines=(*sub.pending_lines, *lines))
            self._billing.record_usage(uow, new, lines, invoice_id="", at=at)
        for item in new.items:
            uow.prices.mark_in_use(tenant_id, item.price_id)
        return ChangeResult(self._save(uow, sub, new, transition), tuple(lines), invoice, at)

    def _plan_change(
        self,
        uow: SubscriptionsUnitOfWork,
        customer: Customer,
        sub: Subscription,
        change: ItemChange,
    ) -> tuple[Transition, list[InvoiceLine], datetime, datetime]:
        """The change's transition, its taxed proration lines, its instant, and now."""
        now = self._invoicing.now_for(uow, customer)
        at = now
        if change.proration_time is not None:
            at = whole_second(change.proration_time, "proration_time")
            if at > now:
                raise ValidationFailed.on("proration_time", "must not be in the future")
            # Before the last change the old items were not what the customer
            # had, so crediting them there would give back time never billed.
            since = max(sub.current_period.start, sub.update_time or sub.current_period.start)
            if at < since:
                raise ValidationFailed.on(
                    "proration_time",
                    f"must not be before {utc_text(since)}, the current period's start"
                    " or the subscription's last change",
                )
        items = self._items(uow, sub.tenant_id, customer, change.items, "items")
        if self._interval(items) != sub.interval:
            raise ValidationFailed.on(
                "items", "every price must keep the subscription's billing interval"
            )
        transition = subs.change_items(sub, at, items, change.behavior)
        charges = [
            LineCharge.from_proration(
                p.line,
                price_id=p.item.price_id,
                subscription_id=sub.id,
                behavior=p.item.terms.tax_behavior,
                label=p.item.label,
                time_zone=sub.anchor.time_zone,
            )
            for p in transition.prorations
        ]
        charges += self._billing.metered_until_change(sub, items, at)
        return transition, self._invoicing.lines(customer, charges), at, now

    def pause(
        self,
        uow: SubscriptionsUnitOfWork,
        tenant_id: str,
        subscription_id: str,
        resume_at: datetime | None,
    ) -> Subscription:
        sub = self.get(uow, tenant_id, subscription_id, for_update=True)
        now = self._now(uow, sub)
        transition = subs.pause(sub, now, resume_at)
        return self._save(uow, sub, replace(transition.subscription, update_time=now), transition)

    def resume(
        self, uow: SubscriptionsUnitOfWork, tenant_id: str, subscription_id: str
    ) -> Subscription:
        sub = self.get(uow, tenant_id, subscription_id, for_update=True)
        customer = self._customer(uow, tenant_id, sub.customer_id)
        now = self._invoicing.now_for(uow, customer)
        transition = subs.resume(sub, now)
        resumed = transition.subscription
        draft = self._billing.resume_invoice(customer, sub, resumed, preview=False)
        new = self._billing.issue(uow, resumed, draft, now=now)
        return self._save(uow, sub, replace(new, update_time=now), transition)

    def cancel(
        self,
        uow: SubscriptionsUnitOfWork,
        tenant_id: str,
        subscription_id: str,
        *,
        at_period_end: bool,
        prorate: bool,
    ) -> Subscription:
        sub = self.get(uow, tenant_id, subscription_id, for_update=True)
        self._guard.enforce_cancel(uow, sub, at_period_end=at_period_end)
        customer = self._customer(uow, tenant_id, sub.customer_id)
        now = self._invoicing.now_for(uow, customer)
        if at_period_end:
            transition = subs.cancel_at_period_end(sub, now)
            new = transition.subscription
        else:
            transition = subs.cancel_now(sub, now)
            credits: list[LineCharge] = []
            if prorate and sub.status is SubscriptionStatus.ACTIVE:
                credits = unused_time_credits(sub, now, sub.current_period)
            elif prorate and sub.status is SubscriptionStatus.PAUSED and sub.pause is not None:
                # Paused time is never billed: the prepaid rest from the pause on is unused.
                credits = unused_time_credits(sub, sub.pause.started_at, sub.current_period)
            lines = self._invoicing.lines(customer, credits)
            if self._net_against_open_invoice(uow, sub, lines, now=now):
                lines = []
            # The usage so far is billed on this final invoice (Stripe's invoice_now):
            # no renewal comes to bill it later.
            usage = self._billing.usage_until_cancel(sub, now)
            lines += self._invoicing.lines(customer, usage)
            if sub.status is SubscriptionStatus.INCOMPLETE:
                self._void_unpaid_first_invoice(uow, sub, now=now)
            # Late usage of the periods billed here is billed by a trailing invoice
            # once their grace has closed (see `SubscriptionBilling.plan_step`).
            new = self._billing.issue_lines(
                uow,
                customer,
                self._billing.with_usage(transition.subscription, usage),
                lines,
                reason=BillingReason.SUBSCRIPTION_ADJUSTMENT,
                now=now,
            )
        return self._save(uow, sub, replace(new, update_time=now), transition)

    def _void_unpaid_first_invoice(
        self, uow: SubscriptionsUnitOfWork, sub: Subscription, *, now: datetime
    ) -> None:
        """A subscription canceled before it started owes nothing: its first invoice is voided."""
        invoice = uow.invoices.get(sub.tenant_id, sub.latest_invoice_id, for_update=True)
        untouched = invoice is not None and not (
            invoice.amount_paid_minor or invoice.credited_minor
        )
        if invoice is not None and invoice.status is InvoiceStatus.OPEN and untouched:
            self._invoicing.void(uow, invoice, now=now)

    def _net_against_open_invoice(
        self,
        uow: SubscriptionsUnitOfWork,
        sub: Subscription,
        lines: Sequence[InvoiceLine],
        *,
        now: datetime,
    ) -> bool:
        """Credit the unused time on the subscription's unpaid invoice; whether it was.

        A canceled subscription bills nothing more, so a credit balance would
        sit beside the unpaid receivable forever. When the latest invoice is
        still OPEN and can take the whole credit, a credit note for it (reason
        ORDER_CHANGE, the credit lines as its memo) reduces what is due instead
        - any part beyond the amount due goes to the customer's credit balance,
        as every credit note does. Otherwise the credit is invoiced as before.
        """
        owed = -sum(line.net_minor + line.tax_minor for line in lines)
        invoice = uow.invoices.get(sub.tenant_id, sub.latest_invoice_id, for_update=True)
        if owed <= 0 or invoice is None or invoice.status is not InvoiceStatus.OPEN:
            return False
        if invoice.amount_due_minor <= 0 or owed > invoice.creditable_minor:
            return False
        memo = "Canceled: " + "; ".join(line.charge.description for line in lines)
        self._invoicing.credit(
            uow,
            invoice,
            amount_minor=owed,
            currency_code=invoice.currency_code,
            reason=CreditNoteReason.ORDER_CHANGE,
            memo=memo[:500],
            now=now,
        )
        return True

    def reactivate(
        self, uow: SubscriptionsUnitOfWork, tenant_id: str, subscription_id: str
    ) -> Subscription:
        sub = self.get(uow, tenant_id, subscription_id, for_update=True)
        now = self._now(uow, sub)
        transition = subs.reactivate(sub, now)
        return self._save(uow, sub, replace(transition.subscription, update_time=now), transition)

    # -- helpers -------------------------------------------------------------------

    def _save(
        self,
        uow: SubscriptionsUnitOfWork,
        before: Subscription,
        after: Subscription,
        transition: Transition,
    ) -> Subscription:
        uow.subscriptions.update(after, expected_version=before.version)
        self._billing.record(uow, replace(transition, subscription=after))
        return after

    def _now(self, uow: SubscriptionsUnitOfWork, sub: Subscription) -> datetime:
        return self._invoicing.now_for(uow, self._customer(uow, sub.tenant_id, sub.customer_id))

    def _preview_credit(
        self, uow: SubscriptionsUnitOfWork, customer: Customer, draft: Invoice
    ) -> int:
        balance = self._invoicing.credit_balance(uow, customer)
        return min(max(balance, 0), max(draft.total_minor, 0))

    @staticmethod
    def _customer(uow: SubscriptionsUnitOfWork, tenant_id: str, customer_id: str) -> Customer:
        customer = uow.customers.get(tenant_id, customer_id)
        if customer is None:
            raise NotFound("customer", customer_id)
        return customer

    @staticmethod
    def _items(
        uow: SubscriptionsUnitOfWork,
        tenant_id: str,
        customer: Customer,
        requested: Sequence[ItemRequest],
        path: str,
    ) -> list[SubscriptionItem]:
        items = []
        for index, request in enumerate(requested):
            price = uow.prices.get(tenant_id, request.price_id)
            if price is None:
                raise NotFound("price", request.price_id)
            price.ensure_active()
            where = f"{path}[{index}].price_id"
            recurring = price.terms.recurring
            if recurring is None:
                raise ValidationFailed.on(where, "a subscription needs recurring prices")
            if recurring.usage_type is UsageType.METERED and not recurring.meter_id:
                raise ValidationFailed.on(
                    where, "a metered price needs a meter (recurring.meter_id) to be billed"
                )
            if price.terms.currency_code != customer.currency_code:
                raise CurrencyMismatch(
                    f"price {price.id!r} is in {price.terms.currency_code}; the customer is"
                    f" billed in {customer.currency_code}",
                    metadata={"left": customer.currency_code, "right": price.terms.currency_code},
                )
            product = uow.products.get(tenant_id, price.product_id)
            label = item_label(product.display_name if product else "", price.nickname)
            items.append(
                SubscriptionItem(price.id, price.terms, request.quantity or 1, label=label)
            )
        return items

    @staticmethod
    def _interval(items: Sequence[SubscriptionItem]) -> BillingInterval:
        intervals = {
            BillingInterval.from_recurring(item.terms.recurring)
            for item in items
            if item.terms.recurring is not None
        }
        if len(intervals) != 1:
            raise ValidationFailed.on("items", "every item must have the same billing interval")
        return intervals.pop()

    @staticmethod
    def _trial_end(new: NewSubscription, start: datetime) -> datetime | None:
        if new.trial_days and new.trial_end is not None:
            raise ValidationFailed.on("trial_end", "give either trial_days or trial_end, not both")
        if new.trial_days:
            return start + timedelta(days=new.trial_days)
        if new.trial_end is None:
            return None
        end = whole_second(new.trial_end, "trial_end")
        if end <= start:
            raise ValidationFailed.on("trial_end", "must be after the start")
        return end


def _why_nothing_renews(sub: Subscription) -> str:
    if sub.status is SubscriptionStatus.CANCELED:
        return "it is canceled, so nothing will renew"
    if sub.status is SubscriptionStatus.PAUSED:
        return "it is paused without a resume time, so nothing will renew until it is resumed"
    if sub.status is SubscriptionStatus.INCOMPLETE:
        return "its first invoice is not paid yet, so nothing renews until it is"
    return "nothing will renew"
