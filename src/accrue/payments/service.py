"""Payment and refund use cases behind PaymentService, each owning its transactions.

Reads run in a read-only unit of work. Mutations do not run inside one unit of
work like other mutations: the record
must be committed before the PSP is called (see payment_engine). Their
idempotency is the record itself - a unique (tenant, request_id) on the
payment or refund - so a retried request finds the record and returns it as
it stands, instead of replaying stored bytes of a response that may have
been "processing".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from accrue.customers.model import Customer, PaymentMethod
from accrue.invoicing.model import InvoiceStatus
from accrue.kernel.errors import (
    CurrencyMismatch,
    IdempotencyKeyReused,
    IdempotencyRequestInFlight,
    InvalidState,
    NotFound,
    PreconditionViolation,
    RefundExceedsRefundable,
    ValidationFailed,
)
from accrue.kernel.money import check_amount
from accrue.kernel.paging import Page, PageRequest, paginate
from accrue.payments.engine import PaymentEngine
from accrue.payments.model import Payment, PaymentStatus, Refund
from accrue.payments.ports import PaymentUnitOfWork, PaymentUnitOfWorkFactory
from accrue.platform.idempotency import IN_FLIGHT_RETRY_SECONDS

R = TypeVar("R", Payment, Refund)


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    customer_id: str
    invoice_id: str
    amount_minor: int | None
    currency_code: str
    payment_method_id: str
    description: str
    metadata: Mapping[str, str]
    request_id: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class RefundRequest:
    payment_id: str
    amount_minor: int | None
    currency_code: str
    reason: str
    request_id: str
    fingerprint: str


class PaymentService:
    def __init__(self, uow_factory: PaymentUnitOfWorkFactory, engine: PaymentEngine) -> None:
        self._uow = uow_factory
        self._engine = engine

    def create(self, tenant_id: str, request: PaymentRequest) -> Payment:
        """Record, charge, record the outcome; a repeated request_id returns the record.

        A fresh request is not looked up first: the unique (tenant, request_id)
        of the payment refuses a repeat, which then rolls back and is answered
        with the record as it stands (as is any repeat that fails on the way,
        e.g. because its invoice is now paid). One round trip fewer per payment.
        """
        try:
            payment, token = self._open(tenant_id, request)
        except IdempotencyRequestInFlight:
            raise
        except Exception:
            existing = self._existing(tenant_id, request.request_id)
            if existing is None:
                raise
            return _same_request(existing, request.fingerprint)
        return self._engine.send(payment, token)

    def _existing(self, tenant_id: str, request_id: str) -> Payment | None:
        if not request_id:
            return None
        with self._uow(write=False) as uow:
            return uow.payments.get_by_request(tenant_id, request_id)

    def _open(self, tenant_id: str, request: PaymentRequest) -> tuple[Payment, str]:
        with self._uow(write=True) as uow:
            self._claim(uow, tenant_id, request.request_id, lambda _t, _r: None)
            customer = _customer(uow, tenant_id, request.customer_id)
            customer.ensure_active()
            method = _method(customer, request.payment_method_id)
            self._engine.check_available(method.psp)
            invoice_id, amount = self._amount(uow, customer, request)
            payment = self._engine.open_payment(
                uow,
                customer=customer,
                invoice_id=invoice_id,
                amount_minor=amount,
                payment_method_id=method.id,
                psp=method.psp,
                request_id=request.request_id,
                fingerprint=request.fingerprint,
                description=request.description,
                metadata=request.metadata,
            )
            uow.commit()
        return payment, method.token

    def get(self, tenant_id: str, payment_id: str) -> Payment:
        with self._uow(write=False) as uow:
            payment = uow.payments.get(tenant_id, payment_id)
        if payment is None:
            raise NotFound("payment", payment_id)
        return payment

    def list_payments(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        customer_id: str,
        invoice_id: str,
        status: PaymentStatus | None,
    ) -> Page[Payment]:
        with self._uow(write=False) as uow:
            fetched = uow.payments.list(
                tenant_id, page, customer_id=customer_id, invoice_id=invoice_id, status=status
            )
        return paginate(fetched, page)

    def refund(self, tenant_id: str, request: RefundRequest) -> Refund:
        with self._uow(write=True) as uow:
            existing = self._claim(
                uow, tenant_id, request.request_id, uow.payments.get_refund_by_request
            )
            if existing is not None:
                return _same_request(existing, request.fingerprint)
            payment = uow.payments.get(tenant_id, request.payment_id, for_update=True)
            if payment is None:
                raise NotFound("payment", request.payment_id)
            self._engine.check_available(payment.psp)
            amount = request.amount_minor
            if amount is None:
                amount = payment.refundable_minor  # everything left; none left is refused
            else:
                if request.currency_code != payment.currency_code:
                    raise CurrencyMismatch(
                        f"amount is in {request.currency_code}; the payment is in"
                        f" {payment.currency_code}",
                        metadata={"left": payment.currency_code, "right": request.currency_code},
                    )
                _positive(amount, "amount")
            left = self._engine.credit_left_to_refund(uow, payment)
            if left is not None and amount > left and payment.status is PaymentStatus.SUCCEEDED:
                raise RefundExceedsRefundable(
                    f"refund of {amount} exceeds the {left} of the customer's credit balance"
                    " left to refund (the prepayment was partly spent on invoices)",
                    metadata={
                        "refundable_minor": str(min(left, payment.refundable_minor)),
                        "requested_minor": str(amount),
                    },
                    precondition_violations=[
                        PreconditionViolation(
                            "REFUNDABLE",
                            f"customers/{payment.customer_id}",
                            f"{left} minor units of credit balance left to refund",
                        )
                    ],
                )
            refund = self._engine.open_refund(
                uow,
                payment,
                amount_minor=amount,
                reason=request.reason,
                request_id=request.request_id,
                fingerprint=request.fingerprint,
            )
            uow.commit()
        return self._engine.send_refund(refund, payment.psp_charge_id, payment.psp)

    def list_refunds(self, tenant_id: str, page: PageRequest, *, payment_id: str) -> Page[Refund]:
        with self._uow(write=False) as uow:
            fetched = uow.payments.list_refunds(tenant_id, page, payment_id=payment_id)
        return paginate(fetched, page)

    # -- helpers -------------------------------------------------------------

    @staticmethod
    def _claim(
        uow: PaymentUnitOfWork,
        tenant_id: str,
        request_id: str,
        lookup: Callable[[str, str], R | None],
    ) -> R | None:
        """Serialise requests with one request_id; the record found, if any."""
        if not uow.idempotency.lock(tenant_id, request_id):
            raise IdempotencyRequestInFlight(
                "a request with this request_id is still in progress",
                metadata={"request_id": request_id},
                retry_after_seconds=IN_FLIGHT_RETRY_SECONDS,
            )
        return lookup(tenant_id, request_id)

    @staticmethod
    def _amount(
        uow: PaymentUnitOfWork, customer: Customer, request: PaymentRequest
    ) -> tuple[str, int]:
        if not request.invoice_id:
            if request.currency_code != customer.currency_code:
                raise CurrencyMismatch(
                    f"amount is in {request.currency_code}; the customer is billed in"
                    f" {customer.currency_code}",
                    metadata={"left": customer.currency_code, "right": request.currency_code},
                )
            return "", _positive(request.amount_minor or 0, "amount")
        invoice = uow.invoices.get(customer.tenant_id, request.invoice_id, for_update=True)
        if invoice is None or invoice.customer_id != customer.id:
            raise NotFound("invoice", request.invoice_id)
        why = ""
        if invoice.status is not InvoiceStatus.OPEN:
            why = f"status {invoice.status.name}; only OPEN invoices are paid"
        elif invoice.amount_due_minor <= 0:
            why = "nothing is due"
        elif uow.payments.in_progress_for_invoice(customer.tenant_id, invoice.id):
            why = "a payment of this invoice is already in progress"
        if why:
            raise InvalidState(
                f"cannot pay invoice {invoice.id!r}: {why}",
                metadata={"status": invoice.status.name},
                precondition_violations=[
                    PreconditionViolation("STATE", f"invoices/{invoice.id}", why)
                ],
            )
        return invoice.id, invoice.amount_due_minor


def _same_request(record: R, fingerprint: str) -> R:
    if record.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "request_id was already used for a different request",
            metadata={"request_id": record.request_id},
        )
    return record


def _customer(uow: PaymentUnitOfWork, tenant_id: str, customer_id: str) -> Customer:
    customer = uow.customers.get(tenant_id, customer_id)
    if customer is None:
        raise NotFound("customer", customer_id)
    return customer


def _method(customer: Customer, payment_method_id: str) -> PaymentMethod:
    chosen = payment_method_id or customer.default_payment_method_id
    if not chosen:
        raise InvalidState(
            f"customer {customer.id!r} has no default payment method; attach one or name one",
            metadata={"customer_id": customer.id},
            precondition_violations=[
                PreconditionViolation(
                    "PAYMENT_METHOD", f"customers/{customer.id}", "no default payment method"
                )
            ],
        )
    return customer.payment_method(chosen)


def _positive(amount: int, field: str) -> int:
    if amount <= 0:
        raise ValidationFailed.on(f"{field}.amount_minor", "must be positive")
    return check_amount(amount, field=field)
