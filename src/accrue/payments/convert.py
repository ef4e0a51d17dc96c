"""Payments and refunds: domain <-> `accrue.billing.v1` payment messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.message import Message

from accrue.billing.v1 import payment_pb2 as pb
from accrue.catalog.convert import money_to_pb
from accrue.events.v1 import events_pb2
from accrue.payments.model import Payment, PaymentStatus, Refund, RefundStatus, StatusChange
from accrue.platform.transport.convert import timestamp

PAYMENT_STATUS_TO_PB = {
    PaymentStatus.PENDING: pb.PAYMENT_STATUS_PENDING,
    PaymentStatus.PROCESSING: pb.PAYMENT_STATUS_PROCESSING,
    PaymentStatus.SUCCEEDED: pb.PAYMENT_STATUS_SUCCEEDED,
    PaymentStatus.FAILED: pb.PAYMENT_STATUS_FAILED,
    PaymentStatus.UNKNOWN: pb.PAYMENT_STATUS_UNKNOWN,
}
PAYMENT_STATUS_FROM_PB = {v: k for k, v in PAYMENT_STATUS_TO_PB.items()}
REFUND_STATUS_TO_PB = {
    RefundStatus.PROCESSING: pb.REFUND_STATUS_PROCESSING,
    RefundStatus.SUCCEEDED: pb.REFUND_STATUS_SUCCEEDED,
    RefundStatus.FAILED: pb.REFUND_STATUS_FAILED,
    RefundStatus.UNKNOWN: pb.REFUND_STATUS_UNKNOWN,
}
# Refund statuses are told apart from payment ones by name in the history.
_HISTORY_STATUS = {status.value: PAYMENT_STATUS_TO_PB[status] for status in PaymentStatus}


def _transition(change: StatusChange) -> pb.PaymentTransition:
    return pb.PaymentTransition(
        from_status=_HISTORY_STATUS.get(change.from_status, pb.PAYMENT_STATUS_UNSPECIFIED),
        to_status=_HISTORY_STATUS[change.to_status],
        change_time=timestamp(change.time),
        cause=change.cause.value,
    )


def payment_to_pb(payment: Payment) -> pb.Payment:
    cur = payment.currency_code
    return pb.Payment(
        id=payment.id,
        customer_id=payment.customer_id,
        invoice_id=payment.invoice_id,
        amount=money_to_pb(payment.amount_minor, cur),
        status=PAYMENT_STATUS_TO_PB[payment.status],
        payment_method_id=payment.payment_method_id,
        psp=payment.psp,
        psp_idempotency_key=payment.psp_idempotency_key,
        psp_charge_id=payment.psp_charge_id,
        failure_code=payment.failure_code,
        amount_refunded=money_to_pb(payment.amount_refunded_minor, cur),
        fee=money_to_pb(payment.fee_minor, cur),
        psp_request_count=payment.psp_request_count,
        description=payment.description,
        metadata=payment.metadata,
        transitions=[_transition(change) for change in payment.transitions],
        ledger_transaction_id=payment.ledger_transaction_id,
        create_time=timestamp(payment.create_time),
        update_time=timestamp(payment.update_time),
    )


def refund_to_pb(refund: Refund) -> pb.Refund:
    return pb.Refund(
        id=refund.id,
        payment_id=refund.payment_id,
        customer_id=refund.customer_id,
        amount=money_to_pb(refund.amount_minor, refund.currency_code),
        status=REFUND_STATUS_TO_PB[refund.status],
        reason=refund.reason,
        psp_idempotency_key=refund.psp_idempotency_key,
        psp_refund_id=refund.psp_refund_id,
        failure_code=refund.failure_code,
        ledger_transaction_id=refund.ledger_transaction_id,
        create_time=timestamp(refund.create_time),
        update_time=timestamp(refund.update_time),
    )


# The event payloads of this area's subjects, gathered by `accrue.payloads`.
EVENT_PAYLOADS: tuple[tuple[type, Callable[[Any], Message]], ...] = (
    (Payment, lambda s: events_pb2.PaymentChanged(payment=payment_to_pb(s))),
    (Refund, lambda s: events_pb2.RefundChanged(refund=refund_to_pb(s))),
)
