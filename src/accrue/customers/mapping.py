"""Row <-> model conversion for the customer tables."""

from __future__ import annotations

from typing import Any

from accrue.customers.model import (
    Customer,
    PaymentMethod,
    PaymentMethodType,
    PostalAddress,
    TaxLocation,
)
from accrue.kernel.lifecycle import LifecycleState


def customer_row(customer: Customer) -> dict[str, Any]:
    address = customer.billing_address
    tax = customer.tax_location
    return {
        "tenant_id": customer.tenant_id,
        "id": customer.id,
        "display_name": customer.display_name,
        "email": customer.email,
        "currency_code": customer.currency_code,
        "billing_address": None
        if address is None
        else {
            "line1": address.line1,
            "line2": address.line2,
            "city": address.city,
            "region": address.region,
            "postal_code": address.postal_code,
            "country_code": address.country_code,
        },
        "tax_location": None
        if tax is None
        else {
            "country_code": tax.country_code,
            "region_code": tax.region_code,
            "postal_code": tax.postal_code,
        },
        "time_zone": customer.time_zone,
        "metadata": customer.metadata,
        "default_payment_method_id": customer.default_payment_method_id,
        "state": customer.state.value,
        "create_time": customer.create_time,
        "update_time": customer.update_time,
        "test_clock_id": customer.test_clock_id or None,
    }


def customer_from_row(row: Any, methods: tuple[PaymentMethod, ...]) -> Customer:
    return Customer(
        id=row.id,
        tenant_id=row.tenant_id,
        display_name=row.display_name,
        email=row.email,
        currency_code=row.currency_code,
        billing_address=None
        if row.billing_address is None
        else PostalAddress(**row.billing_address),
        tax_location=None if row.tax_location is None else TaxLocation(**row.tax_location),
        time_zone=row.time_zone,
        metadata=dict(row.metadata),
        payment_methods=methods,
        default_payment_method_id=row.default_payment_method_id,
        state=LifecycleState(row.state),
        create_time=row.create_time,
        update_time=row.update_time,
        test_clock_id=row.test_clock_id or "",
    )


def payment_method_row(tenant_id: str, customer_id: str, method: PaymentMethod) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "id": method.id,
        "customer_id": customer_id,
        "psp": method.psp,
        "token": method.token,
        "type": method.type.value,
        "create_time": method.create_time,
        "detach_time": None,
    }


def payment_method_from_row(row: Any) -> PaymentMethod:
    return PaymentMethod(
        id=row.id,
        psp=row.psp,
        token=row.token,
        type=PaymentMethodType(row.type),
        create_time=row.create_time,
    )
