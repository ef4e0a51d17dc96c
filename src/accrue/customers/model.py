"""Customers and the PSP tokens they pay with.

Accrue never holds card data. A token that looks like a primary account
number (the rule is in `accrue.kernel.card_data`) is refused, because a
caller that sends one has made a PCI mistake we must not store.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from accrue.kernel.card_data import looks_like_card_number
from accrue.kernel.errors import NotFound, ResourceArchived, ValidationFailed
from accrue.kernel.lifecycle import LifecycleState
from accrue.kernel.money import Currency


class PaymentMethodType(enum.Enum):
    CARD = "card"
    BANK_ACCOUNT = "bank_account"
    WALLET = "wallet"


def refuse_card_data(value: str, *, field: str) -> None:
    """Refuse a value that would put card data into the platform."""
    if looks_like_card_number(value):
        raise ValidationFailed.on(field, "looks like a card number; send the PSP's token instead")


def check_time_zone(name: str, *, field: str) -> str:
    """A valid IANA zone name; an empty one means UTC."""
    if not name:
        return "UTC"
    if name not in _zones():
        raise ValidationFailed.on(field, f"{name!r} is not an IANA time zone")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed.on(field, f"{name!r} is not an IANA time zone") from exc
    return name


_ZONES: frozenset[str] | None = None


def _zones() -> frozenset[str]:
    global _ZONES  # noqa: PLW0603 - computed once; the zone list is static per process
    if _ZONES is None:
        _ZONES = frozenset(available_timezones()) | {"UTC"}
    return _ZONES


@dataclass(frozen=True, slots=True)
class PostalAddress:
    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country_code: str = ""


@dataclass(frozen=True, slots=True)
class TaxLocation:
    country_code: str
    region_code: str = ""
    postal_code: str = ""


@dataclass(frozen=True, slots=True)
class PaymentMethod:
    id: str
    psp: str
    token: str
    type: PaymentMethodType
    create_time: datetime


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    tenant_id: str
    display_name: str
    email: str
    currency_code: str
    billing_address: PostalAddress | None
    tax_location: TaxLocation | None
    time_zone: str
    metadata: dict[str, str]
    payment_methods: tuple[PaymentMethod, ...]
    default_payment_method_id: str
    state: LifecycleState
    create_time: datetime
    update_time: datetime
    # Set at creation only: a customer never moves between real and simulated time.
    test_clock_id: str = ""

    def ensure_active(self) -> None:
        if self.state is LifecycleState.ARCHIVED:
            raise ResourceArchived("customer", self.id)

    def payment_method(self, payment_method_id: str) -> PaymentMethod:
        for method in self.payment_methods:
            if method.id == payment_method_id:
                return method
        raise NotFound("payment_method", payment_method_id)

    def attach(self, method: PaymentMethod, *, make_default: bool, now: datetime) -> Customer:
        """This customer with `method` attached; the first method becomes the default."""
        self.ensure_active()
        refuse_card_data(method.token, field="payment_method.token")
        default = (
            method.id
            if make_default or not self.default_payment_method_id
            else self.default_payment_method_id
        )
        return replace(
            self,
            payment_methods=(*self.payment_methods, method),
            default_payment_method_id=default,
            update_time=now,
        )

    def detach(self, payment_method_id: str, *, now: datetime) -> Customer:
        self.payment_method(payment_method_id)
        remaining = tuple(m for m in self.payment_methods if m.id != payment_method_id)
        default = (
            ""
            if self.default_payment_method_id == payment_method_id
            else self.default_payment_method_id
        )
        return replace(
            self, payment_methods=remaining, default_payment_method_id=default, update_time=now
        )


@dataclass(frozen=True, slots=True)
class CustomerChanges:
    """The fields an update sets; a field not in `fields` stays as it is."""

    fields: frozenset[str]
    display_name: str = ""
    email: str = ""
    currency_code: str = ""
    billing_address: PostalAddress | None = None
    tax_location: TaxLocation | None = None
    time_zone: str = ""
    metadata: dict[str, str] | None = None
    default_payment_method_id: str = ""


def validate_customer_fields(*, currency_code: str, time_zone: str, display_name: str) -> str:
    """Check what the contract cannot express; returns the normalised time zone."""
    if not display_name:
        raise ValidationFailed.on("customer.display_name", "must not be empty")
    Currency.of(currency_code)
    return check_time_zone(time_zone, field="customer.time_zone")


def apply_customer_changes(customer: Customer, changes: CustomerChanges, now: datetime) -> Customer:
    """The customer after `changes`, validated as a whole."""
    customer.ensure_active()
    fields = changes.fields
    updated = replace(
        customer,
        display_name=changes.display_name if "display_name" in fields else customer.display_name,
        email=changes.email if "email" in fields else customer.email,
        currency_code=changes.currency_code
        if "currency_code" in fields
        else customer.currency_code,
        billing_address=changes.billing_address
        if "billing_address" in fields
        else customer.billing_address,
        tax_location=changes.tax_location if "tax_location" in fields else customer.tax_location,
        time_zone=changes.time_zone if "time_zone" in fields else customer.time_zone,
        metadata=dict(changes.metadata or {}) if "metadata" in fields else customer.metadata,
        update_time=now,
    )
    if "default_payment_method_id" in fields and changes.default_payment_method_id:
        updated.payment_method(changes.default_payment_method_id)
    if "default_payment_method_id" in fields:
        updated = replace(updated, default_payment_method_id=changes.default_payment_method_id)
    time_zone = validate_customer_fields(
        currency_code=updated.currency_code,
        time_zone=updated.time_zone,
        display_name=updated.display_name,
    )
    return replace(updated, time_zone=time_zone)
