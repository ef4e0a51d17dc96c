"""What the customer use cases need from persistence."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from accrue.customers.model import Customer, PaymentMethod
from accrue.event_log.ports import EventRepository
from accrue.kernel.paging import PageRequest
from accrue.platform.ports import Transactional


class CustomerRepository(Protocol):
    def add(self, customer: Customer) -> None: ...
    def get(
        self, tenant_id: str, customer_id: str, *, for_update: bool = False
    ) -> Customer | None: ...
    def update(self, customer: Customer) -> None: ...
    def list(
        self, tenant_id: str, page: PageRequest, *, show_archived: bool, email: str
    ) -> Sequence[Customer]: ...
    def add_payment_method(
        self, tenant_id: str, customer_id: str, method: PaymentMethod
    ) -> None: ...
    def detach_payment_method(
        self, tenant_id: str, payment_method_id: str, *, when: datetime
    ) -> None: ...
    def get_many(self, tenant_id: str, customer_ids: Sequence[str]) -> dict[str, Customer]:
        """The customers of a batch in one query, by id (missing ones left out)."""
        ...

    def test_clock_ids(self, tenant_id: str, customer_ids: Sequence[str]) -> dict[str, str]:
        """Which of `customer_ids` exist, each with its test clock id ("" for real
        time): one narrow query, for readers that need a customer's "now" only."""
        ...


class ClockLookup(Protocol):
    """Enough of the test clocks to refuse a customer on a clock that does not exist."""

    def get(self, tenant_id: str, clock_id: str) -> object | None: ...


class HasCustomers(Protocol):
    """Any transaction customers can be read in (other areas read them in theirs)."""

    @property
    def customers(self) -> CustomerRepository: ...


class CustomersUnitOfWork(HasCustomers, Transactional, Protocol):
    """One transaction of the customer use cases: customers, the test clocks they
    may be attached to, and the outbox their changes are announced in."""

    @property
    def test_clocks(self) -> ClockLookup: ...
    @property
    def events(self) -> EventRepository: ...


class CustomersUnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool) -> CustomersUnitOfWork: ...
