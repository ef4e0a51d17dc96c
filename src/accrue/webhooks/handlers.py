"""WebhookService handlers: convert, call one use case, convert back."""

from __future__ import annotations

from datetime import timedelta

from accrue.billing.v1 import webhook_pb2 as pb
from accrue.kernel.paging import PageRequest
from accrue.platform.transport.call import CallContext
from accrue.platform.transport.convert import mask_fields
from accrue.platform.transport.handler_support import HandlerSupport
from accrue.ports import UnitOfWork
from accrue.webhooks.convert import (
    ENDPOINT_UPDATABLE,
    STATUS_FROM_PB,
    delivery_to_pb,
    endpoint_changes_from_pb,
    endpoint_to_pb,
    new_endpoint_from_pb,
)
from accrue.webhooks.service import WebhookService


class WebhookHandler:
    def __init__(self, support: HandlerSupport, webhooks: WebhookService) -> None:
        self._support = support
        self._webhooks = webhooks

    def create_webhook_endpoint(
        self, request: pb.CreateWebhookEndpointRequest, call: CallContext
    ) -> pb.WebhookEndpoint:
        new = new_endpoint_from_pb(request.endpoint)
        # A replay answers from the stored response before anything resolves again.
        if self._support.stored_response(call, request) is None:
            self._webhooks.vetter.vet(new.url)
        return self._support.mutate(
            call,
            request,
            pb.WebhookEndpoint,
            lambda uow: endpoint_to_pb(
                self._webhooks.create_endpoint(uow, call.tenant_id, new), with_secret=True
            ),
        )

    def get_webhook_endpoint(
        self, request: pb.GetWebhookEndpointRequest, call: CallContext
    ) -> pb.WebhookEndpoint:
        return self._support.read(
            lambda uow: endpoint_to_pb(self._webhooks.get_endpoint(uow, call.tenant_id, request.id))
        )

    def list_webhook_endpoints(
        self, request: pb.ListWebhookEndpointsRequest, call: CallContext
    ) -> pb.ListWebhookEndpointsResponse:
        page = PageRequest.parse(
            page_size=request.page_size, page_token=request.page_token, query={}
        )

        def work(uow: UnitOfWork) -> pb.ListWebhookEndpointsResponse:
            result = self._webhooks.list_endpoints(uow, call.tenant_id, page)
            return pb.ListWebhookEndpointsResponse(
                endpoints=[endpoint_to_pb(e) for e in result.items],
                next_page_token=result.next_page_token,
            )

        return self._support.read(work)

    def update_webhook_endpoint(
        self, request: pb.UpdateWebhookEndpointRequest, call: CallContext
    ) -> pb.WebhookEndpoint:
        fields = mask_fields(request.update_mask, allowed=ENDPOINT_UPDATABLE)
        changes = endpoint_changes_from_pb(request, fields)
        if changes.url is not None and self._support.stored_response(call, request) is None:
            self._webhooks.vetter.vet(changes.url)
        return self._support.mutate(
            call,
            request,
            pb.WebhookEndpoint,
            lambda uow: endpoint_to_pb(
                self._webhooks.update_endpoint(uow, call.tenant_id, request.endpoint.id, changes)
            ),
        )

    def delete_webhook_endpoint(
        self, request: pb.DeleteWebhookEndpointRequest, call: CallContext
    ) -> pb.DeleteWebhookEndpointResponse:
        return self._support.mutate(
            call,
            request,
            pb.DeleteWebhookEndpointResponse,
            lambda uow: pb.DeleteWebhookEndpointResponse(
                id=self._webhooks.delete_endpoint(uow, call.tenant_id, request.id)
            ),
        )

    def rotate_webhook_secret(
        self, request: pb.RotateWebhookSecretRequest, call: CallContext
    ) -> pb.WebhookEndpoint:
        overlap = timedelta(seconds=request.overlap_seconds) if request.overlap_seconds else None
        return self._support.mutate(
            call,
            request,
            pb.WebhookEndpoint,
            lambda uow: endpoint_to_pb(
                self._webhooks.rotate_secret(uow, call.tenant_id, request.id, overlap=overlap),
                with_secret=True,
            ),
        )

    def list_webhook_deliveries(
        self, request: pb.ListWebhookDeliveriesRequest, call: CallContext
    ) -> pb.ListWebhookDeliveriesResponse:
        page = PageRequest.parse(
            page_size=request.page_size,
            page_token=request.page_token,
            query={"endpoint": request.endpoint_id, "status": request.status},
        )
        status = STATUS_FROM_PB.get(request.status)

        def work(uow: UnitOfWork) -> pb.ListWebhookDeliveriesResponse:
            result = self._webhooks.list_deliveries(
                uow, call.tenant_id, request.endpoint_id, page, status=status
            )
            return pb.ListWebhookDeliveriesResponse(
                deliveries=[delivery_to_pb(d) for d in result.items],
                next_page_token=result.next_page_token,
            )

        return self._support.read(work)

    def redeliver_webhook(
        self, request: pb.RedeliverWebhookRequest, call: CallContext
    ) -> pb.WebhookDelivery:
        return self._support.mutate(
            call,
            request,
            pb.WebhookDelivery,
            lambda uow: delivery_to_pb(
                self._webhooks.redeliver(uow, call.tenant_id, request.delivery_id)
            ),
        )

    def replay_webhook_events(
        self, request: pb.ReplayWebhookEventsRequest, call: CallContext
    ) -> pb.ReplayWebhookEventsResponse:
        return self._support.mutate(
            call,
            request,
            pb.ReplayWebhookEventsResponse,
            lambda uow: pb.ReplayWebhookEventsResponse(
                delivery_count=self._webhooks.replay(
                    uow,
                    call.tenant_id,
                    request.endpoint_id,
                    from_sequence=request.from_sequence,
                    to_sequence=request.to_sequence,
                )
            ),
        )
