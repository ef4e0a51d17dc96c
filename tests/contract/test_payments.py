"""PaymentService through the generated clients: charges, declines, lost answers, refunds.

Each test is one tenant's story against a real server with the simulated PSP
in-process (its test tokens decide the outcome: `tok_visa` succeeds, the
decline tokens fail, `tok_lost_response` is charged but never answered,
`tok_5xx` is answered 503, `tok_refund_fails` refuses refunds). Tests that
trip the PSP's circuit breaker (it is shared by every tenant of a server) or
need special settings run on a server of their own; the rest share the
module's server, over gRPC and Connect where the `rpc` fixture is used.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from connectrpc.errors import ConnectError
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from accrue.billing.v1 import customer_pb2 as cus
from accrue.billing.v1 import event_pb2 as evt
from accrue.billing.v1 import invoice_pb2 as inv
from accrue.billing.v1 import ledger_pb2 as led
from accrue.billing.v1 import payment_pb2 as pay
from accrue.billing.v1.money_pb2 import Money
from tests.conftest import Transport
from tests.support import (
    Failure,
    GrpcClients,
    RunningServer,
    failure_of_connect,
    failure_of_grpc,
    running_server,
    settle,
)

pytestmark = pytest.mark.timeout(120)

PAYMENTS = "accrue.billing.v1.PaymentService"
CUSTOMERS = "accrue.billing.v1.CustomerService"
INVOICES = "accrue.billing.v1.InvoiceService"
LEDGER = "accrue.billing.v1.LedgerService"
EVENTS = "accrue.billing.v1.EventService"

PENDING, PROCESSING = pay.PAYMENT_STATUS_PENDING, pay.PAYMENT_STATUS_PROCESSING
SUCCEEDED, FAILED = pay.PAYMENT_STATUS_SUCCEEDED, pay.PAYMENT_STATUS_FAILED
UNKNOWN, UNSPECIFIED = pay.PAYMENT_STATUS_UNKNOWN, pay.PAYMENT_STATUS_UNSPECIFIED
REFUND_SUCCEEDED, REFUND_FAILED = pay.REFUND_STATUS_SUCCEEDED, pay.REFUND_STATUS_FAILED
OPEN, PAID = inv.INVOICE_STATUS_OPEN, inv.INVOICE_STATUS_PAID

DECLINES = {
    "tok_insufficient_funds": "insufficient_funds",
    "tok_do_not_honor": "do_not_honor",
    "tok_expired_card": "expired_card",
    "tok_fraud": "fraudulent",
}
# Luhn-valid, so it is shaped like a real card number.
CARD_NUMBER = "4242 4242 4242 4242"
DOCUMENTED_CAUSES = {
    "created",
    "sending",
    "psp_response",
    "psp_inquiry",
    "psp_webhook",
    "psp_unreachable",
    "psp_no_answer",
}


def rid() -> str:
    return str(uuid.uuid4())


def usd(amount: int, currency: str = "USD") -> Money:
    return Money(amount_minor=amount, currency_code=currency)


def retry_delay_of(error: Exception) -> float | None:
    """The `google.rpc.RetryInfo` delay of an error from either transport, in seconds."""
    details: list[Any]
    if isinstance(error, grpc.RpcError):
        status = rpc_status.from_call(error)
        details = list(status.details) if status is not None else []
    else:
        assert isinstance(error, ConnectError)
        details = [
            any_pb2.Any(type_url="type.googleapis.com/" + d.type_name, value=d.message_bytes)
            for d in error.details
        ]
    for detail in details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return info.retry_delay.ToMilliseconds() / 1000
    return None


class Shop:
    """One tenant taking payments over one transport; names every call the tests make."""

    def __init__(self, rpc: Transport) -> None:
        self.rpc = rpc

    def call(self, service: str, method: str, request: Message) -> Any:
        return self.rpc.call(service, method, request)

    def fail(self, service: str, method: str, request: Message) -> Failure:
        return self.rpc.fail(service, method, request)

    def refused(self, service: str, method: str, request: Message) -> tuple[Failure, float | None]:
        """The failure of a call that must fail, with its RetryInfo delay (None if absent)."""
        try:
            response = self.call(service, method, request)
        except grpc.RpcError as error:
            return failure_of_grpc(error), retry_delay_of(error)
        except ConnectError as error:
            return failure_of_connect(error), retry_delay_of(error)
        raise AssertionError(f"{method} succeeded but should have failed: {response}")

    # -- customers and invoices ------------------------------------------------

    def customer(self, token: str | None = "tok_visa", *, currency: str = "USD") -> cus.Customer:
        """A customer whose default payment method is `token` (none when None)."""
        customer = self.call(
            CUSTOMERS,
            "CreateCustomer",
            cus.CreateCustomerRequest(
                customer=cus.Customer(display_name="Payer", currency_code=currency),
                request_id=rid(),
            ),
        )
        if token is not None:
            self.attach(customer.id, token)
        return customer

    def attach(self, customer_id: str, token: str, *, make_default: bool = False) -> str:
        """Attach `token`; returns the new payment method's id."""
        customer = self.call(
            CUSTOMERS,
            "AttachPaymentMethod",
            cus.AttachPaymentMethodRequest(
                customer_id=customer_id,
                payment_method=cus.PaymentMethod(
                    psp="simulated", token=token, type=cus.PAYMENT_METHOD_TYPE_CARD
                ),
                make_default=make_default,
                request_id=rid(),
            ),
        )
        return str(customer.payment_methods[-1].id)

    def open_invoice(self, customer_id: str, amount: int, currency: str = "USD") -> inv.Invoice:
        opened = self.finalized_invoice(customer_id, amount, currency)
        assert opened.status == OPEN and opened.amount_due.amount_minor == amount
        return opened

    def finalized_invoice(
        self, customer_id: str, amount: int, currency: str = "USD"
    ) -> inv.Invoice:
        draft = self.call(
            INVOICES,
            "CreateInvoice",
            inv.CreateInvoiceRequest(
                customer_id=customer_id,
                lines=[inv.InvoiceLineInput(unit_amount=usd(amount, currency), description="Work")],
                request_id=rid(),
            ),
        )
        finalized: inv.Invoice = self.call(
            INVOICES, "FinalizeInvoice", inv.FinalizeInvoiceRequest(id=draft.id, request_id=rid())
        )
        return finalized

    def invoice(self, invoice_id: str) -> inv.Invoice:
        return self.call(INVOICES, "GetInvoice", inv.GetInvoiceRequest(id=invoice_id))

    # -- payments --------------------------------------------------------------

    @staticmethod
    def pay_request(
        customer_id: str,
        amount: int | None = None,
        *,
        invoice_id: str = "",
        currency: str = "USD",
        **fields: Any,
    ) -> pay.CreatePaymentRequest:
        request = pay.CreatePaymentRequest(
            customer_id=customer_id, invoice_id=invoice_id, request_id=rid()
        )
        if amount is not None:
            request.amount.CopyFrom(usd(amount, currency))
        for name, value in fields.items():
            if name == "metadata":
                request.metadata.update(value)
            else:
                setattr(request, name, value)
        return request

    def charge(self, customer_id: str, amount: int | None = None, **options: Any) -> pay.Payment:
        return self.call(
            PAYMENTS, "CreatePayment", self.pay_request(customer_id, amount, **options)
        )

    def payment(self, payment_id: str) -> pay.Payment:
        return self.call(PAYMENTS, "GetPayment", pay.GetPaymentRequest(id=payment_id))

    def payments(self, **filters: Any) -> list[pay.Payment]:
        page = self.call(
            PAYMENTS, "ListPayments", pay.ListPaymentsRequest(page_size=1000, **filters)
        )
        assert not page.next_page_token
        return list(page.payments)

    @staticmethod
    def refund_request(payment_id: str, amount: int | None = None) -> pay.RefundPaymentRequest:
        request = pay.RefundPaymentRequest(
            payment_id=payment_id, reason="requested_by_customer", request_id=rid()
        )
        if amount is not None:
            request.amount.CopyFrom(usd(amount))
        return request

    def refund(self, payment_id: str, amount: int | None = None) -> pay.Refund:
        return self.call(PAYMENTS, "RefundPayment", self.refund_request(payment_id, amount))

    def refunds(self, payment_id: str) -> list[pay.Refund]:
        page = self.call(
            PAYMENTS,
            "ListRefunds",
            pay.ListRefundsRequest(page_size=1000, payment_id=payment_id),
        )
        return list(page.refunds)

    # -- ledger and events -----------------------------------------------------

    def accounts(self) -> dict[str, led.Account]:
        page = self.call(LEDGER, "ListAccounts", led.ListAccountsRequest(page_size=1000))
        assert not page.next_page_token
        return {account.id: account for account in page.accounts}

    def moved(self, account_id: str) -> tuple[int, int]:
        """(debits, credits) posted to `account_id` so far; (0, 0) if never posted."""
        account = self.accounts().get(account_id)
        if account is None:
            return (0, 0)
        return (account.debits.amount_minor, account.credits.amount_minor)

    def transactions(self, source_type: str, source_id: str = "") -> list[led.LedgerTransaction]:
        page = self.call(
            LEDGER,
            "ListTransactions",
            led.ListTransactionsRequest(
                page_size=1000, source_type=source_type, source_id=source_id
            ),
        )
        return list(page.transactions)

    def verify_ledger(self) -> led.VerifyLedgerResponse:
        return self.call(LEDGER, "VerifyLedger", led.VerifyLedgerRequest())

    def events(self, *types: str, resource_id: str = "") -> list[evt.Event]:
        page = self.call(
            EVENTS,
            "ListEvents",
            evt.ListEventsRequest(page_size=1000, types=list(types), resource_id=resource_id),
        )
        return list(page.events)


def clearing() -> str:
    return "psp_clearing:USD"


def credit_of(customer_id: str) -> str:
    return f"customer_credit:USD:{customer_id}"


def receivable_of(customer_id: str) -> str:
    return f"accounts_receivable:USD:{customer_id}"


def statuses(payment: pay.Payment) -> list[tuple[int, int]]:
    return [(t.from_status, t.to_status) for t in payment.transitions]


@pytest.fixture
def shop(rpc: Transport) -> Shop:
    return Shop(rpc)


@pytest.fixture
def grpc_shop(server: RunningServer, api_key: str) -> Iterator[Shop]:
    """gRPC only, for stories whose Connect coverage the `shop` tests give."""
    clients = GrpcClients(server.grpc_target, api_key)
    try:
        yield Shop(Transport("grpc", clients))
    finally:
        clients.close()


@pytest.fixture
def own_shop() -> Iterator[Callable[..., Shop]]:
    """Makes gRPC shops on a server of the test's own, for a fresh tenant or `api_key`'s."""
    opened: list[GrpcClients] = []

    def make(server: RunningServer, api_key: str | None = None) -> Shop:
        clients = GrpcClients(server.grpc_target, api_key or server.new_tenant())
        opened.append(clients)
        return Shop(Transport("grpc", clients))

    yield make
    for clients in opened:
        clients.close()


# -- a standalone payment -------------------------------------------------------------


def test_standalone_payment_succeeds_with_fee_history_and_ledger_posting(shop: Shop) -> None:
    customer = shop.customer("tok_visa")

    payment = shop.charge(customer.id, 1000, description="Top-up", metadata={"order": "A-1"})

    assert payment.id.startswith("pay_")
    assert payment.status == SUCCEEDED
    assert (payment.customer_id, payment.invoice_id) == (customer.id, "")
    assert payment.amount == usd(1000)
    assert payment.psp == "simulated"
    assert payment.psp_idempotency_key and payment.psp_charge_id
    assert payment.failure_code == ""
    # The simulator's fee: 2.9 % half up, plus 30 minor units.
    assert payment.fee == usd(59)
    assert payment.amount_refunded.amount_minor == 0
    assert payment.psp_request_count == 1
    assert (payment.description, dict(payment.metadata)) == ("Top-up", {"order": "A-1"})
    assert statuses(payment) == [
        (UNSPECIFIED, PENDING),
        (PENDING, PROCESSING),
        (PROCESSING, SUCCEEDED),
    ]
    assert payment.transitions[0].cause == "created"
    assert payment.transitions[-1].cause == "psp_response"
    times = [t.change_time.ToNanoseconds() for t in payment.transitions]
    assert times == sorted(times)
    assert shop.payment(payment.id) == payment

    # Clearing holds the money; the customer has it as credit.
    assert shop.moved(clearing()) == (1000, 0)
    assert shop.moved(credit_of(customer.id)) == (0, 1000)
    [capture] = shop.transactions("payment_capture", payment.id)
    assert capture.id == payment.ledger_transaction_id
    assert capture.resource_id == payment.id
    verdict = shop.verify_ledger()
    assert verdict.intact and not verdict.balance_mismatches
    assert [e.type for e in shop.events(resource_id=payment.id)] == [
        "payment.created",
        "payment.succeeded",
    ]


def test_every_transition_cause_is_one_the_contract_documents(grpc_shop: Shop) -> None:
    customer = grpc_shop.customer("tok_visa")
    payment = grpc_shop.charge(customer.id, 100)
    assert {t.cause for t in payment.transitions} <= DOCUMENTED_CAUSES


def test_paying_an_open_invoice_marks_it_paid_and_settles_the_receivable(shop: Shop) -> None:
    customer = shop.customer("tok_visa")
    invoice = shop.open_invoice(customer.id, 2500)
    assert shop.moved(receivable_of(customer.id)) == (2500, 0)

    payment = shop.charge(customer.id, invoice_id=invoice.id)

    assert payment.status == SUCCEEDED
    assert (payment.invoice_id, payment.amount) == (invoice.id, usd(2500))
    paid = shop.invoice(invoice.id)
    assert paid.status == PAID
    assert paid.amount_paid == usd(2500)
    assert paid.amount_due.amount_minor == 0
    # Clearing debited, the receivable credited: the customer owes nothing now.
    assert shop.moved(clearing()) == (2500, 0)
    assert shop.moved(receivable_of(customer.id)) == (2500, 2500)
    assert shop.moved(credit_of(customer.id)) == (0, 0)
    assert len(shop.transactions("payment_capture", payment.id)) == 1
    assert shop.verify_ledger().intact

    events = shop.events("payment.succeeded", "invoice.paid")
    assert [(e.type, e.resource_id) for e in events] == [
        ("payment.succeeded", payment.id),
        ("invoice.paid", invoice.id),
    ]
    assert shop.payments(invoice_id=invoice.id) == [payment]


@pytest.mark.parametrize(("token", "code"), sorted(DECLINES.items()))
def test_a_decline_fails_the_payment_once_and_posts_nothing(
    grpc_shop: Shop, token: str, code: str
) -> None:
    customer = grpc_shop.customer(token)

    payment = grpc_shop.charge(customer.id, 1000)

    assert payment.status == FAILED
    assert payment.failure_code == code
    assert payment.psp_request_count == 1  # a decline is an answer: not retried
    assert payment.fee.amount_minor == 0
    assert payment.ledger_transaction_id == ""
    assert statuses(payment)[-1] == (PROCESSING, FAILED)
    assert payment.transitions[-1].cause == "psp_response"
    assert grpc_shop.transactions("payment_capture") == []
    assert grpc_shop.accounts() == {}
    assert grpc_shop.payments(status=FAILED) == [payment]
    assert grpc_shop.payments(status=SUCCEEDED) == []


def test_a_declined_invoice_payment_leaves_it_open_for_another_method(shop: Shop) -> None:
    customer = shop.customer("tok_insufficient_funds")
    invoice = shop.open_invoice(customer.id, 700)

    declined = shop.charge(customer.id, invoice_id=invoice.id)

    assert (declined.status, declined.failure_code) == (FAILED, "insufficient_funds")
    still = shop.invoice(invoice.id)
    assert still.status == OPEN and still.amount_due.amount_minor == 700
    assert shop.moved(receivable_of(customer.id)) == (700, 0)

    visa = shop.attach(customer.id, "tok_visa")
    paid = shop.charge(customer.id, invoice_id=invoice.id, payment_method_id=visa)
    assert (paid.status, paid.payment_method_id) == (SUCCEEDED, visa)
    assert shop.invoice(invoice.id).status == PAID
    assert [p.id for p in shop.payments(invoice_id=invoice.id)] == [declined.id, paid.id]


# -- idempotency ------------------------------------------------------------------------


def test_repeating_a_request_id_returns_the_same_payment_without_charging_again(
    shop: Shop,
) -> None:
    customer = shop.customer("tok_visa")
    request = shop.pay_request(customer.id, 1200)

    first = shop.call(PAYMENTS, "CreatePayment", request)
    again = shop.call(PAYMENTS, "CreatePayment", request)

    assert again.id == first.id
    assert again == first
    assert again.psp_request_count == 1
    assert shop.payments(customer_id=customer.id) == [first]
    assert len(shop.transactions("payment_capture")) == 1
    assert shop.moved(clearing()) == (1200, 0)
    assert len(shop.events("payment.created")) == 1

    other = pay.CreatePaymentRequest()
    other.CopyFrom(request)
    other.amount.amount_minor = 1300
    failure = shop.fail(PAYMENTS, "CreatePayment", other)
    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "IDEMPOTENCY_KEY_REUSED")
    assert shop.payments(customer_id=customer.id) == [first]


def test_repeating_a_refund_request_id_returns_the_same_refund(grpc_shop: Shop) -> None:
    customer = grpc_shop.customer("tok_visa")
    payment = grpc_shop.charge(customer.id, 1000)
    request = grpc_shop.refund_request(payment.id, 400)

    first = grpc_shop.call(PAYMENTS, "RefundPayment", request)
    again = grpc_shop.call(PAYMENTS, "RefundPayment", request)

    assert again == first
    assert grpc_shop.payment(payment.id).amount_refunded.amount_minor == 400
    assert grpc_shop.refunds(payment.id) == [first]
    other = pay.RefundPaymentRequest()
    other.CopyFrom(request)
    other.amount.amount_minor = 500
    failure = grpc_shop.fail(PAYMENTS, "RefundPayment", other)
    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "IDEMPOTENCY_KEY_REUSED")


def test_a_repeat_while_the_first_call_is_at_the_psp_never_charges_twice(
    grpc_shop: Shop,
) -> None:
    customer = grpc_shop.customer("tok_slow")  # the PSP answers after a few seconds
    request = grpc_shop.pay_request(customer.id, 800)
    first: list[pay.Payment] = []
    caller = threading.Thread(
        target=lambda: first.append(grpc_shop.call(PAYMENTS, "CreatePayment", request)),
        daemon=True,
    )
    caller.start()
    deadline = time.monotonic() + 10
    while not grpc_shop.payments() and time.monotonic() < deadline:
        time.sleep(0.05)

    try:
        repeated: pay.Payment | None = grpc_shop.call(PAYMENTS, "CreatePayment", request)
    except grpc.RpcError as error:
        failure = failure_of_grpc(error)
        assert (failure.code, failure.reason) == ("ABORTED", "IDEMPOTENCY_REQUEST_IN_FLIGHT")
        repeated = None
    caller.join(timeout=60)
    assert not caller.is_alive()

    [payment] = first
    assert payment.status == SUCCEEDED
    if repeated is not None:
        assert repeated.id == payment.id
        assert repeated.status in (PROCESSING, SUCCEEDED)
    assert grpc_shop.payments() == [payment]
    assert payment.psp_request_count == 1
    assert len(grpc_shop.transactions("payment_capture")) == 1


# -- refused requests -----------------------------------------------------------------


def test_an_invoice_already_paid_cannot_be_paid_again(shop: Shop) -> None:
    customer = shop.customer("tok_visa")
    invoice = shop.open_invoice(customer.id, 900)
    first = shop.charge(customer.id, invoice_id=invoice.id)
    assert first.status == SUCCEEDED

    failure = shop.fail(
        PAYMENTS, "CreatePayment", shop.pay_request(customer.id, invoice_id=invoice.id)
    )

    assert (failure.code, failure.reason) == ("FAILED_PRECONDITION", "INVALID_STATE")
    assert shop.payments(invoice_id=invoice.id) == [first]
    assert shop.moved(clearing()) == (900, 0)


def test_a_customer_without_a_default_method_cannot_be_charged(shop: Shop) -> None:
    customer = shop.customer(token=None)

    failure = shop.fail(PAYMENTS, "CreatePayment", shop.pay_request(customer.id, 500))

    assert (failure.code, failure.reason) == ("FAILED_PRECONDITION", "INVALID_STATE")
    assert shop.payments() == []


@pytest.mark.parametrize(
    "fields",
    [
        {"metadata": {"note": f"card {CARD_NUMBER}"}},
        {"description": f"Paid with {CARD_NUMBER.replace(' ', '')}"},
    ],
    ids=["metadata", "description"],
)
def test_anything_like_a_card_number_is_refused_and_nothing_is_created(
    shop: Shop, fields: dict[str, Any]
) -> None:
    customer = shop.customer("tok_visa")

    failure = shop.fail(PAYMENTS, "CreatePayment", shop.pay_request(customer.id, 500, **fields))

    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")
    assert failure.field_violations
    assert CARD_NUMBER not in failure.message
    assert shop.payments() == []
    assert shop.events("payment.created") == []


def test_a_payment_without_a_request_id_is_refused(grpc_shop: Shop) -> None:
    customer = grpc_shop.customer("tok_visa")
    request = grpc_shop.pay_request(customer.id, 500)
    request.request_id = ""

    failure = grpc_shop.fail(PAYMENTS, "CreatePayment", request)

    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")
    assert "request_id" in failure.field_violations
    assert grpc_shop.payments() == []


def test_a_payment_must_name_exactly_one_of_invoice_and_amount(grpc_shop: Shop) -> None:
    customer = grpc_shop.customer("tok_visa")
    invoice = grpc_shop.open_invoice(customer.id, 500)

    both = grpc_shop.fail(
        PAYMENTS,
        "CreatePayment",
        grpc_shop.pay_request(customer.id, 500, invoice_id=invoice.id),
    )
    neither = grpc_shop.fail(PAYMENTS, "CreatePayment", grpc_shop.pay_request(customer.id))

    for failure in (both, neither):
        assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")
    assert grpc_shop.payments() == []
    assert grpc_shop.invoice(invoice.id).status == OPEN


def test_an_amount_in_another_currency_than_the_customers_is_refused(shop: Shop) -> None:
    customer = shop.customer("tok_visa", currency="USD")

    failure = shop.fail(
        PAYMENTS, "CreatePayment", shop.pay_request(customer.id, 500, currency="EUR")
    )

    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "CURRENCY_MISMATCH")
    assert shop.payments() == []


def test_unknown_customer_invoice_and_method_are_not_found(grpc_shop: Shop) -> None:
    customer = grpc_shop.customer("tok_visa")
    missing = "cus_01ARZ3NDEKTSV4RRFFQ69G5FAV"
    for request in (
        grpc_shop.pay_request(missing, 500),
        grpc_shop.pay_request(customer.id, invoice_id="in_01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        grpc_shop.pay_request(customer.id, 500, payment_method_id="pm_01ARZ3NDEKTSV4RRFFQ69G5FAV"),
    ):
        failure = grpc_shop.fail(PAYMENTS, "CreatePayment", request)
        assert (failure.code, failure.reason) == ("NOT_FOUND", "RESOURCE_NOT_FOUND")
    assert grpc_shop.payments() == []


# -- refunds ----------------------------------------------------------------------------


def test_partial_refunds_then_the_rest_refund_everything_once(shop: Shop) -> None:
    customer = shop.customer("tok_visa")
    invoice = shop.open_invoice(customer.id, 1000)
    payment = shop.charge(customer.id, invoice_id=invoice.id)

    partial = [shop.refund(payment.id, 300) for _ in range(3)]
    rest = shop.refund(payment.id)

    assert [r.status for r in partial] == [REFUND_SUCCEEDED] * 3
    assert [r.amount.amount_minor for r in partial] == [300, 300, 300]
    assert rest.status == REFUND_SUCCEEDED
    assert rest.amount == usd(100)
    for refund in (*partial, rest):
        assert refund.id.startswith("re_")
        assert (refund.payment_id, refund.customer_id) == (payment.id, customer.id)
        assert refund.psp_refund_id and refund.ledger_transaction_id
        assert refund.reason == "requested_by_customer"
    refunded = shop.payment(payment.id)
    assert refunded.status == SUCCEEDED
    assert refunded.amount_refunded == usd(1000)
    assert [r.id for r in shop.refunds(payment.id)] == [r.id for r in (*partial, rest)]

    # Nothing is left: another refund, with or without an amount, is refused.
    for amount in (None, 1):
        failure = shop.fail(PAYMENTS, "RefundPayment", shop.refund_request(payment.id, amount))
        assert (failure.code, failure.reason) == (
            "FAILED_PRECONDITION",
            "REFUND_EXCEEDS_REFUNDABLE",
        )
        assert failure.metadata["refundable_minor"] == "0"

    # An invoice payment's refunds are contra-revenue; clearing gives the money back.
    assert shop.moved("refunds:USD") == (1000, 0)
    assert shop.moved(clearing()) == (1000, 1000)
    assert shop.moved(credit_of(customer.id)) == (0, 0)
    assert len(shop.transactions("payment_refund")) == 4
    assert shop.verify_ledger().intact
    assert len(shop.events("refund.succeeded")) == 4


def test_a_refund_over_what_is_left_is_refused_with_the_refundable_amount(shop: Shop) -> None:
    customer = shop.customer("tok_visa")
    payment = shop.charge(customer.id, 1000)
    shop.refund(payment.id, 300)

    failure = shop.fail(PAYMENTS, "RefundPayment", shop.refund_request(payment.id, 701))

    assert (failure.code, failure.reason) == ("FAILED_PRECONDITION", "REFUND_EXCEEDS_REFUNDABLE")
    assert failure.metadata["refundable_minor"] == "700"
    assert shop.payment(payment.id).amount_refunded.amount_minor == 300
    assert len(shop.refunds(payment.id)) == 1
    # What is left is still refundable.
    assert shop.refund(payment.id, 700).status == REFUND_SUCCEEDED


def test_a_standalone_payments_refund_comes_out_of_the_customers_credit(
    grpc_shop: Shop,
) -> None:
    customer = grpc_shop.customer("tok_visa")
    payment = grpc_shop.charge(customer.id, 1000)

    refund = grpc_shop.refund(payment.id, 250)

    assert refund.status == REFUND_SUCCEEDED
    assert grpc_shop.moved(credit_of(customer.id)) == (250, 1000)
    assert grpc_shop.moved(clearing()) == (1000, 250)
    assert grpc_shop.moved("refunds:USD") == (0, 0)
    [posted] = grpc_shop.transactions("payment_refund", refund.id)
    assert posted.id == refund.ledger_transaction_id
    assert grpc_shop.verify_ledger().intact


def test_a_failed_payment_cannot_be_refunded(grpc_shop: Shop) -> None:
    customer = grpc_shop.customer("tok_do_not_honor")
    payment = grpc_shop.charge(customer.id, 1000)
    assert payment.status == FAILED

    failure = grpc_shop.fail(PAYMENTS, "RefundPayment", grpc_shop.refund_request(payment.id))

    assert (failure.code, failure.reason) == ("FAILED_PRECONDITION", "INVALID_STATE")
    assert grpc_shop.refunds(payment.id) == []


def test_a_refund_in_another_currency_is_refused(grpc_shop: Shop) -> None:
    customer = grpc_shop.customer("tok_visa")
    payment = grpc_shop.charge(customer.id, 1000)
    request = grpc_shop.refund_request(payment.id, 100)
    request.amount.currency_code = "EUR"

    failure = grpc_shop.fail(PAYMENTS, "RefundPayment", request)

    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "CURRENCY_MISMATCH")
    assert grpc_shop.refunds(payment.id) == []


def test_a_refund_the_psp_refuses_fails_and_the_amount_stays_refundable(shop: Shop) -> None:
    customer = shop.customer("tok_refund_fails")
    payment = shop.charge(customer.id, 1000)
    assert payment.status == SUCCEEDED

    refund = shop.refund(payment.id, 400)

    assert refund.status == REFUND_FAILED
    assert refund.failure_code == "expired_or_canceled_card"
    assert refund.ledger_transaction_id == ""
    assert shop.payment(payment.id).amount_refunded.amount_minor == 0
    assert shop.transactions("payment_refund") == []
    # The whole amount is refundable again: asking for it all is accepted.
    failure = shop.fail(PAYMENTS, "RefundPayment", shop.refund_request(payment.id, 1001))
    assert failure.metadata["refundable_minor"] == "1000"
    again = shop.refund(payment.id)
    assert (again.status, again.amount) == (REFUND_FAILED, usd(1000))
    assert shop.moved(clearing()) == (1000, 0)
    assert shop.verify_ledger().intact
    assert len(shop.events("refund.failed")) == 2


def test_concurrent_partial_refunds_never_exceed_the_captured_amount(
    database_url: str, own_shop: Callable[..., Shop]
) -> None:
    threads, each, captured = 16, 100, 1000
    with running_server(database_url) as server:
        api_key = server.new_tenant()
        shop = own_shop(server, api_key)
        customer = shop.customer("tok_visa")
        payment = shop.charge(customer.id, captured)
        assert payment.status == SUCCEEDED

        outcomes: Counter[str] = Counter()
        refunds: list[pay.Refund] = []
        lock = threading.Lock()
        start = threading.Barrier(threads)

        def refund_once() -> None:
            clients = GrpcClients(server.grpc_target, api_key)
            request = Shop.refund_request(payment.id, each)
            try:
                start.wait(timeout=30)
                for _ in range(20):
                    try:
                        done = clients.payments.RefundPayment(
                            request, metadata=clients.metadata, timeout=30
                        )
                    except grpc.RpcError as error:
                        failure = failure_of_grpc(error)
                        with lock:
                            outcomes[failure.reason] += 1
                        if failure.code == "ABORTED":
                            time.sleep(0.01)
                            continue  # told to retry: the same request again
                        return
                    with lock:
                        outcomes[pay.RefundStatus.Name(done.status)] += 1
                        refunds.append(done)
                    return
            finally:
                clients.close()

        workers = [threading.Thread(target=refund_once, daemon=True) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=90)
            assert not worker.is_alive(), "a refund hung"

        fits = captured // each
        assert outcomes["REFUND_STATUS_SUCCEEDED"] == fits, outcomes
        assert outcomes["REFUND_EXCEEDS_REFUNDABLE"] == threads - fits, outcomes
        assert set(outcomes) <= {
            "REFUND_STATUS_SUCCEEDED",
            "REFUND_EXCEEDS_REFUNDABLE",
            "CONCURRENT_MODIFICATION",
            "IDEMPOTENCY_REQUEST_IN_FLIGHT",
        }, outcomes
        after = shop.payment(payment.id)
        assert after.amount_refunded == usd(captured)
        listed = shop.refunds(payment.id)
        assert sorted(r.id for r in listed) == sorted(r.id for r in refunds)
        assert sum(r.amount.amount_minor for r in listed) == captured
        assert shop.moved(clearing()) == (captured, captured)
        settle(server.app)  # listed once sequenced (PostgreSQL numbers after commit)
        assert len(shop.transactions("payment_refund")) == fits
        verdict = shop.verify_ledger()
        assert verdict.intact, verdict


# -- lost answers -----------------------------------------------------------------------


def test_a_lost_answer_is_unknown_until_the_psp_is_asked_then_succeeds_once(
    sqlite_url: str, own_shop: Callable[..., Shop]
) -> None:
    # Inquiries are due at once; the breaker stays shut through three lost answers.
    settings = {
        "payment_first_inquiry_seconds": 0,
        "payment_inquiry_interval_seconds": 0.001,
        "psp_breaker_failures": 100,
    }
    with running_server(sqlite_url, **settings) as server:
        api_key = server.new_tenant()
        shop = own_shop(server, api_key)
        customer = shop.customer("tok_lost_response")
        invoice = shop.open_invoice(customer.id, 800)
        request = shop.pay_request(customer.id, invoice_id=invoice.id)

        payment = shop.call(PAYMENTS, "CreatePayment", request)

        assert payment.status == UNKNOWN
        assert statuses(payment)[-1] == (PROCESSING, UNKNOWN)
        assert payment.transitions[-1].cause == "psp_no_answer"
        assert payment.psp_request_count >= 1
        assert shop.transactions("payment_capture") == []
        assert shop.invoice(invoice.id).status == OPEN
        # While its outcome is unknown, the invoice cannot be paid a second time.
        shop.attach(customer.id, "tok_visa", make_default=True)
        busy = shop.fail(
            PAYMENTS, "CreatePayment", shop.pay_request(customer.id, invoice_id=invoice.id)
        )
        assert (busy.code, busy.reason) == ("FAILED_PRECONDITION", "INVALID_STATE")

        time.sleep(0.01)
        resolved = server.app.resolver.resolve_due(limit=100)
        assert resolved.payments == 1
        assert server.app.resolver.resolve_due(limit=100).payments == 0

        settled = shop.payment(payment.id)
        assert settled.status == SUCCEEDED
        assert statuses(settled)[-1] == (UNKNOWN, SUCCEEDED)
        assert settled.transitions[-1].cause == "psp_inquiry"
        assert settled.psp_charge_id and settled.fee.amount_minor > 0
        [capture] = shop.transactions("payment_capture")
        assert capture.id == settled.ledger_transaction_id
        paid = shop.invoice(invoice.id)
        assert (paid.status, paid.amount_paid) == (PAID, usd(800))
        assert shop.moved(receivable_of(customer.id)) == (800, 800)
        assert shop.moved(clearing()) == (800, 0)
        # Repeating the request returns the payment as it stands now.
        assert shop.call(PAYMENTS, "CreatePayment", request) == settled
        # Asking again changes nothing.
        again = server.app.payments.resolve(server.tenant_of(api_key), payment.id)
        assert again.status.name == "SUCCEEDED"
        assert shop.payment(payment.id) == settled
        assert len(shop.transactions("payment_capture")) == 1
        assert len(shop.events("payment.succeeded")) == 1
        assert len(shop.events("invoice.paid")) == 1
        assert shop.verify_ledger().intact


# -- protection: rate limits and the circuit breaker ------------------------------------


def test_payments_beyond_the_tenants_burst_are_rate_limited(
    sqlite_url: str, own_shop: Callable[..., Shop]
) -> None:
    with running_server(sqlite_url, payment_rate_per_second=1, payment_rate_burst=3) as server:
        shop, neighbour = own_shop(server), own_shop(server)
        customer = shop.customer("tok_visa")
        made = [shop.charge(customer.id, 100 + n) for n in range(3)]

        failure, delay = shop.refused(PAYMENTS, "CreatePayment", shop.pay_request(customer.id, 999))

        assert (failure.code, failure.reason) == ("RESOURCE_EXHAUSTED", "RATE_LIMITED")
        assert delay is not None and 0 < delay <= 1.0
        # Nothing was recorded for the refused call.
        assert [p.id for p in shop.payments()] == [p.id for p in made]
        assert len(shop.events("payment.created")) == 3
        assert shop.moved(clearing()) == (100 + 101 + 102, 0)
        # Another tenant has a bucket of its own; so do a tenant's refunds.
        other = neighbour.customer("tok_visa")
        assert neighbour.charge(other.id, 500).status == SUCCEEDED
        assert shop.refund(made[0].id).status == REFUND_SUCCEEDED
        # The bucket refills at the configured rate.
        time.sleep(delay + 0.05)
        assert shop.charge(customer.id, 999).status == SUCCEEDED


def test_an_open_circuit_breaker_refuses_payments_without_recording_them(
    sqlite_url: str, own_shop: Callable[..., Shop]
) -> None:
    settings = {"psp_breaker_failures": 2, "psp_breaker_reset_seconds": 2.0}
    with running_server(sqlite_url, **settings) as server:
        shop = own_shop(server)
        good = shop.customer("tok_visa")
        earlier = shop.charge(good.id, 1000)
        assert earlier.status == SUCCEEDED
        failing = shop.customer("tok_5xx")

        # Two 503s in a row open the breaker; the call does not try a third time.
        tripped = shop.charge(failing.id, 500)
        assert tripped.status in (UNKNOWN, FAILED)
        assert tripped.psp_request_count == 2
        assert tripped.ledger_transaction_id == ""

        before = shop.payments()
        for request in (
            shop.pay_request(good.id, 300),
            shop.pay_request(failing.id, 300),
        ):
            failure, delay = shop.refused(PAYMENTS, "CreatePayment", request)
            assert (failure.code, failure.reason) == ("UNAVAILABLE", "PSP_UNAVAILABLE")
            assert delay is not None and 0 < delay <= 2.0
        failure, delay = shop.refused(
            PAYMENTS, "RefundPayment", shop.refund_request(earlier.id, 100)
        )
        assert (failure.code, failure.reason) == ("UNAVAILABLE", "PSP_UNAVAILABLE")
        assert delay is not None

        assert shop.payments() == before
        assert shop.refunds(earlier.id) == []
        assert len(shop.events("payment.created")) == 2
        assert shop.moved(clearing()) == (1000, 0)

        # Once the breaker lets a probe through, a good charge goes through again.
        time.sleep(2.1)
        assert shop.charge(good.id, 300).status == SUCCEEDED


def test_a_prepayment_spent_on_invoices_is_refundable_only_up_to_the_credit_left(
    shop: Shop,
) -> None:
    customer = shop.customer("tok_visa")
    payment = shop.charge(customer.id, 1000)
    invoice = shop.finalized_invoice(customer.id, 600)
    assert invoice.status == PAID  # paid from the credit balance

    failure = shop.fail(PAYMENTS, "RefundPayment", shop.refund_request(payment.id, 401))
    assert (failure.code, failure.reason) == ("FAILED_PRECONDITION", "REFUND_EXCEEDS_REFUNDABLE")
    assert failure.metadata["refundable_minor"] == "400"
    failure = shop.fail(PAYMENTS, "RefundPayment", shop.refund_request(payment.id))
    assert failure.reason == "REFUND_EXCEEDS_REFUNDABLE"

    refund = shop.refund(payment.id, 400)
    assert refund.status == pay.REFUND_STATUS_SUCCEEDED
    # The credit balance is used up exactly, never negative.
    debits, credits = shop.moved(credit_of(customer.id))
    assert credits - debits == 0
    assert shop.verify_ledger().intact
