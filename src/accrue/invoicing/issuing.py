"""Making, finalising and correcting invoices, with their ledger postings.

Everything an invoice does to the books happens in the caller's unit of
work: the number, the credit balance used, the posting and the events commit
together or not at all. The customer's credit lock is taken *before* its
credit balance is read, so two finalisations for one customer cannot both
spend the same credit; the tenant's invoice counter is taken after both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from accrue.customers.model import Customer
from accrue.event_log.ports import EventSink
from accrue.invoicing import model as inv
from accrue.invoicing.model import (
    BillingReason,
    CollectionMethod,
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineCharge,
)
from accrue.invoicing.ports import InvoicingUnitOfWork
from accrue.invoicing.postings import (
    credit_note_posting,
    customer_credit,
    finalization_posting,
    write_off_posting,
)
from accrue.invoicing.tax import TaxProvider, TaxRate, combined_rate
from accrue.kernel.calendar import Period
from accrue.kernel.clock import Clock, whole_second
from accrue.kernel.ids import IdGenerator
from accrue.kernel.records import evolve
from accrue.ledger.model import PostingRequest, reversal_of
from accrue.ledger.ports import Postings


class Invoicing:
    def __init__(
        self,
        clock: Clock,
        ids: IdGenerator,
        events: EventSink,
        ledger: Postings,
        tax: TaxProvider,
    ) -> None:
        self._clock = clock
        self._ids = ids
        self._events = events
        self._ledger = ledger
        self._tax = tax

    def now_for(self, uow: InvoicingUnitOfWork, customer: Customer) -> datetime:
        """The customer's "now": its test clock's frozen time, else the real time."""
        return self._now_on(uow, customer.tenant_id, customer.test_clock_id)

    def now_for_invoice(self, uow: InvoicingUnitOfWork, invoice: Invoice) -> datetime:
        """The same "now" as `now_for` its customer, without reading the customer:
        an invoice is on its customer's test clock, which never changes."""
        return self._now_on(uow, invoice.tenant_id, invoice.test_clock_id)

    def _now_on(self, uow: InvoicingUnitOfWork, tenant_id: str, clock_id: str) -> datetime:
        if clock_id:
            clock = uow.test_clocks.get(tenant_id, clock_id)
            if clock is not None:
                return clock.frozen_time
        return whole_second(self._clock.now(), "now")

    def tax_rate(self, customer: Customer) -> TaxRate | None:
        if customer.tax_location is None:
            return None
        return combined_rate(self._tax.rates_for(customer.tax_location))

    def lines(self, customer: Customer, charges: Sequence[LineCharge]) -> list[InvoiceLine]:
        """`charges` taxed at the customer's rate, each line rounded once."""
        rate = self.tax_rate(customer)
        return [inv.taxed(charge, rate, customer.currency_code) for charge in charges]

    def draft(
        self,
        customer: Customer,
        lines: Sequence[InvoiceLine],
        *,
        reason: BillingReason,
        subscription_id: str = "",
        period: Period | None = None,
        now: datetime,
        preview: bool = False,
        collection_method: CollectionMethod = CollectionMethod.SEND_INVOICE,
    ) -> Invoice:
        """An unsaved DRAFT; a preview has no identifier."""
        draft = inv.new_invoice(
            id="" if preview else self._ids.new("in"),
            tenant_id=customer.tenant_id,
            customer_id=customer.id,
            subscription_id=subscription_id,
            currency_code=customer.currency_code,
            reason=reason,
            lines=lines,
            period_start=period.start if period else None,
            period_end=period.end if period else None,
            test_clock_id=customer.test_clock_id,
            now=now,
        )
        return evolve(draft, collection_method=collection_method)

    def issue(self, uow: InvoicingUnitOfWork, draft: Invoice, *, now: datetime) -> Invoice:
        """Store `draft` already finalised (subscription invoices skip the draft stage)."""
        done = self._finalized(uow, draft, now)
        uow.invoices.add(done)
        self._record(uow, "created", done)
        self._record_finalized(uow, done)
        return done

    def issue_many(
        self, uow: InvoicingUnitOfWork, drafts: Sequence[tuple[Invoice, datetime]]
    ) -> list[Invoice]:
        """`issue` of many (draft, now) pairs at once, in their order; the issued invoices.

        Per tenant (in tenant order, as every path locks): the customers' credit locks
        in one statement and their balances in one query, carried forward in memory
        from invoice to invoice, one `post_many`, then one block of numbers from the
        counter (taken last, as `_finalized` does), and one multi-row insert of the
        invoices and of their lines. Each invoice is finalised
        by the same domain functions as `issue`, so the results are the same as issuing
        the drafts one by one in this order.
        """
        by_tenant: dict[str, list[int]] = {}
        for index, (draft, _now) in enumerate(drafts):
            by_tenant.setdefault(draft.tenant_id, []).append(index)
        issued: list[Invoice | None] = [None] * len(drafts)
        for tenant_id in sorted(by_tenant):
            indexes = by_tenant[tenant_id]
            # Spending credit: serialised with the other spenders, in a fixed order,
            # before the invoice counter (as `_finalized` does).
            uow.ledger.lock_customer_credits(
                tenant_id,
                [(d.customer_id, d.currency_code) for d, _ in (drafts[i] for i in indexes)],
            )
            credit_ids = {
                customer_credit(d.currency_code, d.customer_id).id
                for d, _ in (drafts[i] for i in indexes)
            }
            nets = uow.ledger.nets(tenant_id, sorted(credit_ids))
            finalized: list[Invoice] = []
            requests: list[PostingRequest | None] = []
            for index in indexes:
                draft, now = drafts[index]
                credit_id = customer_credit(draft.currency_code, draft.customer_id).id
                done = inv.finalize(
                    draft,
                    credit_balance_minor=-nets.get(credit_id, 0),
                    now=now,
                )
                request = finalization_posting(done)
                if request is not None:
                    for entry in request.entries:
                        if entry.account.id in credit_ids:
                            nets[entry.account.id] = (
                                nets.get(entry.account.id, 0) + entry.signed_minor
                            )
                finalized.append(done)
                requests.append(request)
            posted = iter(
                self._ledger.post_many(uow, tenant_id, [r for r in requests if r is not None])
            )
            # The counter last, one block for the batch (see `_finalized`).
            first = uow.invoices.next_numbers(tenant_id, "invoice", len(indexes))
            tenant_issued: list[Invoice] = []
            for offset, (index, done, request) in enumerate(
                zip(indexes, finalized, requests, strict=True)
            ):
                tx_id = "" if request is None else next(posted).id
                final = inv.schedule_collection(
                    evolve(inv.numbered(done, first + offset), ledger_transaction_id=tx_id)
                )
                issued[index] = final
                tenant_issued.append(final)
            uow.invoices.add_many(tenant_issued)
            for final in tenant_issued:
                self._record(uow, "created", final)
                self._record_finalized(uow, final)
        return [invoice for invoice in issued if invoice is not None]

    def add_draft(self, uow: InvoicingUnitOfWork, draft: Invoice) -> Invoice:
        uow.invoices.add(draft)
        self._record(uow, "created", draft)
        return draft

    def finalize(self, uow: InvoicingUnitOfWork, invoice: Invoice, *, now: datetime) -> Invoice:
        done = self._finalized(uow, invoice, now)
        uow.invoices.update(done)
        self._record_finalized(uow, done)
        return done

    def void(self, uow: InvoicingUnitOfWork, invoice: Invoice, *, now: datetime) -> Invoice:
        """The finalisation is reversed, giving back any credit balance it used."""
        voided = inv.void(invoice, now)
        if invoice.ledger_transaction_id:
            original = uow.ledger.get_transaction(invoice.tenant_id, invoice.ledger_transaction_id)
            assert original is not None, "a finalised invoice's posting exists"
            reversal = reversal_of(original, reason=f"invoice {invoice.number} voided")
            self._ledger.post(uow, invoice.tenant_id, reversal)
        uow.invoices.update(voided)
        self._record(uow, "voided", voided)
        return voided

    def write_off(self, uow: InvoicingUnitOfWork, invoice: Invoice, *, now: datetime) -> Invoice:
        written_off = inv.mark_uncollectible(invoice, now)
        self._post(uow, invoice.tenant_id, write_off_posting(invoice))
        uow.invoices.update(written_off)
        self._record(uow, "marked_uncollectible", written_off)
        return written_off

    def credit(
        self,
        uow: InvoicingUnitOfWork,
        invoice: Invoice,
        *,
        amount_minor: int,
        currency_code: str,
        reason: inv.CreditNoteReason,
        memo: str,
        now: datetime,
    ) -> CreditNote:
        number = uow.invoices.next_number(invoice.tenant_id, "credit_note")
        credited, note = inv.credit(
            invoice,
            id=self._ids.new("cn"),
            number=number,
            amount_minor=amount_minor,
            currency_code=currency_code,
            reason=reason,
            memo=memo,
            now=now,
        )
        tx_id = self._post(uow, invoice.tenant_id, credit_note_posting(invoice, note))
        note = replace(note, ledger_transaction_id=tx_id)
        uow.invoices.add_credit_note(note)
        uow.invoices.update(credited)
        self._events.record(
            uow,
            invoice.tenant_id,
            type="credit_note.created",
            resource_id=note.id,
            subject=note,
        )
        self._record(uow, "credited", credited)
        if credited.status is InvoiceStatus.PAID and invoice.status is not InvoiceStatus.PAID:
            self._record(uow, "paid", credited)
        return note

    def credit_balance(self, uow: InvoicingUnitOfWork, customer: Customer) -> int:
        return _credit_balance(uow, customer.tenant_id, customer.currency_code, customer.id)

    def _finalized(self, uow: InvoicingUnitOfWork, invoice: Invoice, now: datetime) -> Invoice:
        tenant_id = invoice.tenant_id
        # Spending credit: serialised with the other spenders (prepayment refunds).
        uow.ledger.lock_customer_credit(tenant_id, invoice.customer_id, invoice.currency_code)
        balance = _credit_balance(uow, tenant_id, invoice.currency_code, invoice.customer_id)
        unnumbered = inv.finalize(invoice, credit_balance_minor=balance, now=now)
        tx_id = self._post(uow, tenant_id, finalization_posting(unnumbered))
        # The tenant's gapless counter comes last: every finaliser of the tenant
        # queues on it until COMMIT, so it is taken only once the posting is
        # written and is held for the invoice update, the events and the commit.
        # Lock order is customer credit, then counter, on every path (no deadlock).
        number = uow.invoices.next_number(tenant_id, "invoice")
        done = inv.numbered(unnumbered, number)
        return inv.schedule_collection(replace(done, ledger_transaction_id=tx_id))

    def _post(
        self, uow: InvoicingUnitOfWork, tenant_id: str, request: PostingRequest | None
    ) -> str:
        if request is None:
            return ""
        return self._ledger.post(uow, tenant_id, request).id

    def _record_finalized(self, uow: InvoicingUnitOfWork, invoice: Invoice) -> None:
        self._record(uow, "finalized", invoice)
        if invoice.status is InvoiceStatus.PAID:
            self._record(uow, "paid", invoice)

    def _record(self, uow: InvoicingUnitOfWork, change: str, invoice: Invoice) -> None:
        self._events.record(
            uow,
            invoice.tenant_id,
            type=f"invoice.{change}",
            resource_id=invoice.id,
            subject=invoice,
        )


def _credit_balance(
    uow: InvoicingUnitOfWork, tenant_id: str, currency_code: str, customer_id: str
) -> int:
    """What Accrue owes the customer in a currency (a liability: credits minus debits)."""
    stored = uow.ledger.get_account(tenant_id, customer_credit(currency_code, customer_id).id)
    return 0 if stored is None else -stored.net_minor
