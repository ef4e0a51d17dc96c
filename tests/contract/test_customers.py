"""CustomerService through the real server, over gRPC and Connect."""

from __future__ import annotations

from google.protobuf import field_mask_pb2

from accrue.billing.v1 import common_pb2
from accrue.billing.v1 import customer_pb2 as pb
from tests.conftest import Transport

CUSTOMERS = "accrue.billing.v1.CustomerService"


def make_customer(rpc: Transport, **fields: object) -> pb.Customer:
    customer = pb.Customer(display_name="Ada", currency_code="EUR")
    for name, value in fields.items():
        if isinstance(value, (pb.PostalAddress, pb.TaxLocation)):
            getattr(customer, name).CopyFrom(value)
        elif isinstance(value, dict):
            getattr(customer, name).update(value)
        else:
            setattr(customer, name, value)
    return rpc.call(CUSTOMERS, "CreateCustomer", pb.CreateCustomerRequest(customer=customer))


def attach(
    rpc: Transport, customer_id: str, token: str, *, make_default: bool = False
) -> pb.Customer:
    return rpc.call(
        CUSTOMERS,
        "AttachPaymentMethod",
        pb.AttachPaymentMethodRequest(
            customer_id=customer_id,
            payment_method=pb.PaymentMethod(
                psp="simulated", token=token, type=pb.PAYMENT_METHOD_TYPE_CARD
            ),
            make_default=make_default,
        ),
    )


def test_customer_with_address_and_tax_location_round_trips(rpc: Transport) -> None:
    created = make_customer(
        rpc,
        email="ada@example.com",
        time_zone="Europe/Berlin",
        billing_address=pb.PostalAddress(line1="1 Main St", city="Berlin", country_code="DE"),
        tax_location=pb.TaxLocation(country_code="DE", postal_code="10115"),
        metadata={"crm_id": "42"},
    )
    assert created.id.startswith("cus_")
    assert created.time_zone == "Europe/Berlin"
    assert rpc.call(CUSTOMERS, "GetCustomer", pb.GetCustomerRequest(id=created.id)) == created


def test_empty_time_zone_means_utc(rpc: Transport) -> None:
    assert make_customer(rpc).time_zone == "UTC"


def test_unknown_time_zone_is_a_field_violation(rpc: Transport) -> None:
    failure = rpc.fail(
        CUSTOMERS,
        "CreateCustomer",
        pb.CreateCustomerRequest(
            customer=pb.Customer(display_name="Ada", currency_code="EUR", time_zone="Mars/Olympus")
        ),
    )
    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")
    assert failure.field_violations == ["customer.time_zone"]


def test_every_contract_violation_is_reported_at_once(rpc: Transport) -> None:
    failure = rpc.fail(
        CUSTOMERS,
        "CreateCustomer",
        pb.CreateCustomerRequest(
            customer=pb.Customer(display_name="Ada", currency_code="eur", email="not-an-email"),
            request_id="has spaces",
        ),
    )
    assert failure.reason == "VALIDATION_FAILED"
    assert set(failure.field_violations) == {
        "customer.currency_code",
        "customer.email",
        "request_id",
    }


def test_first_payment_method_becomes_default_and_later_ones_only_when_asked(
    rpc: Transport,
) -> None:
    customer = make_customer(rpc)
    first = attach(rpc, customer.id, "tok_visa")
    assert first.default_payment_method_id == first.payment_methods[0].id
    second = attach(rpc, customer.id, "tok_mastercard")
    assert second.default_payment_method_id == first.payment_methods[0].id
    third = attach(rpc, customer.id, "tok_amex", make_default=True)
    assert third.default_payment_method_id == third.payment_methods[2].id
    assert [m.token for m in third.payment_methods] == ["tok_visa", "tok_mastercard", "tok_amex"]


def test_card_number_instead_of_token_is_refused(rpc: Transport) -> None:
    customer = make_customer(rpc)
    failure = rpc.fail(
        CUSTOMERS,
        "AttachPaymentMethod",
        pb.AttachPaymentMethodRequest(
            customer_id=customer.id,
            payment_method=pb.PaymentMethod(
                psp="simulated", token="4242-4242-4242-4242", type=pb.PAYMENT_METHOD_TYPE_CARD
            ),
        ),
    )
    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")
    assert failure.field_violations == ["payment_method.token"]
    assert (
        rpc.call(CUSTOMERS, "GetCustomer", pb.GetCustomerRequest(id=customer.id)).payment_methods
        == []
    )


def test_card_number_smuggled_in_metadata_is_refused(rpc: Transport) -> None:
    failure = rpc.fail(
        CUSTOMERS,
        "CreateCustomer",
        pb.CreateCustomerRequest(
            customer=pb.Customer(
                display_name="Ada",
                currency_code="EUR",
                metadata={"note": "card 4111 1111 1111 1111"},
            )
        ),
    )
    assert failure.reason == "VALIDATION_FAILED"
    assert failure.field_violations == ["customer.metadata[note]"]


def test_detaching_the_default_leaves_no_default(rpc: Transport) -> None:
    customer = make_customer(rpc)
    attached = attach(rpc, customer.id, "tok_visa")
    method_id = attached.payment_methods[0].id
    detached = rpc.call(
        CUSTOMERS,
        "DetachPaymentMethod",
        pb.DetachPaymentMethodRequest(customer_id=customer.id, payment_method_id=method_id),
    )
    assert detached.payment_methods == []
    assert detached.default_payment_method_id == ""
    again = rpc.fail(
        CUSTOMERS,
        "DetachPaymentMethod",
        pb.DetachPaymentMethodRequest(customer_id=customer.id, payment_method_id=method_id),
    )
    assert (again.code, again.reason) == ("NOT_FOUND", "RESOURCE_NOT_FOUND")


def test_default_payment_method_must_be_attached(rpc: Transport) -> None:
    customer = make_customer(rpc)
    failure = rpc.fail(
        CUSTOMERS,
        "UpdateCustomer",
        pb.UpdateCustomerRequest(
            customer=pb.Customer(id=customer.id, default_payment_method_id="pm_missing"),
            update_mask=field_mask_pb2.FieldMask(paths=["default_payment_method_id"]),
        ),
    )
    assert (failure.code, failure.reason) == ("NOT_FOUND", "RESOURCE_NOT_FOUND")


def test_update_changes_masked_fields_and_keeps_the_rest(rpc: Transport) -> None:
    customer = make_customer(rpc, email="old@example.com", metadata={"a": "1"})
    updated = rpc.call(
        CUSTOMERS,
        "UpdateCustomer",
        pb.UpdateCustomerRequest(
            customer=pb.Customer(id=customer.id, email="new@example.com", currency_code="USD"),
            update_mask=field_mask_pb2.FieldMask(paths=["email", "currency_code"]),
        ),
    )
    assert (updated.email, updated.currency_code) == ("new@example.com", "USD")
    assert updated.metadata == {"a": "1"}
    assert updated.display_name == "Ada"
    assert updated.update_time.ToDatetime() >= customer.update_time.ToDatetime()


def test_clearing_the_name_through_update_is_refused(rpc: Transport) -> None:
    customer = make_customer(rpc)
    failure = rpc.fail(
        CUSTOMERS,
        "UpdateCustomer",
        pb.UpdateCustomerRequest(
            customer=pb.Customer(id=customer.id),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
        ),
    )
    assert failure.reason == "VALIDATION_FAILED"
    assert failure.field_violations == ["customer.display_name"]


def test_archived_customer_is_read_only_and_hidden_from_default_list(rpc: Transport) -> None:
    customer = make_customer(rpc)
    archived = rpc.call(CUSTOMERS, "ArchiveCustomer", pb.ArchiveCustomerRequest(id=customer.id))
    assert archived.state == common_pb2.LIFECYCLE_STATE_ARCHIVED
    failure = rpc.fail(
        CUSTOMERS,
        "AttachPaymentMethod",
        pb.AttachPaymentMethodRequest(
            customer_id=customer.id,
            payment_method=pb.PaymentMethod(
                psp="simulated", token="tok", type=pb.PAYMENT_METHOD_TYPE_CARD
            ),
        ),
    )
    assert (failure.code, failure.reason) == ("FAILED_PRECONDITION", "RESOURCE_ARCHIVED")
    assert rpc.call(CUSTOMERS, "ListCustomers", pb.ListCustomersRequest()).customers == []
    assert (
        rpc.call(CUSTOMERS, "ArchiveCustomer", pb.ArchiveCustomerRequest(id=customer.id))
        == archived
    )


def test_list_filters_by_email(rpc: Transport) -> None:
    wanted = make_customer(rpc, email="a@example.com")
    make_customer(rpc, email="b@example.com")
    listed = rpc.call(CUSTOMERS, "ListCustomers", pb.ListCustomersRequest(email="a@example.com"))
    assert [c.id for c in listed.customers] == [wanted.id]
