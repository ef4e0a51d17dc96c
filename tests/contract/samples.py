"""One valid request per RPC, for tests that must cover every method.

`SAMPLES` is checked against the service descriptors (see
test_samples_cover_every_rpc), so a new RPC fails the suite until it has a
sample here - and is then covered by the auth, isolation and parity tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from google.protobuf import field_mask_pb2, timestamp_pb2
from google.protobuf.message import Message

from accrue.billing.v1 import catalog_pb2 as cat
from accrue.billing.v1 import customer_pb2 as cus
from accrue.billing.v1 import entitlement_pb2 as ent
from accrue.billing.v1 import event_pb2 as ev
from accrue.billing.v1 import invoice_pb2 as inv
from accrue.billing.v1 import ledger_pb2 as led
from accrue.billing.v1 import payment_pb2 as pay
from accrue.billing.v1 import policy_pb2 as pol
from accrue.billing.v1 import reconciliation_pb2 as rec
from accrue.billing.v1 import subscription_pb2 as sub
from accrue.billing.v1 import test_clock_pb2 as clk
from accrue.billing.v1 import usage_pb2 as use
from accrue.billing.v1 import webhook_pb2 as whk
from accrue.billing.v1.money_pb2 import Money


@dataclass(frozen=True)
class Ids:
    product: str
    price: str
    customer: str
    payment_method: str
    transaction: str = ""
    account: str = ""
    test_clock: str = ""
    clock_customer: str = ""
    recurring_price: str = ""
    subscription: str = ""
    invoice: str = ""
    draft_invoice: str = ""
    payment: str = ""
    reconciliation_run: str = ""
    reconciliation_break: str = ""
    webhook_endpoint: str = ""
    spare_webhook_endpoint: str = ""
    webhook_delivery: str = ""
    meter: str = ""
    usage_event: str = ""
    feature: str = ""
    spare_feature: str = ""


# Subscriptions in samples live on a test clock, so every period and invoice
# time is the same on every run and transport.
CLOCK_START = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


# A public address literal: accepted without DNS, and nothing is sent to it
# because contract-test servers run no dispatcher.
WEBHOOK_URL = "https://93.184.215.14/hooks/accrue"


def _mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


def _rid() -> str:
    """No digits: a uuid's digit groups can read as a card number (see billing_steps.rid)."""
    return "req-" + uuid.uuid4().hex.translate(str.maketrans("0123456789", "ghijklmnop"))


def _stamp(value: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def _items(ids: Ids, quantity: int = 1) -> list[sub.SubscriptionItem]:
    return [sub.SubscriptionItem(price_id=ids.recurring_price, quantity=quantity)]


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
    "accrue.billing.v1.SubscriptionService/CreateSubscription": lambda ids: (
        sub.CreateSubscriptionRequest(
            customer_id=ids.clock_customer, items=_items(ids), request_id=_rid()
        )
    ),
    "accrue.billing.v1.SubscriptionService/GetSubscription": lambda ids: sub.GetSubscriptionRequest(
        id=ids.subscription
    ),
    "accrue.billing.v1.SubscriptionService/ListSubscriptions": lambda ids: (
        sub.ListSubscriptionsRequest()
    ),
    "accrue.billing.v1.SubscriptionService/ChangeSubscription": lambda ids: (
        sub.ChangeSubscriptionRequest(
            subscription_id=ids.subscription, items=_items(ids, 3), request_id=_rid()
        )
    ),
    "accrue.billing.v1.SubscriptionService/PreviewSubscriptionChange": lambda ids: (
        sub.PreviewSubscriptionChangeRequest(subscription_id=ids.subscription, items=_items(ids, 2))
    ),
    "accrue.billing.v1.SubscriptionService/PauseSubscription": lambda ids: (
        sub.PauseSubscriptionRequest(subscription_id=ids.subscription, request_id=_rid())
    ),
    "accrue.billing.v1.SubscriptionService/ResumeSubscription": lambda ids: (
        sub.ResumeSubscriptionRequest(subscription_id=ids.subscription, request_id=_rid())
    ),
    "accrue.billing.v1.SubscriptionService/CancelSubscription": lambda ids: (
        sub.CancelSubscriptionRequest(
            subscription_id=ids.subscription, at_period_end=True, request_id=_rid()
        )
    ),
    "accrue.billing.v1.SubscriptionService/ReactivateSubscription": lambda ids: (
        sub.ReactivateSubscriptionRequest(subscription_id=ids.subscription, request_id=_rid())
    ),
    "accrue.billing.v1.InvoiceService/CreateInvoice": lambda ids: inv.CreateInvoiceRequest(
        customer_id=ids.customer,
        lines=[
            inv.InvoiceLineInput(
                unit_amount=Money(amount_minor=250, currency_code="USD"),
                quantity=2,
                description="Setup",
            )
        ],
        request_id=_rid(),
    ),
    "accrue.billing.v1.InvoiceService/GetInvoice": lambda ids: inv.GetInvoiceRequest(
        id=ids.invoice
    ),
    "accrue.billing.v1.InvoiceService/ListInvoices": lambda ids: inv.ListInvoicesRequest(),
    "accrue.billing.v1.InvoiceService/FinalizeInvoice": lambda ids: inv.FinalizeInvoiceRequest(
        id=ids.draft_invoice, request_id=_rid()
    ),
    "accrue.billing.v1.InvoiceService/VoidInvoice": lambda ids: inv.VoidInvoiceRequest(
        id=ids.invoice, request_id=_rid()
    ),
    "accrue.billing.v1.InvoiceService/MarkInvoiceUncollectible": lambda ids: (
        inv.MarkInvoiceUncollectibleRequest(id=ids.invoice, request_id=_rid())
    ),
    "accrue.billing.v1.InvoiceService/GetUpcomingInvoice": lambda ids: (
        inv.GetUpcomingInvoiceRequest(subscription_id=ids.subscription)
    ),
    "accrue.billing.v1.InvoiceService/CreateCreditNote": lambda ids: inv.CreateCreditNoteRequest(
        invoice_id=ids.invoice,
        amount=Money(amount_minor=100, currency_code="USD"),
        reason=inv.CREDIT_NOTE_REASON_SERVICE_CREDIT,
        request_id=_rid(),
    ),
    "accrue.billing.v1.InvoiceService/ListCreditNotes": lambda ids: inv.ListCreditNotesRequest(),
    "accrue.billing.v1.InvoiceService/GetInvoiceDocument": lambda ids: (
        inv.GetInvoiceDocumentRequest(invoice_id=ids.invoice)
    ),
    "accrue.billing.v1.InvoiceService/CreateInvoiceLink": lambda ids: inv.CreateInvoiceLinkRequest(
        invoice_id=ids.invoice
    ),
    "accrue.billing.v1.TestClockService/CreateTestClock": lambda ids: clk.CreateTestClockRequest(
        test_clock=clk.TestClock(display_name="Sample", frozen_time=_stamp(CLOCK_START)),
        request_id=_rid(),
    ),
    "accrue.billing.v1.TestClockService/GetTestClock": lambda ids: clk.GetTestClockRequest(
        id=ids.test_clock
    ),
    "accrue.billing.v1.TestClockService/ListTestClocks": lambda ids: clk.ListTestClocksRequest(),
    "accrue.billing.v1.TestClockService/AdvanceTestClock": lambda ids: clk.AdvanceTestClockRequest(
        id=ids.test_clock,
        frozen_time=_stamp(CLOCK_START + timedelta(days=40)),
        request_id=_rid(),
    ),
    "accrue.billing.v1.PaymentService/CreatePayment": lambda ids: pay.CreatePaymentRequest(
        customer_id=ids.customer,
        amount=Money(amount_minor=500, currency_code="USD"),
        description="Prepayment",
        request_id=_rid(),
    ),
    "accrue.billing.v1.PaymentService/GetPayment": lambda ids: pay.GetPaymentRequest(
        id=ids.payment
    ),
    "accrue.billing.v1.PaymentService/ListPayments": lambda ids: pay.ListPaymentsRequest(),
    "accrue.billing.v1.PaymentService/RefundPayment": lambda ids: pay.RefundPaymentRequest(
        payment_id=ids.payment,
        amount=Money(amount_minor=100, currency_code="USD"),
        request_id=_rid(),
    ),
    "accrue.billing.v1.PaymentService/ListRefunds": lambda ids: pay.ListRefundsRequest(),
    # The harness follows the header with the chunks of a report (tests/support.py).
    "accrue.billing.v1.ReconciliationService/ImportSettlementReport": lambda ids: (
        rec.ImportSettlementReportRequest(
            header=rec.SettlementReportHeader(
                format=rec.SETTLEMENT_FORMAT_SIMULATED,
                cut_off_time=_stamp(CLOCK_START),
                file_name="empty.csv",
            )
        )
    ),
    "accrue.billing.v1.ReconciliationService/GetReconciliationRun": lambda ids: (
        rec.GetReconciliationRunRequest(id=ids.reconciliation_run)
    ),
    "accrue.billing.v1.ReconciliationService/ListReconciliationRuns": lambda ids: (
        rec.ListReconciliationRunsRequest()
    ),
    "accrue.billing.v1.ReconciliationService/ListReconciliationBreaks": lambda ids: (
        rec.ListReconciliationBreaksRequest(run_id=ids.reconciliation_run)
    ),
    "accrue.billing.v1.ReconciliationService/ResolveReconciliationBreak": lambda ids: (
        rec.ResolveReconciliationBreakRequest(
            id=ids.reconciliation_break, note="Known timing difference", request_id=_rid()
        )
    ),
    "accrue.billing.v1.WebhookService/CreateWebhookEndpoint": lambda ids: (
        whk.CreateWebhookEndpointRequest(
            endpoint=whk.WebhookEndpoint(url=WEBHOOK_URL, event_types=["customer.created"]),
            request_id=_rid(),
        )
    ),
    "accrue.billing.v1.WebhookService/GetWebhookEndpoint": lambda ids: (
        whk.GetWebhookEndpointRequest(id=ids.webhook_endpoint)
    ),
    "accrue.billing.v1.WebhookService/ListWebhookEndpoints": lambda ids: (
        whk.ListWebhookEndpointsRequest()
    ),
    "accrue.billing.v1.WebhookService/UpdateWebhookEndpoint": lambda ids: (
        whk.UpdateWebhookEndpointRequest(
            endpoint=whk.WebhookEndpoint(id=ids.webhook_endpoint, description="Orders service"),
            update_mask=_mask("description"),
            request_id=_rid(),
        )
    ),
    "accrue.billing.v1.WebhookService/DeleteWebhookEndpoint": lambda ids: (
        whk.DeleteWebhookEndpointRequest(id=ids.spare_webhook_endpoint, request_id=_rid())
    ),
    "accrue.billing.v1.WebhookService/RotateWebhookSecret": lambda ids: (
        whk.RotateWebhookSecretRequest(
            id=ids.webhook_endpoint, overlap_seconds=3600, request_id=_rid()
        )
    ),
    "accrue.billing.v1.WebhookService/ListWebhookDeliveries": lambda ids: (
        whk.ListWebhookDeliveriesRequest(endpoint_id=ids.webhook_endpoint)
    ),
    "accrue.billing.v1.WebhookService/RedeliverWebhook": lambda ids: whk.RedeliverWebhookRequest(
        delivery_id=ids.webhook_delivery, request_id=_rid()
    ),
    "accrue.billing.v1.WebhookService/ReplayWebhookEvents": lambda ids: (
        whk.ReplayWebhookEventsRequest(
            endpoint_id=ids.webhook_endpoint, from_sequence=1, to_sequence=3, request_id=_rid()
        )
    ),
    "accrue.billing.v1.EntitlementService/CreateFeature": lambda ids: ent.CreateFeatureRequest(
        feature=ent.Feature(
            key="seats",
            display_name="Seats",
            type=ent.FEATURE_TYPE_NUMERIC,
            unit="seats",
            per_unit=True,
        ),
        request_id=_rid(),
    ),
    "accrue.billing.v1.EntitlementService/GetFeature": lambda ids: ent.GetFeatureRequest(
        id=ids.feature
    ),
    "accrue.billing.v1.EntitlementService/ListFeatures": lambda ids: ent.ListFeaturesRequest(),
    "accrue.billing.v1.EntitlementService/ArchiveFeature": lambda ids: ent.ArchiveFeatureRequest(
        id=ids.spare_feature, request_id=_rid()
    ),
    "accrue.billing.v1.EntitlementService/AttachFeature": lambda ids: ent.AttachFeatureRequest(
        feature_id=ids.feature, price_id=ids.recurring_price, enabled=True, request_id=_rid()
    ),
    "accrue.billing.v1.EntitlementService/DetachFeature": lambda ids: ent.DetachFeatureRequest(
        feature_id=ids.feature, product_id=ids.product, request_id=_rid()
    ),
    "accrue.billing.v1.EntitlementService/ListFeatureAttachments": lambda ids: (
        ent.ListFeatureAttachmentsRequest(feature_id=ids.feature)
    ),
    "accrue.billing.v1.EntitlementService/GetEntitlements": lambda ids: ent.GetEntitlementsRequest(
        customer_id=ids.clock_customer
    ),
    "accrue.billing.v1.EntitlementService/CheckEntitlement": lambda ids: (
        ent.CheckEntitlementRequest(customer_id=ids.clock_customer, feature_key="sso")
    ),
    "accrue.billing.v1.SubscriptionPolicyService/GetSubscriptionPolicy": lambda ids: (
        pol.GetSubscriptionPolicyRequest()
    ),
    "accrue.billing.v1.SubscriptionPolicyService/UpdateSubscriptionPolicy": lambda ids: (
        pol.UpdateSubscriptionPolicyRequest(
            policy=pol.SubscriptionPolicy(max_changes_per_period=100),
            update_mask=_mask("max_changes_per_period"),
            request_id=_rid(),
        )
    ),
}


def _usage_input(ids: Ids, event_id: str) -> use.UsageEventInput:
    return use.UsageEventInput(
        id=event_id,
        meter_id=ids.meter,
        customer_id=ids.clock_customer,
        timestamp=_stamp(CLOCK_START),
        properties={"tokens": "12.5"},
    )


USAGE_SAMPLES: dict[str, Callable[[Ids], Message]] = {
    "accrue.billing.v1.UsageService/CreateMeter": lambda ids: use.CreateMeterRequest(
        meter=use.Meter(
            display_name="Tokens", aggregation=use.METER_AGGREGATION_SUM, value_property="tokens"
        ),
        request_id=_rid(),
    ),
    "accrue.billing.v1.UsageService/GetMeter": lambda ids: use.GetMeterRequest(id=ids.meter),
    "accrue.billing.v1.UsageService/ListMeters": lambda ids: use.ListMetersRequest(),
    "accrue.billing.v1.UsageService/ArchiveMeter": lambda ids: use.ArchiveMeterRequest(
        id=ids.meter, request_id=_rid()
    ),
    "accrue.billing.v1.UsageService/IngestUsage": lambda ids: use.IngestUsageRequest(
        events=[_usage_input(ids, "sample-ingest-1")]
    ),
    "accrue.billing.v1.UsageService/StreamIngestUsage": lambda ids: use.StreamIngestUsageRequest(
        events=[_usage_input(ids, "sample-stream-1")]
    ),
    "accrue.billing.v1.UsageService/CancelUsageEvent": lambda ids: use.CancelUsageEventRequest(
        id=ids.usage_event, reason="reported twice", request_id=_rid()
    ),
    "accrue.billing.v1.UsageService/AmendUsageEvent": lambda ids: use.AmendUsageEventRequest(
        id=ids.usage_event, properties={"tokens": "10"}, reason="miscounted", request_id=_rid()
    ),
    "accrue.billing.v1.UsageService/GetCustomerUsage": lambda ids: use.GetCustomerUsageRequest(
        customer_id=ids.clock_customer
    ),
}
SAMPLES.update(USAGE_SAMPLES)


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
    clock = call(
        "accrue.billing.v1.TestClockService",
        "CreateTestClock",
        SAMPLES["accrue.billing.v1.TestClockService/CreateTestClock"](partial),
    )
    clock_customer = call(
        "accrue.billing.v1.CustomerService",
        "CreateCustomer",
        cus.CreateCustomerRequest(
            customer=cus.Customer(
                display_name="On a clock",
                currency_code="USD",
                time_zone="America/New_York",
                test_clock_id=clock.id,
            )
        ),
    )
    recurring = call(
        "accrue.billing.v1.CatalogService",
        "CreatePrice",
        cat.CreatePriceRequest(
            price=cat.Price(
                product_id=product.id,
                currency_code="USD",
                pricing_scheme=cat.PRICING_SCHEME_PER_UNIT,
                unit_amount=Money(amount_minor=1000, currency_code="USD"),
                recurring=cat.Recurring(interval_unit=cat.INTERVAL_UNIT_MONTH, interval_count=1),
            )
        ),
    )
    with_clock = Ids(
        product.id,
        price.id,
        customer.id,
        with_method.payment_methods[0].id,
        clock_customer=clock_customer.id,
        recurring_price=recurring.id,
    )
    subscription = call(
        "accrue.billing.v1.SubscriptionService",
        "CreateSubscription",
        SAMPLES["accrue.billing.v1.SubscriptionService/CreateSubscription"](with_clock),
    )
    draft = call(
        "accrue.billing.v1.InvoiceService",
        "CreateInvoice",
        SAMPLES["accrue.billing.v1.InvoiceService/CreateInvoice"](with_clock),
    )
    payment = call(
        "accrue.billing.v1.PaymentService",
        "CreatePayment",
        SAMPLES["accrue.billing.v1.PaymentService/CreatePayment"](with_clock),
    )
    # An empty report with a late cut-off: the payment above is missing at the PSP.
    run = call(
        "accrue.billing.v1.ReconciliationService",
        "ImportSettlementReport",
        rec.ImportSettlementReportRequest(
            header=rec.SettlementReportHeader(
                format=rec.SETTLEMENT_FORMAT_SIMULATED,
                cut_off_time=_stamp(datetime(2100, 1, 1, tzinfo=UTC)),
                file_name="seed.csv",
            )
        ),
    )
    breaks = call(
        "accrue.billing.v1.ReconciliationService",
        "ListReconciliationBreaks",
        rec.ListReconciliationBreaksRequest(run_id=run.id),
    )
    endpoint = call(
        "accrue.billing.v1.WebhookService",
        "CreateWebhookEndpoint",
        whk.CreateWebhookEndpointRequest(endpoint=whk.WebhookEndpoint(url=WEBHOOK_URL)),
    )
    spare = call(
        "accrue.billing.v1.WebhookService",
        "CreateWebhookEndpoint",
        whk.CreateWebhookEndpointRequest(endpoint=whk.WebhookEndpoint(url=WEBHOOK_URL)),
    )
    # Deliveries exist once events are fanned out or replayed; replay the first ones.
    call(
        "accrue.billing.v1.WebhookService",
        "ReplayWebhookEvents",
        whk.ReplayWebhookEventsRequest(endpoint_id=endpoint.id, from_sequence=1, to_sequence=5),
    )
    delivery = call(
        "accrue.billing.v1.WebhookService",
        "ListWebhookDeliveries",
        whk.ListWebhookDeliveriesRequest(endpoint_id=endpoint.id),
    ).deliveries[0]
    feature, spare_feature = (
        call(
            "accrue.billing.v1.EntitlementService",
            "CreateFeature",
            ent.CreateFeatureRequest(
                feature=ent.Feature(key=key, display_name=key, type=ent.FEATURE_TYPE_BOOLEAN)
            ),
        )
        for key in ("sso", "audit-log")
    )
    call(
        "accrue.billing.v1.EntitlementService",
        "AttachFeature",
        ent.AttachFeatureRequest(feature_id=feature.id, product_id=product.id, enabled=True),
    )
    return Ids(
        product.id,
        price.id,
        customer.id,
        with_method.payment_methods[0].id,
        transaction=adjustment.id,
        account=adjustment.entries[0].account_id,
        test_clock=clock.id,
        clock_customer=clock_customer.id,
        recurring_price=recurring.id,
        subscription=subscription.id,
        invoice=subscription.latest_invoice_id,
        draft_invoice=draft.id,
        payment=payment.id,
        reconciliation_run=run.id,
        reconciliation_break=breaks.breaks[0].id,
        webhook_endpoint=endpoint.id,
        spare_webhook_endpoint=spare.id,
        webhook_delivery=delivery.id,
        **_seed_usage(call, clock_customer.id),
        feature=feature.id,
        spare_feature=spare_feature.id,
    )


def _seed_usage(call: Callable[[str, str, Message], Message], customer_id: str) -> dict[str, str]:
    meter = call(
        "accrue.billing.v1.UsageService",
        "CreateMeter",
        use.CreateMeterRequest(
            meter=use.Meter(
                display_name="Seed", aggregation=use.METER_AGGREGATION_SUM, value_property="tokens"
            )
        ),
    )
    call(
        "accrue.billing.v1.UsageService",
        "IngestUsage",
        use.IngestUsageRequest(
            events=[
                use.UsageEventInput(
                    id="seed-event-1",
                    meter_id=meter.id,
                    customer_id=customer_id,
                    timestamp=_stamp(CLOCK_START),
                    properties={"tokens": "3"},
                )
            ]
        ),
    )
    return {"meter": meter.id, "usage_event": "seed-event-1"}
