"""Statements per call of the hot paths, counted in-process through the Invoker.

The server's own code path (authentication, validation, handler, use case,
repositories), minus the network: the count is the same as over gRPC.
"""

from __future__ import annotations

import uuid
from typing import Any

from google.protobuf.message import Message

from accrue.billing.v1 import customer_pb2 as cus
from accrue.billing.v1 import money_pb2, payment_pb2
from accrue.bootstrap import build_application
from accrue.config import Settings
from accrue.platform.db.statements import StatementCount, count_statements


def count_hot_paths(database_url: str) -> dict[str, StatementCount]:
    app = build_application(Settings(database_url=database_url, log_level="WARNING"))
    try:
        routes = {route.full_name: route for route in app.routes}
        key = app.tenants.create_tenant(f"statements-{uuid.uuid4().hex[:8]}").api_key
        metadata = {"authorization": f"Bearer {key}"}

        def call(service: str, method: str, request: Message) -> Any:
            route = routes[f"accrue.billing.v1.{service}/{method}"]
            return app.invoker.invoke(route, request, metadata, transport="grpc")

        def new_customer() -> cus.CreateCustomerRequest:
            customer = cus.Customer(display_name="Bench Ltd", currency_code="USD")
            return cus.CreateCustomerRequest(customer=customer, request_id=str(uuid.uuid4()))

        customer = call("CustomerService", "CreateCustomer", new_customer())
        method = cus.PaymentMethod(
            psp="simulated", token="tok_visa", type=cus.PAYMENT_METHOD_TYPE_CARD
        )
        call(
            "CustomerService",
            "AttachPaymentMethod",
            cus.AttachPaymentMethodRequest(
                customer_id=customer.id, payment_method=method, request_id=str(uuid.uuid4())
            ),
        )
        paths: dict[str, tuple[str, str, Any]] = {
            "GetCustomer": (
                "CustomerService",
                "GetCustomer",
                lambda: cus.GetCustomerRequest(id=customer.id),
            ),
            "CreateCustomer": ("CustomerService", "CreateCustomer", new_customer),
            "CreatePayment": (
                "PaymentService",
                "CreatePayment",
                lambda: payment_pb2.CreatePaymentRequest(
                    customer_id=customer.id,
                    amount=money_pb2.Money(amount_minor=1250, currency_code="USD"),
                    request_id=str(uuid.uuid4()),
                ),
            ),
        }
        counts = {}
        for name, (service, rpc, request) in paths.items():
            call(service, rpc, request())  # warm: caches, prepared state
            with count_statements(app.engine) as counted:
                call(service, rpc, request())
            counts[name] = counted
        return counts
    finally:
        app.close()
