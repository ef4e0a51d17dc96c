"""One valid request per RPC, for tests that must cover every method.

`SAMPLES` is checked against the service descriptors (see
test_samples_cover_every_rpc), so a new RPC fails the suite until it has a
sample here - and is then covered by the auth, isolation and parity tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf import field_mask_pb2
from google.protobuf.message import Message

from accrue.billing.v1 import catalog_pb2 as cat
from accrue.billing.v1 import customer_pb2 as cus
from accrue.billing.v1 import event_pb2 as ev
from accrue.billing.v1 import ledger_pb2 as led
from accrue.billing.v1.money_pb2 import Money


@dataclass(frozen=True)
class Ids:
    product: str
    price: str
    customer: str
    payment_method: str
    transaction: str = ""
    account: str = ""


def _mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


def _rid() -> str:
    return str(uuid.uuid4())


def _adjustment(ids: Ids) -> led.CreateAdjustmentRequest:
    """Opening cash for the customer's receivable: 10.00 USD, balanced."""
    usd = Money(amount_minor=1000, currency_code="USD")
    receivable = f"accounts_receivable:USD:{ids.customer}" if ids.customer else "bank:USD"
    return led.CreateAdjustmentRequest(
        entries=[
            led.LedgerEntry(account_id=receivable, direction=led.ENTRY_DIRECTION_DEBIT, amount=usd),
            led.LedgerEntry(
                account_id="opening_balance:USD", direction=led.ENTRY_DIRECTION_CREDIT, amount=usd
            ),
        ],
        reason="sample adjustment",
        request_id=_rid(),
    )


SAMPLES: dict[str, Callable[[Ids], Message]] = {
    "accrue.billing.v1.CatalogService/CreateProduct": lambda ids: cat.CreateProductRequest(
        product=cat.Product(display_name="Sample"), request_id=_rid()
    ),
    "accrue.billing.v1.CatalogService/GetProduct": lambda ids: cat.GetProductRequest(
        id=ids.product
    ),
    "accrue.billing.v1.CatalogService/ListProducts": lambda ids: cat.ListProductsRequest(),
    "accrue.billing.v1.CatalogService/UpdateProduct": lambda ids: cat.UpdateProductRequest(
        product=cat.Product(id=ids.product, description="changed"),
        update_mask=_mask("description"),
        request_id=_rid(),
    ),
    "accrue.billing.v1.CatalogService/ArchiveProduct": lambda ids: cat.ArchiveProductRequest(
        id=ids.product, request_id=_rid()
    ),
    "accrue.billing.v1.CatalogService/CreatePrice": lambda ids: cat.CreatePriceRequest(
        price=cat.Price(
            product_id=ids.product,
            currency_code="USD",
            pricing_scheme=cat.PRICING_SCHEME_PER_UNIT,
            unit_amount=Money(amount_minor=500, currency_code="USD"),
        ),
        request_id=_rid(),
    ),
    "accrue.billing.v1.CatalogService/GetPrice": lambda ids: cat.GetPriceRequest(id=ids.price),
    "accrue.billing.v1.CatalogService/ListPrices": lambda ids: cat.ListPricesRequest(
        product_id=ids.product
    ),
    "accrue.billing.v1.CatalogService/UpdatePrice": lambda ids: cat.UpdatePriceRequest(
        price=cat.Price(id=ids.price, nickname="renamed"),
        update_mask=_mask("nickname"),
        request_id=_rid(),
    ),
    "accrue.billing.v1.CatalogService/ArchivePrice": lambda ids: cat.ArchivePriceRequest(
        id=ids.price, request_id=_rid()
    ),
    "accrue.billing.v1.CustomerService/CreateCustomer": lambda ids: cus.CreateCustomerRequest(
        customer=cus.Customer(display_name="Sample", currency_code="USD"), request_id=_rid()
    ),
    "accrue.billing.v1.CustomerService/GetCustomer": lambda ids: cus.GetCustomerRequest(
        id=ids.customer
    ),
    "accrue.billing.v1.CustomerService/ListCustomers": lambda ids: cus.ListCustomersRequest(),
    "accrue.billing.v1.CustomerService/UpdateCustomer": lambda ids: cus.UpdateCustomerRequest(
        customer=cus.Customer(id=ids.customer, email="changed@example.com"),
        update_mask=_mask("email"),
        request_id=_rid(),
    ),
    "accrue.billing.v1.CustomerService/ArchiveCustomer": lambda ids: cus.ArchiveCustomerRequest(
        id=ids.customer, request_id=_rid()
    ),
    "accrue.billing.v1.CustomerService/AttachPaymentMethod": lambda ids: (
        cus.AttachPaymentMethodRequest(
            customer_id=ids.customer,
            payment_method=cus.PaymentMethod(
                psp="simulated", token="tok_sample", type=cus.PAYMENT_METHOD_TYPE_CARD
            ),
            request_id=_rid(),
        )
    ),
    "accrue.billing.v1.CustomerService/DetachPaymentMethod": lambda ids: (
        cus.DetachPaymentMethodRequest(
            customer_id=ids.customer, payment_method_id=ids.payment_method, request_id=_rid()
        )
    ),
    "accrue.billing.v1.LedgerService/ListAccounts": lambda ids: led.ListAccountsRequest(),
    "accrue.billing.v1.LedgerService/GetAccount": lambda ids: led.GetAccountRequest(id=ids.account),
    "accrue.billing.v1.LedgerService/ListTransactions": lambda ids: led.ListTransactionsRequest(),
    "accrue.billing.v1.LedgerService/GetTransaction": lambda ids: led.GetTransactionRequest(
        id=ids.transaction
    ),
    "accrue.billing.v1.LedgerService/CreateAdjustment": _adjustment,
    "accrue.billing.v1.LedgerService/ReverseTransaction": lambda ids: led.ReverseTransactionRequest(
        transaction_id=ids.transaction, reason="sample reversal", request_id=_rid()
    ),
    "accrue.billing.v1.LedgerService/VerifyLedger": lambda ids: led.VerifyLedgerRequest(),
    "accrue.billing.v1.EventService/ListEvents": lambda ids: ev.ListEventsRequest(),
    "accrue.billing.v1.EventService/StreamEvents": lambda ids: ev.StreamEventsRequest(),
}


def seed(call: Callable[[str, str, Message], Message]) -> Ids:
    """Create one of each resource for the calling tenant."""
    product = call(
        "accrue.billing.v1.CatalogService",
        "CreateProduct",
        cat.CreateProductRequest(product=cat.Product(display_name="Seed")),
    )
    price = call(
        "accrue.billing.v1.CatalogService",
        "CreatePrice",
        SAMPLES["accrue.billing.v1.CatalogService/CreatePrice"](Ids(product.id, "", "", "")),
    )
    customer = call(
        "accrue.billing.v1.CustomerService",
        "CreateCustomer",
        cus.CreateCustomerRequest(customer=cus.Customer(display_name="Seed", currency_code="USD")),
    )
    with_method = call(
        "accrue.billing.v1.CustomerService",
        "AttachPaymentMethod",
        SAMPLES["accrue.billing.v1.CustomerService/AttachPaymentMethod"](
            Ids("", "", customer.id, "")
        ),
    )
    partial = Ids(product.id, price.id, customer.id, with_method.payment_methods[0].id)
    adjustment = call(
        "accrue.billing.v1.LedgerService",
        "CreateAdjustment",
        SAMPLES["accrue.billing.v1.LedgerService/CreateAdjustment"](partial),
    )
    return Ids(
        product.id,
        price.id,
        customer.id,
        with_method.payment_methods[0].id,
        transaction=adjustment.id,
        account=adjustment.entries[0].account_id,
    )
