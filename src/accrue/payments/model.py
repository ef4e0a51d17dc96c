"""Payments and refunds: their state machines and the rules that keep money whole.

A payment is committed as PROCESSING *before* the PSP is called, with the
PSP idempotency key derived from its own id. Whatever happens next - an
answer, a lost answer, a crash - the payment can only move to an outcome
the PSP itself reported (`settle`), to UNKNOWN (ask again later), or to
FAILED when the request certainly never reached the PSP. There is no
transition that guesses.

Refunds reserve their amount on the payment when they are created, so the
refundable amount counts refunds still in flight and concurrent refunds can
never add up to more than was captured.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime

from accrue.kernel.errors import InvalidState, PreconditionViolation, RefundExceedsRefundable


class PaymentStatus(enum.Enum):
    PENDING = "pending"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"

    @property
    def final(self) -> bool:
        return self in (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED)


class RefundStatus(enum.Enum):
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"

    @property
    def final(self) -> bool:
        return self in (RefundStatus.SUCCEEDED, RefundStatus.FAILED)


class Cause(enum.Enum):
    """What moved a payment or refund; kept with every transition."""

    CREATED = "created"
    SENDING = "sending"
    PSP_RESPONSE = "psp_response"
    PSP_INQUIRY = "psp_inquiry"
    PSP_WEBHOOK = "psp_webhook"
    PSP_UNREACHABLE = "psp_unreachable"
    PSP_NO_ANSWER = "psp_no_answer"


# Payment transitions; anything else is a bug, not a business rule.
_PAYMENT_MOVES: dict[PaymentStatus | None, frozenset[PaymentStatus]] = {
    None: frozenset({PaymentStatus.PENDING}),
    PaymentStatus.PENDING: frozenset({PaymentStatus.PROCESSING, PaymentStatus.FAILED}),
    PaymentStatus.PROCESSING: frozenset(
        {PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.UNKNOWN}
    ),
    PaymentStatus.UNKNOWN: frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.FAILED}),
    PaymentStatus.SUCCEEDED: frozenset(),
    PaymentStatus.FAILED: frozenset(),
}

# Failure codes Accrue sets itself (declines carry the PSP's own code).
PSP_UNAVAILABLE = "psp_unavailable"


@dataclass(frozen=True, slots=True)
class StatusChange:
    from_status: str  # "" for the first entry
    to_status: str
    time: datetime
    cause: Cause


@dataclass(frozen=True, slots=True)
class PspResult:
    """The PSP's word on one charge or refund, whichever way it reached us."""

    psp_id: str
    succeeded: bool
    failure_code: str
    fee_minor: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Payment:
    id: str
    tenant_id: str
    customer_id: str
    invoice_id: str
    amount_minor: int
    currency_code: str
    status: PaymentStatus
    payment_method_id: str
    psp: str
    request_id: str
    request_fingerprint: str
    create_time: datetime
    update_time: datetime
    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    psp_charge_id: str = ""
    failure_code: str = ""
    fee_minor: int = 0
    amount_refunded_minor: int = 0
    refund_reserved_minor: int = 0
    psp_request_count: int = 0
    ledger_transaction_id: str = ""
    # When the resolver should next ask the PSP; None once final.
    next_inquiry_time: datetime | None = None
    # 0 for a payment someone asked for; n for the invoice's n-th automatic
    # collection attempt, whose failure drives dunning.
    collection_attempt: int = 0
    transitions: tuple[StatusChange, ...] = ()
    version: int = 1

    @property
    def psp_idempotency_key(self) -> str:
        return psp_key(self.id)

    @property
    def refundable_minor(self) -> int:
        """Captured, less what is refunded or being refunded."""
        if self.status is not PaymentStatus.SUCCEEDED:
            return 0
        return self.amount_minor - self.amount_refunded_minor - self.refund_reserved_minor


@dataclass(frozen=True, slots=True, kw_only=True)
class Refund:
    id: str
    tenant_id: str
    payment_id: str
    customer_id: str
    amount_minor: int
    currency_code: str
    status: RefundStatus
    reason: str
    request_id: str
    request_fingerprint: str
    create_time: datetime
    update_time: datetime
    psp_refund_id: str = ""
    failure_code: str = ""
    ledger_transaction_id: str = ""
    next_inquiry_time: datetime | None = None
    transitions: tuple[StatusChange, ...] = ()
    version: int = 1

    @property
    def psp_idempotency_key(self) -> str:
        return psp_key(self.id)


def psp_key(resource_id: str) -> str:
    """The PSP idempotency key of a payment or refund: fixed by its id alone,
    so every resend of it, from any process, is the same request."""
    return f"accrue_{resource_id}"


def new_payment(
    *,
    id: str,
    tenant_id: str,
    customer_id: str,
    invoice_id: str,
    amount_minor: int,
    currency_code: str,
    payment_method_id: str,
    psp: str,
    request_id: str,
    request_fingerprint: str,
    description: str,
    metadata: dict[str, str],
    now: datetime,
    inquire_at: datetime,
    collection_attempt: int = 0,
) -> Payment:
    """A payment ready to send: PENDING and PROCESSING recorded in one go.

    It is committed before the PSP call, so a crash after this point leaves
    a PROCESSING payment the resolver will ask the PSP about at `inquire_at`.
    """
    if amount_minor <= 0:
        raise ValueError("a payment's amount is positive")
    payment = Payment(
        id=id,
        tenant_id=tenant_id,
        customer_id=customer_id,
        invoice_id=invoice_id,
        amount_minor=amount_minor,
        currency_code=currency_code,
        status=PaymentStatus.PENDING,
        payment_method_id=payment_method_id,
        psp=psp,
        request_id=request_id,
        request_fingerprint=request_fingerprint,
        description=description,
        metadata=dict(metadata),
        create_time=now,
        update_time=now,
        collection_attempt=collection_attempt,
        transitions=(StatusChange("", PaymentStatus.PENDING.value, now, Cause.CREATED),),
    )
    return replace(
        _move(payment, PaymentStatus.PROCESSING, Cause.SENDING, now),
        next_inquiry_time=inquire_at,
        version=1,
    )


def sent(payment: Payment, *, requests: int = 1) -> Payment:
    """Count requests made to the PSP (resends of the same key included)."""
    return replace(payment, psp_request_count=payment.psp_request_count + requests)


def settle(payment: Payment, result: PspResult, cause: Cause, now: datetime) -> Payment:
    """The PSP's outcome, applied once: a final payment ignores later news."""
    if payment.status.final:
        return payment
    status = PaymentStatus.SUCCEEDED if result.succeeded else PaymentStatus.FAILED
    moved = _move(payment, status, cause, now)
    return replace(
        moved,
        psp_charge_id=result.psp_id,
        failure_code="" if result.succeeded else result.failure_code,
        fee_minor=result.fee_minor if result.succeeded else 0,
        next_inquiry_time=None,
    )


def unknown(payment: Payment, now: datetime, *, inquire_at: datetime) -> Payment:
    """No answer from the PSP: ask it again at `inquire_at`."""
    if payment.status.final:
        return payment
    moved = payment
    if payment.status is not PaymentStatus.UNKNOWN:
        moved = _move(payment, PaymentStatus.UNKNOWN, Cause.PSP_NO_ANSWER, now)
    return replace(moved, next_inquiry_time=inquire_at, update_time=now)


def unreachable(payment: Payment, now: datetime) -> Payment:
    """Every request was refused before reaching the PSP: nothing was charged."""
    if payment.status.final:
        return payment
    if payment.status is PaymentStatus.UNKNOWN:
        # An earlier request may have arrived; only the PSP can say.
        return payment
    moved = _move(payment, PaymentStatus.FAILED, Cause.PSP_UNREACHABLE, now)
    return replace(moved, failure_code=PSP_UNAVAILABLE, next_inquiry_time=None)


def reserve_refund(payment: Payment, amount_minor: int, now: datetime) -> Payment:
    if payment.status is not PaymentStatus.SUCCEEDED:
        status = payment.status.name
        raise InvalidState(
            f"payment {payment.id!r} is {status}; only SUCCEEDED payments can be refunded",
            metadata={"status": status},
            precondition_violations=[
                PreconditionViolation("STATE", f"payments/{payment.id}", f"status {status}")
            ],
        )
    left = payment.refundable_minor
    if amount_minor > left or left == 0:
        raise RefundExceedsRefundable(
            f"refund of {amount_minor} exceeds the {left} left to refund on {payment.id!r}",
            metadata={"refundable_minor": str(left), "requested_minor": str(amount_minor)},
            precondition_violations=[
                PreconditionViolation(
                    "REFUNDABLE", f"payments/{payment.id}", f"{left} minor units left to refund"
                )
            ],
        )
    return replace(
        payment,
        refund_reserved_minor=payment.refund_reserved_minor + amount_minor,
        update_time=now,
        version=payment.version + 1,
    )


def refund_settled(payment: Payment, refund: Refund, now: datetime) -> Payment:
    """Release a refund's reservation; a successful one becomes refunded."""
    refunded = refund.amount_minor if refund.status is RefundStatus.SUCCEEDED else 0
    return replace(
        payment,
        refund_reserved_minor=payment.refund_reserved_minor - refund.amount_minor,
        amount_refunded_minor=payment.amount_refunded_minor + refunded,
        update_time=now,
        version=payment.version + 1,
    )


def new_refund(
    payment: Payment,
    *,
    id: str,
    amount_minor: int,
    reason: str,
    request_id: str,
    request_fingerprint: str,
    now: datetime,
    inquire_at: datetime,
) -> Refund:
    return Refund(
        id=id,
        tenant_id=payment.tenant_id,
        payment_id=payment.id,
        customer_id=payment.customer_id,
        amount_minor=amount_minor,
        currency_code=payment.currency_code,
        status=RefundStatus.PROCESSING,
        reason=reason,
        request_id=request_id,
        request_fingerprint=request_fingerprint,
        create_time=now,
        update_time=now,
        next_inquiry_time=inquire_at,
        transitions=(StatusChange("", RefundStatus.PROCESSING.value, now, Cause.CREATED),),
    )


def settle_refund(refund: Refund, result: PspResult, cause: Cause, now: datetime) -> Refund:
    if refund.status.final:
        return refund
    status = RefundStatus.SUCCEEDED if result.succeeded else RefundStatus.FAILED
    return replace(
        _move_refund(refund, status, cause, now),
        psp_refund_id=result.psp_id,
        failure_code="" if result.succeeded else result.failure_code,
        next_inquiry_time=None,
    )


def refund_unknown(refund: Refund, now: datetime, *, inquire_at: datetime) -> Refund:
    if refund.status.final:
        return refund
    moved = refund
    if refund.status is not RefundStatus.UNKNOWN:
        moved = _move_refund(refund, RefundStatus.UNKNOWN, Cause.PSP_NO_ANSWER, now)
    return replace(moved, next_inquiry_time=inquire_at, update_time=now)


def refund_unreachable(refund: Refund, now: datetime) -> Refund:
    if refund.status is not RefundStatus.PROCESSING:
        return refund
    return replace(
        _move_refund(refund, RefundStatus.FAILED, Cause.PSP_UNREACHABLE, now),
        failure_code=PSP_UNAVAILABLE,
        next_inquiry_time=None,
    )


def _move(payment: Payment, to: PaymentStatus, cause: Cause, now: datetime) -> Payment:
    if to not in _PAYMENT_MOVES[payment.status]:
        raise AssertionError(f"payment cannot move {payment.status.name} -> {to.name}")
    change = StatusChange(payment.status.value, to.value, now, cause)
    return replace(
        payment,
        status=to,
        transitions=(*payment.transitions, change),
        update_time=now,
        version=payment.version + 1,
    )


def _move_refund(refund: Refund, to: RefundStatus, cause: Cause, now: datetime) -> Refund:
    change = StatusChange(refund.status.value, to.value, now, cause)
    return replace(
        refund,
        status=to,
        transitions=(*refund.transitions, change),
        update_time=now,
        version=refund.version + 1,
    )
