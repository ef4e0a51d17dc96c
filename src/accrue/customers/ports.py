"""What the customer use cases need from persistence."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from accrue.customers.model import Customer, PaymentMethod
from accrue.kernel.paging import PageRequest


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
