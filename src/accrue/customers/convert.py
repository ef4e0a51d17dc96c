"""Customer messages <-> domain."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.message import Message

from accrue.billing.v1 import customer_pb2
from accrue.customers.model import (
    Customer,
    CustomerChanges,
    PaymentMethod,
    PaymentMethodType,
    PostalAddress,
    TaxLocation,
)
from accrue.customers.service import NewCustomer, NewPaymentMethod
from accrue.events.v1 import events_pb2
from accrue.kernel.errors import ValidationFailed
from accrue.platform.transport.convert import LIFECYCLE_TO_PB, timestamp

_METHOD_TYPE = {
    customer_pb2.PAYMENT_METHOD_TYPE_CARD: PaymentMethodType.CARD,
    customer_pb2.PAYMENT_METHOD_TYPE_BANK_ACCOUNT: PaymentMethodType.BANK_ACCOUNT,
    customer_pb2.PAYMENT_METHOD_TYPE_WALLET: PaymentMethodType.WALLET,
}
_METHOD_TYPE_PB = {v: k for k, v in _METHOD_TYPE.items()}

CUSTOMER_UPDATABLE = frozenset(
    {
        "display_name",
        "email",
        "currency_code",
        "billing_address",
        "tax_location",
        "time_zone",
        "metadata",
        "default_payment_method_id",
    }
)


def _address(message: customer_pb2.Customer) -> PostalAddress | None:
    if not message.HasField("billing_address"):
        return None
    a = message.billing_address
    return PostalAddress(a.line1, a.line2, a.city, a.region, a.postal_code, a.country_code)


def _tax(message: customer_pb2.Customer) -> TaxLocation | None:
    if not message.HasField("tax_location"):
        return None
    tax = message.tax_location
    return TaxLocation(tax.country_code, tax.region_code, tax.postal_code)


def new_customer_from_pb(message: customer_pb2.Customer) -> NewCustomer:
    return NewCustomer(
        display_name=message.display_name,
        email=message.email,
        currency_code=message.currency_code,
        billing_address=_address(message),
        tax_location=_tax(message),
        time_zone=message.time_zone,
        metadata=dict(message.metadata),
        test_clock_id=message.test_clock_id,
    )


def customer_changes_from_pb(
    message: customer_pb2.Customer, fields: frozenset[str]
) -> CustomerChanges:
    return CustomerChanges(
        fields=fields,
        display_name=message.display_name,
        email=message.email,
        currency_code=message.currency_code,
        billing_address=_address(message),
        tax_location=_tax(message),
        time_zone=message.time_zone,
        metadata=dict(message.metadata),
        default_payment_method_id=message.default_payment_method_id,
    )


def new_payment_method_from_pb(message: customer_pb2.PaymentMethod) -> NewPaymentMethod:
    if message.type not in _METHOD_TYPE:
        raise ValidationFailed.on("payment_method.type", "must be a defined type")
    return NewPaymentMethod(psp=message.psp, token=message.token, type=_METHOD_TYPE[message.type])


def payment_method_to_pb(method: PaymentMethod) -> customer_pb2.PaymentMethod:
    return customer_pb2.PaymentMethod(
        id=method.id,
        psp=method.psp,
        token=method.token,
        type=_METHOD_TYPE_PB[method.type],
        create_time=timestamp(method.create_time),
    )


def customer_to_pb(customer: Customer) -> customer_pb2.Customer:
    message = customer_pb2.Customer(
        id=customer.id,
        display_name=customer.display_name,
        email=customer.email,
        currency_code=customer.currency_code,
        time_zone=customer.time_zone,
        metadata=customer.metadata,
        payment_methods=[payment_method_to_pb(m) for m in customer.payment_methods],
        default_payment_method_id=customer.default_payment_method_id,
        state=LIFECYCLE_TO_PB[customer.state],
        create_time=timestamp(customer.create_time),
        update_time=timestamp(customer.update_time),
        test_clock_id=customer.test_clock_id,
    )
    if customer.billing_address is not None:
        a = customer.billing_address
        message.billing_address.CopyFrom(
            customer_pb2.PostalAddress(
                line1=a.line1,
                line2=a.line2,
                city=a.city,
                region=a.region,
                postal_code=a.postal_code,
                country_code=a.country_code,
            )
        )
    if customer.tax_location is not None:
        tax = customer.tax_location
        message.tax_location.CopyFrom(
            customer_pb2.TaxLocation(
                country_code=tax.country_code,
                region_code=tax.region_code,
                postal_code=tax.postal_code,
            )
        )
    return message


# The event payloads of this area's subjects, gathered by `accrue.payloads`.
EVENT_PAYLOADS: tuple[tuple[type, Callable[[Any], Message]], ...] = (
    (Customer, lambda s: events_pb2.CustomerChanged(customer=customer_to_pb(s))),
)
