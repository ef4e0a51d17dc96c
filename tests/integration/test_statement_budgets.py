"""Round-trip budgets of the hot paths, counted (never timed), on SQLite and PostgreSQL.

Each call runs through the same Invoker both transports use. Statements are
counted without transaction control; on PostgreSQL the BEGIN and COMMIT a
transaction costs are asserted separately, so that reads stay transaction-free.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import nullcontext
from typing import Any

import pytest
from google.protobuf.message import Message

from accrue.billing.v1 import customer_pb2 as cus
from accrue.billing.v1 import invoice_pb2, money_pb2, payment_pb2
from accrue.bootstrap import Application, build_application
from accrue.config import Settings
from accrue.platform.db.statements import StatementCount, count_statements
from tests.redis_support import redis_prefix

# Statements a payment's own work may take over its two transactions, the
# capture's ledger posting and the per-tenant event-head update not included
# (both belong to the ledger and event sequencing).
PAYMENT_OWN_STATEMENTS = 7
# On PostgreSQL a payment row and its status history are written in one
# statement, so the whole payment, posting included, fits in ten.
PAYMENT_STATEMENTS_ON_POSTGRES = 10
LEDGER_OR_HEAD = (
    "ledger_heads",
    "ledger_transactions",
    "ledger_entries",
    "ledger_accounts",
    "event_heads",
)


class InProcess:
    """Calls through the application's Invoker, as a transport makes them."""

    def __init__(self, app: Application) -> None:
        self.app = app
        self._routes = {route.full_name: route for route in app.routes}
        key = app.tenants.create_tenant(f"budget-{uuid.uuid4().hex[:8]}").api_key
        self._metadata = {"authorization": f"Bearer {key}"}

    def call(self, service: str, method: str, request: Message) -> Any:
        route = self._routes[f"accrue.billing.v1.{service}/{method}"]
        return self.app.invoker.invoke(route, request, self._metadata, transport="grpc")

    def counted(self, service: str, method: str, request: Message) -> StatementCount:
        self.call("CustomerService", "ListCustomers", cus.ListCustomersRequest())  # auth cached
        with count_statements(self.app.engine) as counted:
            self.call(service, method, request)
        return counted

    def payer(self) -> str:
        customer = self.call("CustomerService", "CreateCustomer", new_customer())
        self.call(
            "CustomerService",
            "AttachPaymentMethod",
            cus.AttachPaymentMethodRequest(
                customer_id=customer.id,
                payment_method=cus.PaymentMethod(
                    psp="simulated", token="tok_visa", type=cus.PAYMENT_METHOD_TYPE_CARD
                ),
                request_id=str(uuid.uuid4()),
            ),
        )
        return str(customer.id)


def new_customer() -> cus.CreateCustomerRequest:
    return cus.CreateCustomerRequest(
        customer=cus.Customer(display_name="Budget Ltd", currency_code="USD"),
        request_id=str(uuid.uuid4()),
    )


def payment(customer_id: str) -> payment_pb2.CreatePaymentRequest:
    return payment_pb2.CreatePaymentRequest(
        customer_id=customer_id,
        amount=money_pb2.Money(amount_minor=1250, currency_code="USD"),
        request_id=str(uuid.uuid4()),
    )


@pytest.fixture(params=["in-process", "redis"])
def calls(request: pytest.FixtureRequest, database_url: str) -> Iterator[InProcess]:
    """The application with in-flight claims in-process, and with them in Redis."""
    if request.param == "redis" and database_url.startswith("sqlite"):
        pytest.skip("SQLite takes no cross-process lock either way: nothing to compare")
    settings: dict[str, Any] = {"database_url": database_url, "log_level": "WARNING"}
    with redis_prefix() if request.param == "redis" else nullcontext() as shared:
        if shared is not None:
            settings.update(redis_url=shared[0], redis_key_prefix=shared[1])
        app = build_application(Settings(**settings))
        try:
            yield InProcess(app)
        finally:
            app.close()


def test_hot_paths_stay_within_their_statement_budgets(calls: InProcess) -> None:
    customer_id = calls.payer()
    on_postgres = calls.app.engine.dialect.name == "postgresql"
    # On PostgreSQL without Redis, one more per mutation: the advisory lock that
    # tells a duplicate at another process that the request is in flight.
    cross_process_claim = on_postgres and calls.app.shared_state is None

    get = calls.counted("CustomerService", "GetCustomer", cus.GetCustomerRequest(id=customer_id))
    assert get.statements == 1, get.describe()
    if on_postgres:
        assert get.round_trips == 1, "a read takes no transaction\n" + get.describe()

    create = calls.counted("CustomerService", "CreateCustomer", new_customer())
    assert create.statements <= 4 + cross_process_claim, create.describe()
    if on_postgres:
        # BEGIN, and the COMMIT that carries the last statement with it.
        assert create.round_trips <= create.statements + 1, create.describe()
        # The stored response rides in the statement that queues the events.
        assert create.touching("idempotency_keys") == 1, create.describe()
        riding = [s for s in create.sql if "idempotency_keys" in s and "event_queue" in s]
        assert len(riding) == 1, create.describe()
        assert create.statements <= 3 + cross_process_claim, create.describe()

    paid = calls.counted("PaymentService", "CreatePayment", payment(customer_id))
    own = paid.statements - paid.touching(*LEDGER_OR_HEAD)
    assert own <= PAYMENT_OWN_STATEMENTS + cross_process_claim, paid.describe()
    if on_postgres:
        assert paid.driver_begins == 2, paid.describe()
        # Everything included (ledger posting, in-flight claim): the budget.
        assert paid.statements <= PAYMENT_STATEMENTS_ON_POSTGRES, paid.describe()


def test_a_finaliser_holds_the_invoice_counter_for_one_round_trip_and_its_commit(
    calls: InProcess,
) -> None:
    """Finalisers of a tenant queue on its gapless counter until their COMMIT,
    so what comes after the counter is sent with the COMMIT (PostgreSQL)."""
    if calls.app.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: a counter is never waited on")
    customer_id = calls.payer()
    line = invoice_pb2.InvoiceLineInput(
        unit_amount=money_pb2.Money(amount_minor=1999, currency_code="USD"),
        quantity=2,
        description="Seats",
    )
    draft = calls.call(
        "InvoiceService",
        "CreateInvoice",
        invoice_pb2.CreateInvoiceRequest(
            customer_id=customer_id, lines=[line], request_id=str(uuid.uuid4())
        ),
    )
    request = invoice_pb2.FinalizeInvoiceRequest(id=draft.id, request_id=str(uuid.uuid4()))
    final = calls.counted("InvoiceService", "FinalizeInvoice", request)
    counter = [i for i, s in enumerate(final.sql) if "document_counters" in s]
    assert len(counter) == 1, final.describe()
    after = list(range(counter[0] + 1, len(final.sql)))
    assert final.pipelined == after, final.describe()
    sent_with_commit = " ".join(final.sql[i] for i in after)
    for table in ("UPDATE invoices", "event_queue", "idempotency_keys"):
        assert table in sent_with_commit, final.describe()
    # BEGIN, the statements up to the counter, then one round trip for the rest.
    assert final.round_trips == final.statements + 2 - len(after), final.describe()
    # Its "now" comes from the invoice's test clock: the customer is not read.
    assert final.touching("FROM customers") == 0, final.describe()

    stored = calls.call("InvoiceService", "GetInvoice", invoice_pb2.GetInvoiceRequest(id=draft.id))
    assert stored.status == invoice_pb2.INVOICE_STATUS_OPEN and stored.number, stored
    assert stored.total.amount_minor == 3998


def test_replays_still_answer_the_first_response_and_change_nothing(calls: InProcess) -> None:
    request = new_customer()
    first = calls.call("CustomerService", "CreateCustomer", request)
    assert calls.call("CustomerService", "CreateCustomer", request) == first

    customer_id = calls.payer()
    charge = payment(customer_id)
    paid = calls.call("PaymentService", "CreatePayment", charge)
    again = calls.call("PaymentService", "CreatePayment", charge)
    assert again.id == paid.id and again.status == paid.status
    listed = calls.call(
        "PaymentService", "ListPayments", payment_pb2.ListPaymentsRequest(customer_id=customer_id)
    )
    assert [p.id for p in listed.payments] == [paid.id]
    customers = calls.call("CustomerService", "ListCustomers", cus.ListCustomersRequest())
    assert sorted(c.id for c in customers.customers) == sorted([first.id, customer_id])
