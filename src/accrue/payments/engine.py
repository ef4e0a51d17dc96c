"""Moving money through a PSP without ever charging twice or losing a charge.

The shape of every PSP interaction:

1. a transaction records the payment or refund (PROCESSING, with the next
   inquiry already scheduled) and commits;
2. the PSP is called outside any transaction, under the key derived from
   the record's id, with transient failures retried (exponential backoff,
   full jitter) and a circuit breaker per PSP;
3. a second transaction records what the PSP said - or UNKNOWN when it did
   not answer - together with its ledger posting and the invoice,
   subscription and dunning consequences.

A crash anywhere leaves a record the resolver finds at its inquiry time: it
asks the PSP for the charge made under the key and, when the PSP has none,
sends the very same request again (the key makes a duplicate impossible).
Webhooks and the resolver go through the same `settle` path, which applies
an outcome once and ignores later news about a final record.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from accrue.customers.model import Customer
from accrue.event_log.ports import EventSink
from accrue.invoicing import model as inv
from accrue.invoicing.model import Invoice, InvoiceStatus
from accrue.kernel.clock import Clock
from accrue.kernel.errors import ConcurrentModification, InvalidState, NotFound, PspUnavailableError
from accrue.kernel.ids import IdGenerator
from accrue.ledger.model import PostingRequest
from accrue.ledger.ports import Postings
from accrue.payments import model as pay
from accrue.payments.dunning import DunningPolicy
from accrue.payments.model import Cause, Payment, PspResult, Refund, RefundStatus
from accrue.payments.ports import CustomerTime, InvoiceCollectionListener, PaymentUnitOfWork
from accrue.payments.postings import capture_posting, refund_posting
from accrue.payments.psp.port import (
    PaymentGateway,
    PspCharge,
    PspRefund,
    PspRejected,
    PspStatus,
)
from accrue.payments.psp_calls import PspCall, call_psp
from accrue.platform.resilience.backoff import Backoff
from accrue.platform.resilience.circuit_breaker import CircuitBreakers
from accrue.ports import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("accrue.payments")
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class FaultPoints(Protocol):
    """Named points on the payment path where a test can make the process die."""

    def reached(self, point: str) -> None: ...


class NoFaults:
    def reached(self, point: str) -> None:
        return None


@dataclass(frozen=True, slots=True)
class PaymentPolicy:
    # Retries inside one call to the PSP: 3 tries, 50 ms, then up to 100 ms.
    backoff: Backoff = field(default_factory=lambda: Backoff(0.05, 1.0, 3))
    # How long a PROCESSING record is left to its own caller before the
    # resolver asks the PSP about it (a crash between steps 1 and 3).
    first_inquiry_after: timedelta = timedelta(seconds=30)
    # How often an UNKNOWN outcome is asked about again.
    inquiry_interval: timedelta = timedelta(seconds=30)
    dunning: DunningPolicy = field(default_factory=DunningPolicy)


class PaymentEngine:
    def __init__(
        self,
        *,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        events: EventSink,
        ledger: Postings,
        invoicing: CustomerTime,
        listener: InvoiceCollectionListener,
        gateways: Mapping[str, PaymentGateway],
        breakers: CircuitBreakers,
        policy: PaymentPolicy,
        faults: FaultPoints | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._ids = ids
        self._events = events
        self._ledger = ledger
        self._invoicing = invoicing
        self._listener = listener
        self._gateways = dict(gateways)
        self._breakers = breakers
        self._policy = policy
        self._faults = faults or NoFaults()
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrecy

    @property
    def policy(self) -> PaymentPolicy:
        return self._policy

    # -- guards ------------------------------------------------------------

    def gateway(self, psp: str) -> PaymentGateway:
        gateway = self._gateways.get(psp)
        if gateway is None:
            raise InvalidState(
                f"no payment gateway is configured for PSP {psp!r}",
                metadata={"psp": psp},
            )
        return gateway

    def has_gateway(self, psp: str) -> bool:
        return psp in self._gateways

    def check_available(self, psp: str) -> None:
        """Refuse up front while the PSP's circuit is open: nothing gets recorded."""
        self.gateway(psp)
        wait = self._breakers.get(psp).retry_after_seconds()
        if wait > 0:
            raise PspUnavailableError(
                f"PSP {psp!r} is failing; its circuit breaker is open",
                metadata={"psp": psp},
                retry_after_seconds=wait,
            )

    # -- payments ------------------------------------------------------------

    def open_payment(
        self,
        uow: PaymentUnitOfWork,
        *,
        customer: Customer,
        invoice_id: str,
        amount_minor: int,
        payment_method_id: str,
        psp: str,
        request_id: str,
        fingerprint: str,
        description: str,
        metadata: Mapping[str, str],
        collection_attempt: int = 0,
    ) -> Payment:
        """Step 1: the payment, committed by the caller before `send`."""
        now = self._clock.now()
        payment = pay.new_payment(
            id=self._ids.new("pay"),
            tenant_id=customer.tenant_id,
            customer_id=customer.id,
            invoice_id=invoice_id,
            amount_minor=amount_minor,
            currency_code=customer.currency_code,
            payment_method_id=payment_method_id,
            psp=psp,
            request_id=request_id,
            request_fingerprint=fingerprint,
            description=description,
            metadata=dict(metadata),
            now=now,
            inquire_at=now + self._policy.first_inquiry_after,
            collection_attempt=collection_attempt,
        )
        uow.payments.add(payment)
        self._record(uow, "created", payment)
        return payment

    def send(self, payment: Payment, token: str) -> Payment:
        """Steps 2 and 3 for a committed PROCESSING payment."""
        self._faults.reached("before_psp_call")
        call = self._charge(payment, token)
        self._faults.reached("after_psp_call")
        done = self._record_charge(
            payment.tenant_id, payment.id, call, Cause.PSP_RESPONSE, known=payment
        )
        self._faults.reached("after_commit")
        return done

    def resolve(self, tenant_id: str, payment_id: str) -> Payment:
        """Ask the PSP about a payment whose outcome was never recorded."""
        with self._uow(write=False) as uow:
            payment = uow.payments.get(tenant_id, payment_id)
            if payment is None:
                raise NotFound("payment", payment_id)
            if payment.status.final:
                return payment
            token = _token_of(uow, payment)
        gateway = self.gateway(payment.psp)
        found = self._call(
            payment.psp, lambda: gateway.retrieve_charge(payment.psp_idempotency_key)
        )
        if found.answered and found.value is not None:
            call = found
        elif found.answered and token:
            # The PSP has no charge under the key: send the same request again.
            call = self._charge(payment, token)
        elif found.answered:
            # No charge at the PSP and no method left to send it with: it never happened.
            gone = PspRejected("the payment method was detached", code="payment_method_detached")
            call = replace(found, rejected=gone)
        else:
            call = replace(found, answered=False, maybe_sent=True)
        return self._record_charge(tenant_id, payment_id, call, Cause.PSP_INQUIRY)

    def apply_charge_report(self, charge: PspCharge, cause: Cause) -> Payment | None:
        """A PSP's report of a charge (a webhook): settle the payment sent under its key."""
        with self._uow(write=False) as uow:
            found = uow.payments.find_by_psp_key(charge.idempotency_key)
        if found is None:
            return None
        call = PspCall(answered=True, value=charge, rejected=None, maybe_sent=True, requests=0)
        return self._record_charge(found[0], found[1], call, cause)

    def _charge(self, payment: Payment, token: str) -> PspCall[PspCharge]:
        gateway = self.gateway(payment.psp)
        return self._call(
            payment.psp,
            lambda: gateway.charge(
                idempotency_key=payment.psp_idempotency_key,
                token=token,
                amount_minor=payment.amount_minor,
                currency_code=payment.currency_code,
                metadata={"payment_id": payment.id, "invoice_id": payment.invoice_id},
            ),
        )

    def _record_charge(
        self,
        tenant_id: str,
        payment_id: str,
        call: PspCall[PspCharge | None],
        cause: Cause,
        *,
        known: Payment | None = None,
    ) -> Payment:
        """Record what the PSP said, in one transaction.

        `known` is the payment as this process committed it just before the
        call: it is not read again, and the version-checked update refuses it
        if anything (a webhook, the resolver) changed the payment since, in
        which case the whole transaction is rolled back and done again on the
        payment as read, locked, from the database.
        """
        if known is not None:
            try:
                return self._record_charge_once(tenant_id, payment_id, call, cause, known)
            except ConcurrentModification:
                pass
        return self._record_charge_once(tenant_id, payment_id, call, cause, None)

    def _record_charge_once(
        self,
        tenant_id: str,
        payment_id: str,
        call: PspCall[PspCharge | None],
        cause: Cause,
        known: Payment | None,
    ) -> Payment:
        with self._uow(write=True) as uow:
            before = known or uow.payments.get(tenant_id, payment_id, for_update=True)
            if before is None:
                raise NotFound("payment", payment_id)
            now = self._clock.now()
            after = pay.sent(before, requests=call.requests)
            if call.answered and call.value is not None:
                after = pay.settle(after, _charge_result(call.value), cause, now)
            elif call.rejected is not None:
                result = PspResult("", succeeded=False, failure_code=call.rejected.code)
                after = pay.settle(after, result, cause, now)
            elif call.maybe_sent or cause is not Cause.PSP_RESPONSE:
                after = pay.unknown(after, now, inquire_at=now + self._policy.inquiry_interval)
            else:
                after = pay.unreachable(after, now)
            capture = self._consequences(uow, before, after)
            if capture is not None:
                # Posted last: the tenant's ledger head stays locked from here to
                # commit, so every capture of the tenant queues only for this part
                # (and the one update of the payment, which carries the posting's id).
                posted = self._ledger.post(uow, tenant_id, capture)
                after = replace(after, ledger_transaction_id=posted.id)
            uow.payments.update(after, previous=before)
            uow.commit()
        return after

    def _consequences(
        self, uow: UnitOfWork, before: Payment, after: Payment
    ) -> PostingRequest | None:
        """Events, invoice and subscription effects; the capture posting, if any, to post."""
        if after.status is before.status:
            return None
        self._record(uow, after.status.value, after)
        if after.status is pay.PaymentStatus.SUCCEEDED:
            return self._captured(uow, after)
        if after.status is pay.PaymentStatus.FAILED and after.invoice_id:
            self._payment_failed(uow, after)
        return None

    def _captured(self, uow: UnitOfWork, payment: Payment) -> PostingRequest:
        invoice = None
        if payment.invoice_id:
            invoice = uow.invoices.get(payment.tenant_id, payment.invoice_id, for_update=True)
        to_invoice = invoice is not None and inv.accepts_payment(invoice, payment.amount_minor)
        if invoice is not None and to_invoice:
            now = self._invoicing.now_for_invoice(uow, invoice)
            paid = inv.record_payment(invoice, payment.amount_minor, now)
            uow.invoices.update(paid)
            if paid.status is InvoiceStatus.PAID:
                self._record_invoice(uow, "paid", paid)
                self._listener.invoice_paid(uow, paid, now)
        return capture_posting(payment, to_invoice=to_invoice)

    def _payment_failed(self, uow: UnitOfWork, payment: Payment) -> None:
        invoice = uow.invoices.get(payment.tenant_id, payment.invoice_id, for_update=True)
        if invoice is None or invoice.status is not InvoiceStatus.OPEN:
            return
        customer = _customer(uow, invoice.tenant_id, invoice.customer_id)
        if payment.collection_attempt:
            self.attempt_failed(uow, invoice, customer)
            return
        # Someone else's payment of an automatically collected invoice failed. An
        # attempt skipped while it was under way (see Collections.collect) runs now.
        waiting = (
            invoice.collection_method is inv.CollectionMethod.CHARGE_AUTOMATICALLY
            and invoice.next_payment_attempt_time is None
            and invoice.attempt_count < self._policy.dunning.max_attempts
        )
        if waiting:
            now = self._invoicing.now_for(uow, customer)
            uow.invoices.update(inv.collection_failed(invoice, next_attempt=now))

    def attempt_failed(self, uow: UnitOfWork, invoice: Invoice, customer: Customer) -> None:
        """Dunning after a failed automatic attempt: the next retry, or the final action."""
        now = self._invoicing.now_for(uow, customer)
        next_at = self._policy.dunning.next_attempt(max(invoice.attempt_count, 1), now)
        failed = inv.collection_failed(invoice, next_attempt=next_at)
        uow.invoices.update(failed)
        self._record_invoice(uow, "payment_failed", failed)
        final = self._policy.dunning.final_action if next_at is None else None
        self._listener.collection_failed(uow, failed, now, final_action=final)

    # -- refunds -----------------------------------------------------------

    def open_refund(
        self,
        uow: PaymentUnitOfWork,
        payment: Payment,
        *,
        amount_minor: int,
        reason: str,
        request_id: str,
        fingerprint: str,
    ) -> Refund:
        """Reserve the amount on the (locked) payment and record the refund."""
        now = self._clock.now()
        reserved = pay.reserve_refund(payment, amount_minor, now)
        refund = pay.new_refund(
            payment,
            id=self._ids.new("re"),
            amount_minor=amount_minor,
            reason=reason,
            request_id=request_id,
            request_fingerprint=fingerprint,
            now=now,
            inquire_at=now + self._policy.first_inquiry_after,
        )
        uow.payments.update(reserved, previous=payment)
        uow.payments.add_refund(refund)
        self._record_refund(uow, "created", refund)
        return refund

    def send_refund(self, refund: Refund, charge_psp_id: str, psp: str) -> Refund:
        self._faults.reached("before_psp_call")
        call = self._refund(refund, charge_psp_id, psp)
        self._faults.reached("after_psp_call")
        done = self._record_refund_call(refund.tenant_id, refund.id, call, Cause.PSP_RESPONSE)
        self._faults.reached("after_commit")
        return done

    def resolve_refund(self, tenant_id: str, refund_id: str) -> Refund:
        with self._uow(write=False) as uow:
            refund = uow.payments.get_refund(tenant_id, refund_id)
            if refund is None:
                raise NotFound("refund", refund_id)
            payment = uow.payments.get(tenant_id, refund.payment_id)
            assert payment is not None, "a refund's payment exists"
            if refund.status.final:
                return refund
        gateway = self.gateway(payment.psp)
        key = refund.psp_idempotency_key
        found = self._call(payment.psp, lambda: gateway.retrieve_refund(key))
        call: PspCall[PspRefund | None]
        if found.answered and found.value is not None:
            call = found
        elif found.answered:
            call = self._refund(refund, payment.psp_charge_id, payment.psp)
        else:
            call = replace(found, answered=False, maybe_sent=True)
        return self._record_refund_call(tenant_id, refund_id, call, Cause.PSP_INQUIRY)

    def apply_refund_report(self, report: PspRefund, cause: Cause) -> Refund | None:
        with self._uow(write=False) as uow:
            found = uow.payments.find_refund_by_psp_key(report.idempotency_key)
        if found is None:
            return None
        call = PspCall(answered=True, value=report, rejected=None, maybe_sent=True, requests=0)
        return self._record_refund_call(found[0], found[1], call, cause)

    def _refund(self, refund: Refund, charge_psp_id: str, psp: str) -> PspCall[PspRefund]:
        gateway = self.gateway(psp)
        return self._call(
            psp,
            lambda: gateway.refund(
                idempotency_key=refund.psp_idempotency_key,
                charge_psp_id=charge_psp_id,
                amount_minor=refund.amount_minor,
                currency_code=refund.currency_code,
            ),
        )

    def _record_refund_call(
        self, tenant_id: str, refund_id: str, call: PspCall[PspRefund | None], cause: Cause
    ) -> Refund:
        with self._uow(write=True) as uow:
            # Payment first, then refund: the order every refund path locks in.
            peek = uow.payments.get_refund(tenant_id, refund_id)
            if peek is None:
                raise NotFound("refund", refund_id)
            payment = uow.payments.get(tenant_id, peek.payment_id, for_update=True)
            before = uow.payments.get_refund(tenant_id, refund_id, for_update=True)
            assert payment is not None and before is not None
            now = self._clock.now()
            if call.answered and call.value is not None:
                report = call.value
                result = PspResult(
                    report.psp_id, report.status is PspStatus.SUCCEEDED, report.failure_code
                )
                after = pay.settle_refund(before, result, cause, now)
            elif call.rejected is not None:
                result = PspResult("", succeeded=False, failure_code=call.rejected.code)
                after = pay.settle_refund(before, result, cause, now)
            elif call.maybe_sent or cause is not Cause.PSP_RESPONSE:
                after = pay.refund_unknown(
                    before, now, inquire_at=now + self._policy.inquiry_interval
                )
            else:
                after = pay.refund_unreachable(before, now)
            if after.status is not before.status:
                self._record_refund(uow, after.status.value, after)
                if after.status.final:
                    after = self._refund_settled(uow, payment, after, now)
            uow.payments.update_refund(after, previous=before)
            uow.commit()
        return after

    def _refund_settled(
        self, uow: UnitOfWork, payment: Payment, refund: Refund, now: datetime
    ) -> Refund:
        updated = pay.refund_settled(payment, refund, now)
        uow.payments.update(updated, previous=payment)
        if refund.status is not RefundStatus.SUCCEEDED:
            return refund
        to_invoice = (
            bool(payment.invoice_id)
            and payment.ledger_transaction_id != ""
            and (self._captured_to_invoice(uow, payment))
        )
        posted = self._ledger.post(
            uow, payment.tenant_id, refund_posting(payment, refund, to_invoice=to_invoice)
        )
        self._record(uow, "refunded", updated)
        return replace(refund, ledger_transaction_id=posted.id)

    def credit_left_to_refund(self, uow: PaymentUnitOfWork, payment: Payment) -> int | None:
        """For a payment captured to the customer's credit balance, how much of that
        balance may still be refunded; None for one that settled an invoice.

        A prepayment may since have been spent on invoices: refunding it then
        would leave a negative credit balance nobody bills. The customer's
        credit lock is taken first, as finalisation does, so the balance read
        here cannot be spent concurrently.
        """
        if self._captured_to_invoice(uow, payment):
            return None
        customer = _customer(uow, payment.tenant_id, payment.customer_id)
        uow.ledger.lock_customer_credit(payment.tenant_id, customer.id, customer.currency_code)
        balance = self._invoicing.credit_balance(uow, customer)
        pending = uow.payments.credit_refunds_in_progress(payment.tenant_id, payment.customer_id)
        return max(balance - pending, 0)

    def _captured_to_invoice(self, uow: PaymentUnitOfWork, payment: Payment) -> bool:
        """Whether the capture credited the receivable (not the credit balance)."""
        posted = uow.ledger.get_transaction(payment.tenant_id, payment.ledger_transaction_id)
        return posted is not None and any(
            entry.account.code == "accounts_receivable" for entry in posted.entries
        )

    # -- the PSP call -------------------------------------------------------

    def _call(self, psp: str, request: Callable[[], T]) -> PspCall[T]:
        return call_psp(
            self._breakers.get(psp),
            self._policy.backoff,
            request,
            psp=psp,
            sleep=self._sleep,
            rng=self._rng,
        )

    # -- events ------------------------------------------------------------

    def _record(self, uow: PaymentUnitOfWork, change: str, payment: Payment) -> None:
        self._events.record(
            uow,
            payment.tenant_id,
            type=f"payment.{change}",
            resource_id=payment.id,
            subject=payment,
        )

    def _record_refund(self, uow: PaymentUnitOfWork, change: str, refund: Refund) -> None:
        self._events.record(
            uow, refund.tenant_id, type=f"refund.{change}", resource_id=refund.id, subject=refund
        )

    def _record_invoice(self, uow: UnitOfWork, change: str, invoice: Invoice) -> None:
        self._events.record(
            uow,
            invoice.tenant_id,
            type=f"invoice.{change}",
            resource_id=invoice.id,
            subject=invoice,
        )


def _charge_result(charge: PspCharge) -> PspResult:
    return PspResult(
        psp_id=charge.psp_id,
        succeeded=charge.status is PspStatus.SUCCEEDED,
        failure_code=charge.decline_code,
        fee_minor=charge.fee_minor,
    )


def _customer(uow: PaymentUnitOfWork, tenant_id: str, customer_id: str) -> Customer:
    customer = uow.customers.get(tenant_id, customer_id)
    if customer is None:
        raise NotFound("customer", customer_id)
    return customer


def _token_of(uow: UnitOfWork, payment: Payment) -> str:
    """The token to resend with; empty when the method is gone (nothing is resent)."""
    customer = uow.customers.get(payment.tenant_id, payment.customer_id)
    if customer is None:
        return ""
    for method in customer.payment_methods:
        if method.id == payment.payment_method_id:
            return method.token
    return ""
