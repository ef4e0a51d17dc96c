"""InvoiceService handlers."""

from __future__ import annotations

from accrue.billing.v1 import invoice_pb2 as pb
from accrue.invoicing.convert import (
    CREDIT_REASON_FROM_PB,
    INVOICE_STATUS_FROM_PB,
    credit_note_to_pb,
    invoice_to_pb,
)
from accrue.invoicing.documents.service import DocumentService
from accrue.invoicing.ports import UpcomingInvoices
from accrue.invoicing.service import InvoiceService, LineRequest
from accrue.kernel.paging import PageRequest
from accrue.platform.transport.call import CallContext
from accrue.platform.transport.convert import timestamp
from accrue.platform.transport.handler_support import HandlerSupport
from accrue.ports import UnitOfWork


class InvoiceHandler:
    def __init__(
        self,
        support: HandlerSupport,
        invoices: InvoiceService,
        subscriptions: UpcomingInvoices,
        documents: DocumentService | None = None,
    ) -> None:
        self._support = support
        self._invoices = invoices
        self._subs = subscriptions
        self._documents = documents

    def create_invoice(self, request: pb.CreateInvoiceRequest, call: CallContext) -> pb.Invoice:
        lines = [
            LineRequest(
                price_id=line.price_id,
                quantity=line.quantity,
                unit_amount_minor=(
                    line.unit_amount.amount_minor if line.HasField("unit_amount") else None
                ),
                currency_code=line.unit_amount.currency_code,
                description=line.description,
            )
            for line in request.lines
        ]
        return self._support.mutate(
            call,
            request,
            pb.Invoice,
            lambda uow: invoice_to_pb(
                self._invoices.create(uow, call.tenant_id, request.customer_id, lines)
            ),
        )

    def get_invoice(self, request: pb.GetInvoiceRequest, call: CallContext) -> pb.Invoice:
        return self._support.read(
            lambda uow: invoice_to_pb(self._invoices.get(uow, call.tenant_id, request.id))
        )

    def list_invoices(
        self, request: pb.ListInvoicesRequest, call: CallContext
    ) -> pb.ListInvoicesResponse:
        status = INVOICE_STATUS_FROM_PB.get(request.status)
        page = PageRequest.parse(
            page_size=request.page_size,
            page_token=request.page_token,
            query={
                "customer_id": request.customer_id,
                "subscription_id": request.subscription_id,
                "status": request.status,
            },
        )

        def work(uow: UnitOfWork) -> pb.ListInvoicesResponse:
            result = self._invoices.list_invoices(
                uow,
                call.tenant_id,
                page,
                customer_id=request.customer_id,
                subscription_id=request.subscription_id,
                status=status,
            )
            return pb.ListInvoicesResponse(
                invoices=[invoice_to_pb(i) for i in result.items],
                next_page_token=result.next_page_token,
            )

        return self._support.read(work)

    def finalize_invoice(self, request: pb.FinalizeInvoiceRequest, call: CallContext) -> pb.Invoice:
        return self._support.mutate(
            call,
            request,
            pb.Invoice,
            lambda uow: invoice_to_pb(self._invoices.finalize(uow, call.tenant_id, request.id)),
        )

    def void_invoice(self, request: pb.VoidInvoiceRequest, call: CallContext) -> pb.Invoice:
        return self._support.mutate(
            call,
            request,
            pb.Invoice,
            lambda uow: invoice_to_pb(self._invoices.void(uow, call.tenant_id, request.id)),
        )

    def mark_invoice_uncollectible(
        self, request: pb.MarkInvoiceUncollectibleRequest, call: CallContext
    ) -> pb.Invoice:
        return self._support.mutate(
            call,
            request,
            pb.Invoice,
            lambda uow: invoice_to_pb(
                self._invoices.mark_uncollectible(uow, call.tenant_id, request.id)
            ),
        )

    def get_upcoming_invoice(
        self, request: pb.GetUpcomingInvoiceRequest, call: CallContext
    ) -> pb.Invoice:
        return self._support.read(
            lambda uow: invoice_to_pb(
                self._subs.upcoming_invoice(uow, call.tenant_id, request.subscription_id)
            )
        )

    def create_credit_note(
        self, request: pb.CreateCreditNoteRequest, call: CallContext
    ) -> pb.CreditNote:
        return self._support.mutate(
            call,
            request,
            pb.CreditNote,
            lambda uow: credit_note_to_pb(
                self._invoices.create_credit_note(
                    uow,
                    call.tenant_id,
                    request.invoice_id,
                    amount_minor=request.amount.amount_minor,
                    currency_code=request.amount.currency_code,
                    reason=CREDIT_REASON_FROM_PB[request.reason],
                    memo=request.memo,
                )
            ),
        )

    def list_credit_notes(
        self, request: pb.ListCreditNotesRequest, call: CallContext
    ) -> pb.ListCreditNotesResponse:
        page = PageRequest.parse(
            page_size=request.page_size,
            page_token=request.page_token,
            query={"invoice_id": request.invoice_id, "customer_id": request.customer_id},
        )

        def work(uow: UnitOfWork) -> pb.ListCreditNotesResponse:
            result = self._invoices.list_credit_notes(
                uow,
                call.tenant_id,
                page,
                invoice_id=request.invoice_id,
                customer_id=request.customer_id,
            )
            return pb.ListCreditNotesResponse(
                credit_notes=[credit_note_to_pb(n) for n in result.items],
                next_page_token=result.next_page_token,
            )

        return self._support.read(work)

    def get_invoice_document(
        self, request: pb.GetInvoiceDocumentRequest, call: CallContext
    ) -> pb.InvoiceDocument:
        assert self._documents is not None, "documents are wired in bootstrap"
        which = request.WhichOneof("document")
        document = self._documents.document(
            call.tenant_id,
            invoice_id=request.invoice_id if which == "invoice_id" else "",
            credit_note_id=request.credit_note_id if which == "credit_note_id" else "",
        )
        return pb.InvoiceDocument(
            content=document.content,
            content_type=document.content_type,
            sha256=document.sha256,
            file_name=document.file_name,
            version=document.version,
        )

    def create_invoice_link(
        self, request: pb.CreateInvoiceLinkRequest, call: CallContext
    ) -> pb.InvoiceLink:
        assert self._documents is not None, "documents are wired in bootstrap"
        link = self._documents.create_link(
            call.tenant_id, request.invoice_id, ttl_seconds=request.ttl_seconds
        )
        return pb.InvoiceLink(url=link.url, path=link.path, expire_time=timestamp(link.expire_time))
