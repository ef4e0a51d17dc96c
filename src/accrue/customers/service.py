"""Customer rules over persistence, each step inside the unit of work it is given
(the use cases in `use_cases.py` own the transactions)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from accrue.customers.model import (
    Customer,
    CustomerChanges,
    PaymentMethod,
    PaymentMethodType,
    PostalAddress,
    TaxLocation,
    apply_customer_changes,
    validate_customer_fields,
)
from accrue.customers.ports import CustomersUnitOfWork, HasCustomers
from accrue.event_log.service import EventRecorder
from accrue.kernel.clock import Clock
from accrue.kernel.errors import NotFound
from accrue.kernel.ids import IdGenerator
from accrue.kernel.lifecycle import LifecycleState
from accrue.kernel.paging import Page, PageRequest, paginate


@dataclass(frozen=True, slots=True)
class NewCustomer:
    display_name: str
    email: str
    currency_code: str
    billing_address: PostalAddress | None
    tax_location: TaxLocation | None
    time_zone: str
    metadata: dict[str, str]
    test_clock_id: str = ""


@dataclass(frozen=True, slots=True)
class NewPaymentMethod:
    psp: str
    token: str
    type: PaymentMethodType


class CustomerService:
    def __init__(self, clock: Clock, ids: IdGenerator, events: EventRecorder) -> None:
        self._clock = clock
        self._ids = ids
        self._events = events

    def _changed(self, uow: CustomersUnitOfWork, change: str, customer: Customer) -> None:
        self._events.record(
            uow,
            customer.tenant_id,
            type=f"customer.{change}",
            resource_id=customer.id,
            subject=customer,
        )

    def create_customer(
        self, uow: CustomersUnitOfWork, tenant_id: str, new: NewCustomer
    ) -> Customer:
        time_zone = validate_customer_fields(
            currency_code=new.currency_code,
            time_zone=new.time_zone,
            display_name=new.display_name,
        )
        if new.test_clock_id and uow.test_clocks.get(tenant_id, new.test_clock_id) is None:
            raise NotFound("test_clock", new.test_clock_id)
        now = self._clock.now()
        customer = Customer(
            id=self._ids.new("cus"),
            tenant_id=tenant_id,
            display_name=new.display_name,
            email=new.email,
            currency_code=new.currency_code,
            billing_address=new.billing_address,
            tax_location=new.tax_location,
            time_zone=time_zone,
            metadata=dict(new.metadata),
            payment_methods=(),
            default_payment_method_id="",
            state=LifecycleState.ACTIVE,
            create_time=now,
            update_time=now,
            test_clock_id=new.test_clock_id,
        )
        uow.customers.add(customer)
        self._changed(uow, "created", customer)
        return customer

    def get_customer(
        self, uow: HasCustomers, tenant_id: str, customer_id: str, *, for_update: bool = False
    ) -> Customer:
        customer = uow.customers.get(tenant_id, customer_id, for_update=for_update)
        if customer is None:
            raise NotFound("customer", customer_id)
        return customer

    def list_customers(
        self,
        uow: HasCustomers,
        tenant_id: str,
        page: PageRequest,
        *,
        show_archived: bool,
        email: str,
    ) -> Page[Customer]:
        fetched = uow.customers.list(tenant_id, page, show_archived=show_archived, email=email)
        return paginate(fetched, page)

    def update_customer(
        self, uow: CustomersUnitOfWork, tenant_id: str, customer_id: str, changes: CustomerChanges
    ) -> Customer:
        customer = self.get_customer(uow, tenant_id, customer_id, for_update=True)
        updated = apply_customer_changes(customer, changes, self._clock.now())
        uow.customers.update(updated)
        self._changed(uow, "updated", updated)
        return updated

    def archive_customer(
        self, uow: CustomersUnitOfWork, tenant_id: str, customer_id: str
    ) -> Customer:
        customer = self.get_customer(uow, tenant_id, customer_id, for_update=True)
        if customer.state is LifecycleState.ARCHIVED:
            return customer
        archived = replace(customer, state=LifecycleState.ARCHIVED, update_time=self._clock.now())
        uow.customers.update(archived)
        self._changed(uow, "archived", archived)
        return archived

    def attach_payment_method(
        self,
        uow: CustomersUnitOfWork,
        tenant_id: str,
        customer_id: str,
        new: NewPaymentMethod,
        *,
        make_default: bool,
    ) -> Customer:
        customer = self.get_customer(uow, tenant_id, customer_id, for_update=True)
        now = self._clock.now()
        method = PaymentMethod(
            id=self._ids.new("pm"), psp=new.psp, token=new.token, type=new.type, create_time=now
        )
        updated = customer.attach(method, make_default=make_default, now=now)
        uow.customers.add_payment_method(tenant_id, customer_id, method)
        uow.customers.update(updated)
        self._changed(uow, "payment_method_attached", updated)
        return updated

    def detach_payment_method(
        self, uow: CustomersUnitOfWork, tenant_id: str, customer_id: str, payment_method_id: str
    ) -> Customer:
        customer = self.get_customer(uow, tenant_id, customer_id, for_update=True)
        now = self._clock.now()
        updated = customer.detach(payment_method_id, now=now)
        uow.customers.detach_payment_method(tenant_id, payment_method_id, when=now)
        uow.customers.update(updated)
        self._changed(uow, "payment_method_detached", updated)
        return updated
