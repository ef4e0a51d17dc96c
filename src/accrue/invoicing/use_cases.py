"""Invoice and credit-note use cases, each owning its transaction.

A mutation runs in one unit of work through the platform's `MutationRunner`,
which stores the encoded response with the change, so a retry with the same
request_id is answered with the same bytes; reads run in a read-only unit of
work. The caller converts the returned value itself, outside the transaction.
`InvoiceService` holds the steps, each inside the unit of work it is given.
"""

from __future__ import annotations

from collections.abc import Sequence

from accrue.invoicing.model import CreditNote, CreditNoteReason, Invoice, InvoiceStatus
from accrue.invoicing.ports import InvoicingUnitOfWorkFactory, UpcomingInvoices
from accrue.invoicing.service import InvoiceService, LineRequest
from accrue.kernel.paging import Page, PageRequest
from accrue.platform.idempotency import MutationRunner, Outcome, Replay


class InvoicingUseCases:
    def __init__(
        self,
        uow_factory: InvoicingUnitOfWorkFactory,
        runner: MutationRunner,
        invoices: InvoiceService,
        upcoming: UpcomingInvoices,
    ) -> None:
        self._uow = uow_factory
        self._runner = runner
        self._invoices = invoices
        self._upcoming = upcoming

    def create_invoice(
        self,
        tenant_id: str,
        customer_id: str,
        lines: Sequence[LineRequest],
        replay: Replay[Invoice],
    ) -> Outcome[Invoice]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._invoices.create(uow, tenant_id, customer_id, lines),
            replay.encode,
        )

    def get_invoice(self, tenant_id: str, invoice_id: str) -> Invoice:
        with self._uow(write=False) as uow:
            return self._invoices.get(uow, tenant_id, invoice_id)

    def list_invoices(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        customer_id: str,
        subscription_id: str,
        status: InvoiceStatus | None,
    ) -> Page[Invoice]:
        with self._uow(write=False) as uow:
            return self._invoices.list_invoices(
                uow,
                tenant_id,
                page,
                customer_id=customer_id,
                subscription_id=subscription_id,
                status=status,
            )

    def finalize_invoice(
        self, tenant_id: str, invoice_id: str, replay: Replay[Invoice]
    ) -> Outcome[Invoice]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._invoices.finalize(uow, tenant_id, invoice_id),
            replay.encode,
        )

    def void_invoice(
        self, tenant_id: str, invoice_id: str, replay: Replay[Invoice]
    ) -> Outcome[Invoice]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._invoices.void(uow, tenant_id, invoice_id),
            replay.encode,
        )

    def mark_uncollectible(
        self, tenant_id: str, invoice_id: str, replay: Replay[Invoice]
    ) -> Outcome[Invoice]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._invoices.mark_uncollectible(uow, tenant_id, invoice_id),
            replay.encode,
        )

    def upcoming_invoice(self, tenant_id: str, subscription_id: str) -> Invoice:
        with self._uow(write=False) as uow:
            return self._upcoming.upcoming_invoice(uow, tenant_id, subscription_id)

    def create_credit_note(
        self,
        tenant_id: str,
        invoice_id: str,
        *,
        amount_minor: int,
        currency_code: str,
        reason: CreditNoteReason,
        memo: str,
        replay: Replay[CreditNote],
    ) -> Outcome[CreditNote]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._invoices.create_credit_note(
                uow,
                tenant_id,
                invoice_id,
                amount_minor=amount_minor,
                currency_code=currency_code,
                reason=reason,
                memo=memo,
            ),
            replay.encode,
        )

    def list_credit_notes(
        self, tenant_id: str, page: PageRequest, *, invoice_id: str, customer_id: str
    ) -> Page[CreditNote]:
        with self._uow(write=False) as uow:
            return self._invoices.list_credit_notes(
                uow, tenant_id, page, invoice_id=invoice_id, customer_id=customer_id
            )
