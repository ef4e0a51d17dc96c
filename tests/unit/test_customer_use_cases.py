"""The customer use cases on in-memory fakes of their narrow port: no SQL, no server.

What a caller relies on: a customer created is there to read and is announced
once; a retried request is answered with the stored response and creates
nothing twice; an unknown customer or test clock is a typed NotFound; an
archived customer cannot be changed; a failed change leaves nothing behind.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from accrue.customers.model import CustomerChanges, PaymentMethodType
from accrue.customers.service import CustomerService, NewCustomer, NewPaymentMethod
from accrue.customers.use_cases import CustomersUseCases
from accrue.event_log.service import EventRecorder
from accrue.kernel.errors import IdempotencyKeyReused, NotFound, ResourceArchived
from accrue.kernel.ids import IdGenerator
from accrue.kernel.lifecycle import LifecycleState
from accrue.kernel.paging import PageRequest
from accrue.platform.clock import FixedClock
from accrue.platform.idempotency import MutationRunner
from tests.fakes.customers import FakeCustomersUnitOfWork, seed_test_clock
from tests.fakes.event_log import event_types
from tests.fakes.transactions import FakeDatabase, FakeUnitOfWorkFactory, replay

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TENANT = "ten_a"


def new_customer(name: str = "Ada", *, clock_id: str = "") -> NewCustomer:
    return NewCustomer(
        display_name=name,
        email=f"{name.lower()}@example.com",
        currency_code="EUR",
        billing_address=None,
        tax_location=None,
        time_zone="Europe/Paris",
        metadata={},
        test_clock_id=clock_id,
    )


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def customers(db: FakeDatabase) -> CustomersUseCases:
    clock = FixedClock(NOW)
    ids = IdGenerator(clock)
    factory = FakeUnitOfWorkFactory(db, FakeCustomersUnitOfWork)
    service = CustomerService(clock, ids, EventRecorder(clock, ids, lambda: "trace"))
    return CustomersUseCases(factory, MutationRunner(factory, clock), service)


def test_a_created_customer_reads_back_and_is_announced_once(
    customers: CustomersUseCases, db: FakeDatabase
) -> None:
    created = customers.create_customer(TENANT, new_customer(), replay(TENANT))

    assert created.value is not None and created.replayed is None
    assert customers.get_customer(TENANT, created.value.id) == created.value
    assert event_types(db, TENANT) == ["customer.created"]


def test_a_retry_is_answered_from_the_stored_response_and_creates_nothing(
    customers: CustomersUseCases, db: FakeDatabase
) -> None:
    first = customers.create_customer(TENANT, new_customer(), replay(TENANT, "req-1"))
    again = customers.create_customer(TENANT, new_customer(), replay(TENANT, "req-1"))

    assert again.value is None
    assert again.replayed == repr(first.value).encode()
    assert len(db.rows("customers")) == 1
    assert event_types(db, TENANT) == ["customer.created"]


def test_a_request_id_reused_for_another_request_is_refused(customers: CustomersUseCases) -> None:
    customers.create_customer(TENANT, new_customer(), replay(TENANT, "req-1"))

    with pytest.raises(IdempotencyKeyReused):
        customers.create_customer(
            TENANT, new_customer("Bob"), replay(TENANT, "req-1", request="other")
        )


def test_another_tenants_customer_is_not_found(customers: CustomersUseCases) -> None:
    created = customers.create_customer(TENANT, new_customer(), replay(TENANT)).value
    assert created is not None

    with pytest.raises(NotFound) as raised:
        customers.get_customer("ten_b", created.id)
    assert raised.value.reason == "RESOURCE_NOT_FOUND"


def test_a_customer_on_an_unknown_test_clock_is_refused_and_nothing_is_written(
    customers: CustomersUseCases, db: FakeDatabase
) -> None:
    with pytest.raises(NotFound):
        customers.create_customer(TENANT, new_customer(clock_id="clock_x"), replay(TENANT))
    assert db.rows("customers") == {}

    seed_test_clock(db, TENANT, "clock_x")
    on_clock = customers.create_customer(TENANT, new_customer(clock_id="clock_x"), replay(TENANT))
    assert on_clock.value is not None and on_clock.value.test_clock_id == "clock_x"


def test_an_archived_customer_cannot_be_updated_or_given_a_payment_method(
    customers: CustomersUseCases, db: FakeDatabase
) -> None:
    created = customers.create_customer(TENANT, new_customer(), replay(TENANT)).value
    assert created is not None
    archived = customers.archive_customer(TENANT, created.id, replay(TENANT)).value
    assert archived is not None and archived.state is LifecycleState.ARCHIVED

    with pytest.raises(ResourceArchived):
        customers.update_customer(
            TENANT,
            created.id,
            CustomerChanges(fields=frozenset({"display_name"}), display_name="Eve"),
            replay(TENANT),
        )
    card = NewPaymentMethod(psp="simulated", token="tok_visa", type=PaymentMethodType.CARD)
    with pytest.raises(ResourceArchived):
        customers.attach_payment_method(TENANT, created.id, card, replay(TENANT), make_default=True)
    assert customers.get_customer(TENANT, created.id).display_name == "Ada"
    assert event_types(db, TENANT) == ["customer.created", "customer.archived"]


def test_archiving_twice_changes_nothing_the_second_time(
    customers: CustomersUseCases, db: FakeDatabase
) -> None:
    created = customers.create_customer(TENANT, new_customer(), replay(TENANT)).value
    assert created is not None
    first = customers.archive_customer(TENANT, created.id, replay(TENANT)).value
    second = customers.archive_customer(TENANT, created.id, replay(TENANT)).value

    assert first == second
    assert event_types(db, TENANT) == ["customer.created", "customer.archived"]


def test_the_first_payment_method_becomes_the_default_and_detaching_it_clears_it(
    customers: CustomersUseCases,
) -> None:
    created = customers.create_customer(TENANT, new_customer(), replay(TENANT)).value
    assert created is not None
    card = NewPaymentMethod(psp="simulated", token="tok_visa", type=PaymentMethodType.CARD)

    with_card = customers.attach_payment_method(
        TENANT, created.id, card, replay(TENANT), make_default=False
    ).value
    assert with_card is not None
    method_id = with_card.payment_methods[0].id
    assert with_card.default_payment_method_id == method_id

    detached = customers.detach_payment_method(TENANT, created.id, method_id, replay(TENANT)).value
    assert detached is not None
    assert detached.payment_methods == () and detached.default_payment_method_id == ""


def test_lists_page_by_id_and_hide_archived_customers_unless_asked(
    customers: CustomersUseCases,
) -> None:
    made = [customers.create_customer(TENANT, new_customer(n), replay(TENANT)).value for n in "ABC"]
    assert all(made)
    customers.archive_customer(TENANT, made[1].id, replay(TENANT))  # type: ignore[union-attr]

    first = customers.list_customers(TENANT, PageRequest(1, "", "q"), show_archived=False, email="")
    assert [c.display_name for c in first.items] == ["A"] and first.next_page_token
    rest = customers.list_customers(
        TENANT, PageRequest(10, first.items[0].id, "q"), show_archived=False, email=""
    )
    assert [c.display_name for c in rest.items] == ["C"]
    everyone = customers.list_customers(
        TENANT, PageRequest(10, "", "q"), show_archived=True, email=""
    )
    assert [c.display_name for c in everyone.items] == ["A", "B", "C"]
