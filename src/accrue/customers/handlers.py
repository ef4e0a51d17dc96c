"""CustomerService handlers."""

from __future__ import annotations

from accrue.billing.v1 import customer_pb2 as pb
from accrue.customers.convert import (
    CUSTOMER_UPDATABLE,
    customer_changes_from_pb,
    customer_to_pb,
    new_customer_from_pb,
    new_payment_method_from_pb,
)
from accrue.customers.service import CustomerService
from accrue.kernel.paging import PageRequest
from accrue.platform.transport.call import CallContext
from accrue.platform.transport.convert import mask_fields
from accrue.platform.transport.handler_support import HandlerSupport
from accrue.ports import UnitOfWork


class CustomerHandler:
    def __init__(self, support: HandlerSupport, customers: CustomerService) -> None:
        self._support = support
        self._customers = customers

    def create_customer(self, request: pb.CreateCustomerRequest, call: CallContext) -> pb.Customer:
        new = new_customer_from_pb(request.customer)
        return self._support.mutate(
            call,
            request,
            pb.Customer,
            lambda uow: customer_to_pb(self._customers.create_customer(uow, call.tenant_id, new)),
        )

    def get_customer(self, request: pb.GetCustomerRequest, call: CallContext) -> pb.Customer:
        return self._support.read(
            lambda uow: customer_to_pb(
                self._customers.get_customer(uow, call.tenant_id, request.id)
            )
        )

    def list_customers(
        self, request: pb.ListCustomersRequest, call: CallContext
    ) -> pb.ListCustomersResponse:
        page = PageRequest.parse(
            page_size=request.page_size,
            page_token=request.page_token,
            query={"show_archived": request.show_archived, "email": request.email},
        )

        def work(uow: UnitOfWork) -> pb.ListCustomersResponse:
            result = self._customers.list_customers(
                uow, call.tenant_id, page, show_archived=request.show_archived, email=request.email
            )
            return pb.ListCustomersResponse(
                customers=[customer_to_pb(c) for c in result.items],
                next_page_token=result.next_page_token,
            )

        return self._support.read(work)

    def update_customer(self, request: pb.UpdateCustomerRequest, call: CallContext) -> pb.Customer:
        fields = mask_fields(request.update_mask, allowed=CUSTOMER_UPDATABLE)
        changes = customer_changes_from_pb(request.customer, fields)
        return self._support.mutate(
            call,
            request,
            pb.Customer,
            lambda uow: customer_to_pb(
                self._customers.update_customer(uow, call.tenant_id, request.customer.id, changes)
            ),
        )

    def archive_customer(
        self, request: pb.ArchiveCustomerRequest, call: CallContext
    ) -> pb.Customer:
        return self._support.mutate(
            call,
            request,
            pb.Customer,
            lambda uow: customer_to_pb(
                self._customers.archive_customer(uow, call.tenant_id, request.id)
            ),
        )

    def attach_payment_method(
        self, request: pb.AttachPaymentMethodRequest, call: CallContext
    ) -> pb.Customer:
        new = new_payment_method_from_pb(request.payment_method)
        return self._support.mutate(
            call,
            request,
            pb.Customer,
            lambda uow: customer_to_pb(
                self._customers.attach_payment_method(
                    uow, call.tenant_id, request.customer_id, new, make_default=request.make_default
                )
            ),
        )

    def detach_payment_method(
        self, request: pb.DetachPaymentMethodRequest, call: CallContext
    ) -> pb.Customer:
        return self._support.mutate(
            call,
            request,
            pb.Customer,
            lambda uow: customer_to_pb(
                self._customers.detach_payment_method(
                    uow, call.tenant_id, request.customer_id, request.payment_method_id
                )
            ),
        )
