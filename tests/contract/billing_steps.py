"""Steps for billing lifecycle scenarios: one test clock, customer and catalog per scenario.

`Scenario` wraps a transport (`tests.conftest.Transport`) and names every call
a lifecycle test makes, so the tests read as the story they check. Times go in
and come out as aware UTC datetimes; amounts are integer minor units.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from google.protobuf import timestamp_pb2
from google.protobuf.message import Message

from accrue.billing.v1 import catalog_pb2 as cat
from accrue.billing.v1 import customer_pb2 as cus
from accrue.billing.v1 import invoice_pb2 as inv
from accrue.billing.v1 import ledger_pb2 as led
from accrue.billing.v1 import subscription_pb2 as sub
from accrue.billing.v1 import test_clock_pb2 as clk
from accrue.billing.v1.money_pb2 import Money
from tests.conftest import Transport
from tests.support import GrpcClients, RunningServer

CATALOG = "accrue.billing.v1.CatalogService"
CUSTOMERS = "accrue.billing.v1.CustomerService"
LEDGER = "accrue.billing.v1.LedgerService"
SUBSCRIPTIONS = "accrue.billing.v1.SubscriptionService"
INVOICES = "accrue.billing.v1.InvoiceService"
CLOCKS = "accrue.billing.v1.TestClockService"

MONTH, YEAR = cat.INTERVAL_UNIT_MONTH, cat.INTERVAL_UNIT_YEAR
EXCLUSIVE, INCLUSIVE = cat.TAX_BEHAVIOR_EXCLUSIVE, cat.TAX_BEHAVIOR_INCLUSIVE
CREATE_PRORATIONS = sub.PRORATION_BEHAVIOR_CREATE_PRORATIONS
ALWAYS_INVOICE = sub.PRORATION_BEHAVIOR_ALWAYS_INVOICE
NO_PRORATION = sub.PRORATION_BEHAVIOR_NONE
ACTIVE, TRIALING = sub.SUBSCRIPTION_STATUS_ACTIVE, sub.SUBSCRIPTION_STATUS_TRIALING
PAUSED, CANCELED = sub.SUBSCRIPTION_STATUS_PAUSED, sub.SUBSCRIPTION_STATUS_CANCELED
DRAFT, OPEN = inv.INVOICE_STATUS_DRAFT, inv.INVOICE_STATUS_OPEN
PAID, VOID = inv.INVOICE_STATUS_PAID, inv.INVOICE_STATUS_VOID
CREATE = inv.BILLING_REASON_SUBSCRIPTION_CREATE
CYCLE = inv.BILLING_REASON_SUBSCRIPTION_CYCLE
UPDATE = inv.BILLING_REASON_SUBSCRIPTION_UPDATE
ADJUSTMENT = inv.BILLING_REASON_SUBSCRIPTION_ADJUSTMENT
# What differs between an upcoming (preview) invoice and the one later issued.
ISSUE_FIELDS = ("id", "number", "status", "create_time", "finalize_time", "ledger_transaction_id")


def grpc_transport(server: RunningServer, api_key: str) -> Iterator[Transport]:
    """A gRPC-only transport, for scenarios whose Connect coverage others give."""
    clients = GrpcClients(server.grpc_target, api_key)
    try:
        yield Transport("grpc", clients)
    finally:
        clients.close()


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """`utc(2024, 1, 31, 5)` is 2024-01-31T05:00:00Z."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def stamp(value: datetime) -> timestamp_pb2.Timestamp:
    result = timestamp_pb2.Timestamp()
    result.FromDatetime(value)
    return result


def when(value: timestamp_pb2.Timestamp) -> datetime:
    return value.ToDatetime(tzinfo=UTC)


def money(amount: int, currency: str = "USD") -> Money:
    return Money(amount_minor=amount, currency_code=currency)


# A uuid's dash-separated digit groups are, now and then, a Luhn-valid card
# number that the server rightly refuses: request ids here carry no digits.
_NO_DIGITS = str.maketrans("0123456789", "ghijklmnop")


def rid() -> str:
    return "req-" + uuid.uuid4().hex.translate(_NO_DIGITS)


def amounts(lines: Any) -> list[int]:
    """The signed amounts of invoice lines, in order."""
    return [line.amount.amount_minor for line in lines]


def periods(messages: Any) -> list[tuple[datetime, datetime]]:
    """(period_start, period_end) of each invoice or line, in order."""
    return [(when(m.period_start), when(m.period_end)) for m in messages]


def serialized(messages: Any) -> list[bytes]:
    return [m.SerializeToString(deterministic=True) for m in messages]


def without(message: Message, *fields: str) -> Message:
    """A copy of `message` with `fields` cleared, for comparing what must agree."""
    copy = type(message)()
    copy.CopyFrom(message)
    for name in fields:
        copy.ClearField(name)
    return copy


class Scenario:
    """One tenant's lifecycle story on its own test clock."""

    def __init__(self, rpc: Transport, start: datetime, *, name: str = "scenario") -> None:
        self.rpc = rpc
        self.clock = self.call(
            CLOCKS,
            "CreateTestClock",
            clk.CreateTestClockRequest(
                test_clock=clk.TestClock(display_name=name, frozen_time=stamp(start)),
                request_id=rid(),
            ),
        )
        self.product = self.call(
            CATALOG,
            "CreateProduct",
            cat.CreateProductRequest(product=cat.Product(display_name=name), request_id=rid()),
        )

    def call(self, service: str, method: str, request: Message) -> Any:
        return self.rpc.call(service, method, request)

    def fail(self, service: str, method: str, request: Message) -> Any:
        return self.rpc.fail(service, method, request)

    # -- arranging -----------------------------------------------------------

    def customer(
        self, *, currency: str = "USD", time_zone: str = "UTC", tax_country: str = ""
    ) -> cus.Customer:
        customer = cus.Customer(
            display_name="Lifecycle",
            currency_code=currency,
            time_zone=time_zone,
            test_clock_id=self.clock.id,
        )
        if tax_country:
            customer.tax_location.CopyFrom(cus.TaxLocation(country_code=tax_country))
        return self.call(
            CUSTOMERS,
            "CreateCustomer",
            cus.CreateCustomerRequest(customer=customer, request_id=rid()),
        )

    def price(
        self,
        amount: int,
        *,
        currency: str = "USD",
        unit: int = MONTH,
        count: int = 1,
        tax_behavior: int = EXCLUSIVE,
        recurring: bool = True,
    ) -> cat.Price:
        price = cat.Price(
            product_id=self.product.id,
            currency_code=currency,
            pricing_scheme=cat.PRICING_SCHEME_PER_UNIT,
            unit_amount=money(amount, currency),
            tax_behavior=tax_behavior,
        )
        if recurring:
            price.recurring.CopyFrom(cat.Recurring(interval_unit=unit, interval_count=count))
        return self.call(
            CATALOG, "CreatePrice", cat.CreatePriceRequest(price=price, request_id=rid())
        )

    def subscribe(
        self, customer_id: str, price_id: str, *, quantity: int = 1, trial_days: int = 0
    ) -> sub.Subscription:
        request = self.subscribe_request(
            customer_id, price_id, quantity=quantity, trial_days=trial_days
        )
        return self.call(SUBSCRIPTIONS, "CreateSubscription", request)

    @staticmethod
    def subscribe_request(
        customer_id: str, price_id: str, *, quantity: int = 1, trial_days: int = 0
    ) -> sub.CreateSubscriptionRequest:
        return sub.CreateSubscriptionRequest(
            customer_id=customer_id,
            items=[sub.SubscriptionItem(price_id=price_id, quantity=quantity)],
            trial_days=trial_days,
            request_id=rid(),
        )

    def advance_request(self, to: datetime) -> clk.AdvanceTestClockRequest:
        return clk.AdvanceTestClockRequest(
            id=self.clock.id, frozen_time=stamp(to), request_id=rid(), wait=True
        )

    def advance(self, to: datetime) -> clk.TestClock:
        """Move the clock to `to`, running every renewal, trial end and cancellation due."""
        self.clock = self.call(CLOCKS, "AdvanceTestClock", self.advance_request(to))
        return self.clock

    # -- subscriptions -------------------------------------------------------

    def subscription(self, subscription_id: str) -> sub.Subscription:
        request = sub.GetSubscriptionRequest(id=subscription_id)
        return self.call(SUBSCRIPTIONS, "GetSubscription", request)

    @staticmethod
    def change_request(
        subscription_id: str,
        price_id: str,
        *,
        quantity: int = 1,
        behavior: int = CREATE_PRORATIONS,
        at: datetime | None = None,
    ) -> sub.ChangeSubscriptionRequest:
        request = sub.ChangeSubscriptionRequest(
            subscription_id=subscription_id,
            items=[sub.SubscriptionItem(price_id=price_id, quantity=quantity)],
            proration_behavior=behavior,
            request_id=rid(),
        )
        if at is not None:
            request.proration_time.CopyFrom(stamp(at))
        return request

    def change(
        self, subscription_id: str, price_id: str, **options: Any
    ) -> sub.ChangeSubscriptionResponse:
        request = self.change_request(subscription_id, price_id, **options)
        return self.call(SUBSCRIPTIONS, "ChangeSubscription", request)

    def preview(
        self, subscription_id: str, price_id: str, **options: Any
    ) -> sub.ChangeSubscriptionResponse:
        change = self.change_request(subscription_id, price_id, **options)
        request = sub.PreviewSubscriptionChangeRequest(
            subscription_id=change.subscription_id,
            items=change.items,
            proration_behavior=change.proration_behavior,
        )
        if change.HasField("proration_time"):
            request.proration_time.CopyFrom(change.proration_time)
        return self.call(SUBSCRIPTIONS, "PreviewSubscriptionChange", request)

    def pause(self, subscription_id: str) -> sub.Subscription:
        request = sub.PauseSubscriptionRequest(subscription_id=subscription_id, request_id=rid())
        return self.call(SUBSCRIPTIONS, "PauseSubscription", request)

    def resume(self, subscription_id: str) -> sub.Subscription:
        request = sub.ResumeSubscriptionRequest(subscription_id=subscription_id, request_id=rid())
        return self.call(SUBSCRIPTIONS, "ResumeSubscription", request)

    def cancel(
        self, subscription_id: str, *, at_period_end: bool = False, prorate: bool = False
    ) -> sub.Subscription:
        request = sub.CancelSubscriptionRequest(
            subscription_id=subscription_id,
            at_period_end=at_period_end,
            prorate=prorate,
            request_id=rid(),
        )
        return self.call(SUBSCRIPTIONS, "CancelSubscription", request)

    def reactivate(self, subscription_id: str) -> sub.Subscription:
        request = sub.ReactivateSubscriptionRequest(
            subscription_id=subscription_id, request_id=rid()
        )
        return self.call(SUBSCRIPTIONS, "ReactivateSubscription", request)

    # -- invoices ------------------------------------------------------------

    def invoice(self, invoice_id: str) -> inv.Invoice:
        return self.call(INVOICES, "GetInvoice", inv.GetInvoiceRequest(id=invoice_id))

    def invoices(self, *, subscription_id: str = "", customer_id: str = "") -> list[inv.Invoice]:
        page = self.call(
            INVOICES,
            "ListInvoices",
            inv.ListInvoicesRequest(
                page_size=1000, subscription_id=subscription_id, customer_id=customer_id
            ),
        )
        assert not page.next_page_token
        return list(page.invoices)

    def upcoming(self, subscription_id: str) -> inv.Invoice:
        request = inv.GetUpcomingInvoiceRequest(subscription_id=subscription_id)
        return self.call(INVOICES, "GetUpcomingInvoice", request)

    def credit_note_request(self, invoice: inv.Invoice, amount: int) -> inv.CreateCreditNoteRequest:
        return inv.CreateCreditNoteRequest(
            invoice_id=invoice.id,
            amount=money(amount, invoice.currency_code),
            reason=inv.CREDIT_NOTE_REASON_SERVICE_CREDIT,
            request_id=rid(),
        )

    def credit_note(self, invoice: inv.Invoice, amount: int) -> inv.CreditNote:
        request = self.credit_note_request(invoice, amount)
        return self.call(INVOICES, "CreateCreditNote", request)

    def void(self, invoice_id: str) -> inv.Invoice:
        request = inv.VoidInvoiceRequest(id=invoice_id, request_id=rid())
        return self.call(INVOICES, "VoidInvoice", request)

    def manual_invoice(self, customer_id: str, amount: int, currency: str = "USD") -> inv.Invoice:
        """A one-off invoice for `amount`, finalised."""
        draft = self.call(
            INVOICES,
            "CreateInvoice",
            inv.CreateInvoiceRequest(
                customer_id=customer_id,
                lines=[inv.InvoiceLineInput(unit_amount=money(amount, currency), description="x")],
                request_id=rid(),
            ),
        )
        request = inv.FinalizeInvoiceRequest(id=draft.id, request_id=rid())
        return self.call(INVOICES, "FinalizeInvoice", request)

    # -- ledger --------------------------------------------------------------

    def account(self, account_id: str) -> led.Account:
        return self.call(LEDGER, "GetAccount", led.GetAccountRequest(id=account_id))

    def balance(self, code: str, customer_id: str, currency: str = "USD") -> int:
        """The balance of `code:currency:customer` on its normal side; 0 if never posted."""
        account_id = f"{code}:{currency}:{customer_id}"
        page = self.call(
            LEDGER, "ListAccounts", led.ListAccountsRequest(customer_id=customer_id, page_size=1000)
        )
        if account_id not in {account.id for account in page.accounts}:
            return 0
        return int(self.account(account_id).balance.amount_minor)

    def receivable(self, customer_id: str, currency: str = "USD") -> int:
        return self.balance("accounts_receivable", customer_id, currency)

    def credit_balance(self, customer_id: str, currency: str = "USD") -> int:
        return self.balance("customer_credit", customer_id, currency)

    def verify_ledger(self) -> led.VerifyLedgerResponse:
        return self.call(LEDGER, "VerifyLedger", led.VerifyLedgerRequest())
