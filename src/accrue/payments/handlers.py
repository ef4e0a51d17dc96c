"""PaymentService handlers: convert the request, call one use case, convert back.

`PaymentService` owns every transaction. CreatePayment and RefundPayment store
no replayed response: the payment must be committed before the PSP is called,
so the payment row itself is the idempotency record (see payments/service.py).
"""

from __future__ import annotations

from accrue.billing.v1 import payment_pb2 as pb
from accrue.kernel.paging import PageRequest
from accrue.payments.convert import PAYMENT_STATUS_FROM_PB, payment_to_pb, refund_to_pb
from accrue.payments.service import PaymentRequest, PaymentService, RefundRequest
from accrue.platform.transport.call import CallContext
from accrue.platform.transport.handler_support import request_fingerprint


class PaymentHandler:
    def __init__(self, payments: PaymentService) -> None:
        self._payments = payments

    def create_payment(self, request: pb.CreatePaymentRequest, call: CallContext) -> pb.Payment:
        has_amount = request.HasField("amount")
        payment = self._payments.create(
            call.tenant_id,
            PaymentRequest(
                customer_id=request.customer_id,
                invoice_id=request.invoice_id,
                amount_minor=request.amount.amount_minor if has_amount else None,
                currency_code=request.amount.currency_code,
                payment_method_id=request.payment_method_id,
                description=request.description,
                metadata=dict(request.metadata),
                request_id=request.request_id,
                fingerprint=request_fingerprint(request),
            ),
        )
        return payment_to_pb(payment)

    def get_payment(self, request: pb.GetPaymentRequest, call: CallContext) -> pb.Payment:
        return payment_to_pb(self._payments.get(call.tenant_id, request.id))

    def list_payments(
        self, request: pb.ListPaymentsRequest, call: CallContext
    ) -> pb.ListPaymentsResponse:
        page = PageRequest.parse(
            page_size=request.page_size,
            page_token=request.page_token,
            query={
                "customer_id": request.customer_id,
                "invoice_id": request.invoice_id,
                "status": request.status,
            },
        )
        result = self._payments.list_payments(
            call.tenant_id,
            page,
            customer_id=request.customer_id,
            invoice_id=request.invoice_id,
            status=PAYMENT_STATUS_FROM_PB.get(request.status),
        )
        return pb.ListPaymentsResponse(
            payments=[payment_to_pb(p) for p in result.items],
            next_page_token=result.next_page_token,
        )

    def refund_payment(self, request: pb.RefundPaymentRequest, call: CallContext) -> pb.Refund:
        has_amount = request.HasField("amount")
        refund = self._payments.refund(
            call.tenant_id,
            RefundRequest(
                payment_id=request.payment_id,
                amount_minor=request.amount.amount_minor if has_amount else None,
                currency_code=request.amount.currency_code,
                reason=request.reason,
                request_id=request.request_id,
                fingerprint=request_fingerprint(request),
            ),
        )
        return refund_to_pb(refund)

    def list_refunds(
        self, request: pb.ListRefundsRequest, call: CallContext
    ) -> pb.ListRefundsResponse:
        page = PageRequest.parse(
            page_size=request.page_size,
            page_token=request.page_token,
            query={"payment_id": request.payment_id},
        )
        result = self._payments.list_refunds(call.tenant_id, page, payment_id=request.payment_id)
        return pb.ListRefundsResponse(
            refunds=[refund_to_pb(r) for r in result.items],
            next_page_token=result.next_page_token,
        )
