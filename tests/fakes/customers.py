"""The customer use cases' ports in memory: customers, a test clock lookup, the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from accrue.customers.model import Customer, PaymentMethod
from accrue.kernel.lifecycle import LifecycleState
from accrue.kernel.paging import PageRequest
from tests.fakes.event_log import FakeEvents
from tests.fakes.transactions import FakeDatabase, FakeUnitOfWork


class FakeCustomers:
    """CustomerRepository in memory, listed by id like the SQL one."""

    def __init__(self, tx: FakeUnitOfWork) -> None:
        self._tx = tx

    @property
    def _rows(self) -> dict[str, Customer]:
        return self._tx.table("customers")

    def add(self, customer: Customer) -> None:
        self._rows[customer.id] = customer

    def get(self, tenant_id: str, customer_id: str, *, for_update: bool = False) -> Customer | None:
        found = self._rows.get(customer_id)
        return found if found is not None and found.tenant_id == tenant_id else None

    def update(self, customer: Customer) -> None:
        assert customer.id in self._rows, "update of a customer never added"
        self._rows[customer.id] = customer

    def list(
        self, tenant_id: str, page: PageRequest, *, show_archived: bool, email: str
    ) -> Sequence[Customer]:
        found = [
            c
            for c in sorted(self._rows.values(), key=lambda c: c.id)
            if c.tenant_id == tenant_id
            and c.id > page.after_id
            and (show_archived or c.state is not LifecycleState.ARCHIVED)
            and (not email or c.email == email)
        ]
        return found[: page.size + 1]

    def add_payment_method(self, tenant_id: str, customer_id: str, method: PaymentMethod) -> None:
        self._tx.table("payment_methods")[method.id] = (tenant_id, customer_id, method, None)

    def detach_payment_method(
        self, tenant_id: str, payment_method_id: str, *, when: datetime
    ) -> None:
        rows = self._tx.table("payment_methods")
        tenant, customer_id, method, _ = rows[payment_method_id]
        assert tenant == tenant_id
        rows[payment_method_id] = (tenant, customer_id, method, when)

    def get_many(self, tenant_id: str, customer_ids: Sequence[str]) -> dict[str, Customer]:
        return {i: c for i in customer_ids if (c := self.get(tenant_id, i)) is not None}

    def test_clock_ids(self, tenant_id: str, customer_ids: Sequence[str]) -> dict[str, str]:
        return {i: c.test_clock_id for i, c in self.get_many(tenant_id, customer_ids).items()}


class FakeClockLookup:
    """The test clocks a customer may be created on: ids seeded by the test."""

    def __init__(self, tx: FakeUnitOfWork) -> None:
        self._tx = tx

    def get(self, tenant_id: str, clock_id: str) -> object | None:
        return self._tx.table("test_clock_ids").get((tenant_id, clock_id))


class FakeCustomersUnitOfWork(FakeUnitOfWork):
    """CustomersUnitOfWork: customers, test clocks to look up, the outbox."""

    def __init__(self, db: FakeDatabase, write: bool) -> None:
        super().__init__(db, write=write)
        self.customers = FakeCustomers(self)
        self.test_clocks = FakeClockLookup(self)
        self.events = FakeEvents(self)


def seed_test_clock(db: FakeDatabase, tenant_id: str, clock_id: str) -> None:
    db.tables.setdefault("test_clock_ids", {})[(tenant_id, clock_id)] = clock_id
