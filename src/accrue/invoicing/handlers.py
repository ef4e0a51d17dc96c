"""InvoiceService handlers: convert the request, call one use case, convert back.

The use cases own their transactions; nothing here runs inside one. Documents
and links come from `DocumentService`, which owns its own.
"""

from __future__ import annotations

from accrue.billing.v1 import invoice_pb2 as pb
from accrue.invoicing.convert import (
    CREDIT_REASON_FROM_PB,
    INVOICE_STATUS_FROM_PB,
    credit_note_to_pb,
    invoice_to_pb,
)
from accrue.invoicing.documents.service import DocumentService
from accrue.invoicing.service import LineRequest
from accrue.invoicing.use_cases import InvoicingUseCases
from accrue.kernel.paging import PageRequest
from accrue.platform.transport.call import CallContext
from accrue.platform.transport.convert import timestamp
from accrue.platform.transport.handler_support import HandlerSupport


class InvoiceHandler:
    def __init__(
        self,
        support: HandlerSupport,
        invoicing: InvoicingUseCases,
        documents: DocumentService | None = None,
    ) -> None:
        self._support = support
        self._invoicing = invoicing
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
        replay = self._support.replay(call, request, invoice_to_pb)
        outcome = self._invoicing.create_invoice(call.tenant_id, request.customer_id, lines, replay)
        return self._support.answer(outcome, pb.Invoice, invoice_to_pb)

    def get_invoice(self, request: pb.GetInvoiceRequest, call: CallContext) -> pb.Invoice:
        return invoice_to_pb(self._invoicing.get_invoice(call.tenant_id, request.id))

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
        result = self._invoicing.list_invoices(
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

    def finalize_invoice(self, request: pb.FinalizeInvoiceRequest, call: CallContext) -> pb.Invoice:
        replay = self._support.replay(call, request, invoice_to_pb)
        outcome = self._invoicing.finalize_invoice(call.tenant_id, request.id, replay)
        return self._support.answer(outcome, pb.Invoice, invoice_to_pb)

    def void_invoice(self, request: pb.VoidInvoiceRequest, call: CallContext) -> pb.Invoice:
        replay = self._support.replay(call, request, invoice_to_pb)
        outcome = self._invoicing.void_invoice(call.tenant_id, request.id, replay)
        return self._support.answer(outcome, pb.Invoice, invoice_to_pb)

    def mark_invoice_uncollectible(
        self, request: pb.MarkInvoiceUncollectibleRequest, call: CallContext
    ) -> pb.Invoice:
        replay = self._support.replay(call, request, invoice_to_pb)
        outcome = self._invoicing.mark_uncollectible(call.tenant_id, request.id, replay)
        return self._support.answer(outcome, pb.Invoice, invoice_to_pb)

    def get_upcoming_invoice(
        self, request: pb.GetUpcomingInvoiceRequest, call: CallContext
    ) -> pb.Invoice:
        return invoice_to_pb(
            self._invoicing.upcoming_invoice(call.tenant_id, request.subscription_id)
        )

    def create_credit_note(
        self, request: pb.CreateCreditNoteRequest, call: CallContext
    ) -> pb.CreditNote:
        replay = self._support.replay(call, request, credit_note_to_pb)
        outcome = self._invoicing.create_credit_note(
            call.tenant_id,
            request.invoice_id,
            amount_minor=request.amount.amount_minor,
            currency_code=request.amount.currency_code,
            reason=CREDIT_REASON_FROM_PB[request.reason],
            memo=request.memo,
            replay=replay,
        )
        return self._support.answer(outcome, pb.CreditNote, credit_note_to_pb)

    def list_credit_notes(
        self, request: pb.ListCreditNotesRequest, call: CallContext
    ) -> pb.ListCreditNotesResponse:
        page = PageRequest.parse(
            page_size=request.page_size,
            page_token=request.page_token,
            query={"invoice_id": request.invoice_id, "customer_id": request.customer_id},
        )
        result = self._invoicing.list_credit_notes(
            call.tenant_id, page, invoice_id=request.invoice_id, customer_id=request.customer_id
        )
        return pb.ListCreditNotesResponse(
            credit_notes=[credit_note_to_pb(n) for n in result.items],
            next_page_token=result.next_page_token,
        )

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
