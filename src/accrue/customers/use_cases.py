"""Customer use cases, each owning its transaction.

A mutation runs in one unit of work through the platform's `MutationRunner`,
which stores the encoded response with the change, so a retry with the same
request_id is answered with the same bytes. The caller passes the encoder in a
`Replay` and converts the returned value itself, outside the transaction.
Reads run in a read-only unit of work. `CustomerService` holds the steps.
"""

from __future__ import annotations

from accrue.customers.model import Customer, CustomerChanges
from accrue.customers.ports import CustomersUnitOfWorkFactory
from accrue.customers.service import CustomerService, NewCustomer, NewPaymentMethod
from accrue.kernel.paging import Page, PageRequest
from accrue.platform.idempotency import MutationRunner, Outcome, Replay


class CustomersUseCases:
    def __init__(
        self,
        uow_factory: CustomersUnitOfWorkFactory,
        runner: MutationRunner,
        service: CustomerService,
    ) -> None:
        self._uow = uow_factory
        self._runner = runner
        self._service = service

    def create_customer(
        self, tenant_id: str, new: NewCustomer, replay: Replay[Customer]
    ) -> Outcome[Customer]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._service.create_customer(uow, tenant_id, new),
            replay.encode,
        )

    def get_customer(self, tenant_id: str, customer_id: str) -> Customer:
        with self._uow(write=False) as uow:
            return self._service.get_customer(uow, tenant_id, customer_id)

    def list_customers(
        self, tenant_id: str, page: PageRequest, *, show_archived: bool, email: str
    ) -> Page[Customer]:
        with self._uow(write=False) as uow:
            return self._service.list_customers(
                uow, tenant_id, page, show_archived=show_archived, email=email
            )

    def update_customer(
        self,
        tenant_id: str,
        customer_id: str,
        changes: CustomerChanges,
        replay: Replay[Customer],
    ) -> Outcome[Customer]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._service.update_customer(uow, tenant_id, customer_id, changes),
            replay.encode,
        )

    def archive_customer(
        self, tenant_id: str, customer_id: str, replay: Replay[Customer]
    ) -> Outcome[Customer]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._service.archive_customer(uow, tenant_id, customer_id),
            replay.encode,
        )

    def attach_payment_method(
        self,
        tenant_id: str,
        customer_id: str,
        new: NewPaymentMethod,
        replay: Replay[Customer],
        *,
        make_default: bool,
    ) -> Outcome[Customer]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._service.attach_payment_method(
                uow, tenant_id, customer_id, new, make_default=make_default
            ),
            replay.encode,
        )

    def detach_payment_method(
        self,
        tenant_id: str,
        customer_id: str,
        payment_method_id: str,
        replay: Replay[Customer],
    ) -> Outcome[Customer]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._service.detach_payment_method(
                uow, tenant_id, customer_id, payment_method_id
            ),
            replay.encode,
        )
