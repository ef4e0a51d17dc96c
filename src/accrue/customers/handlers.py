"""CustomerService handlers: convert the request, call one use case, convert back.

The use cases own their transactions; nothing here runs inside one.
"""

from __future__ import annotations

from accrue.billing.v1 import customer_pb2 as pb
from accrue.customers.convert import (
    CUSTOMER_UPDATABLE,
    customer_changes_from_pb,
    customer_to_pb,
    new_customer_from_pb,
    new_payment_method_from_pb,
)
from accrue.customers.use_cases import CustomersUseCases
from accrue.kernel.paging import PageRequest
from accrue.platform.transport.call import CallContext
from accrue.platform.transport.convert import mask_fields
from accrue.platform.transport.handler_support import HandlerSupport


class CustomerHandler:
    def __init__(self, support: HandlerSupport, customers: CustomersUseCases) -> None:
        self._support = support
        self._customers = customers

    def create_customer(self, request: pb.CreateCustomerRequest, call: CallContext) -> pb.Customer:
        new = new_customer_from_pb(request.customer)
        replay = self._support.replay(call, request, customer_to_pb)
        outcome = self._customers.create_customer(call.tenant_id, new, replay)
        return self._support.answer(outcome, pb.Customer, customer_to_pb)

    def get_customer(self, request: pb.GetCustomerRequest, call: CallContext) -> pb.Customer:
        return customer_to_pb(self._customers.get_customer(call.tenant_id, request.id))

    def list_customers(
        self, request: pb.ListCustomersRequest, call: CallContext
    ) -> pb.ListCustomersResponse:
        page = PageRequest.parse(
            page_size=request.page_size,
            page_token=request.page_token,
            query={"show_archived": request.show_archived, "email": request.email},
        )
        result = self._customers.list_customers(
            call.tenant_id, page, show_archived=request.show_archived, email=request.email
        )
        return pb.ListCustomersResponse(
            customers=[customer_to_pb(c) for c in result.items],
            next_page_token=result.next_page_token,
        )

    def update_customer(self, request: pb.UpdateCustomerRequest, call: CallContext) -> pb.Customer:
        fields = mask_fields(request.update_mask, allowed=CUSTOMER_UPDATABLE)
        changes = customer_changes_from_pb(request.customer, fields)
        replay = self._support.replay(call, request, customer_to_pb)
        outcome = self._customers.update_customer(
            call.tenant_id, request.customer.id, changes, replay
        )
        return self._support.answer(outcome, pb.Customer, customer_to_pb)

    def archive_customer(
        self, request: pb.ArchiveCustomerRequest, call: CallContext
    ) -> pb.Customer:
        replay = self._support.replay(call, request, customer_to_pb)
        outcome = self._customers.archive_customer(call.tenant_id, request.id, replay)
        return self._support.answer(outcome, pb.Customer, customer_to_pb)

    def attach_payment_method(
        self, request: pb.AttachPaymentMethodRequest, call: CallContext
    ) -> pb.Customer:
        new = new_payment_method_from_pb(request.payment_method)
        replay = self._support.replay(call, request, customer_to_pb)
        outcome = self._customers.attach_payment_method(
            call.tenant_id, request.customer_id, new, replay, make_default=request.make_default
        )
        return self._support.answer(outcome, pb.Customer, customer_to_pb)

    def detach_payment_method(
        self, request: pb.DetachPaymentMethodRequest, call: CallContext
    ) -> pb.Customer:
        replay = self._support.replay(call, request, customer_to_pb)
        outcome = self._customers.detach_payment_method(
            call.tenant_id, request.customer_id, request.payment_method_id, replay
        )
        return self._support.answer(outcome, pb.Customer, customer_to_pb)
