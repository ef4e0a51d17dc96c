"""WebhookService handlers: convert the request, call one use case, convert back.

The use cases own their transactions; nothing here runs inside one.
"""

from __future__ import annotations

from datetime import timedelta

from accrue.billing.v1 import webhook_pb2 as pb
from accrue.kernel.paging import PageRequest
from accrue.platform.transport.call import CallContext
from accrue.platform.transport.convert import mask_fields
from accrue.platform.transport.handler_support import HandlerSupport
from accrue.webhooks.convert import (
    ENDPOINT_UPDATABLE,
    STATUS_FROM_PB,
    delivery_to_pb,
    endpoint_changes_from_pb,
    endpoint_to_pb,
    new_endpoint_from_pb,
)
from accrue.webhooks.model import Endpoint
from accrue.webhooks.use_cases import WebhookUseCases


def _with_secret(endpoint: Endpoint) -> pb.WebhookEndpoint:
    """The one answer that shows the signing secret: creating or rotating it."""
    return endpoint_to_pb(endpoint, with_secret=True)


def _plain(endpoint: Endpoint) -> pb.WebhookEndpoint:
    return endpoint_to_pb(endpoint)


def _deleted(endpoint_id: str) -> pb.DeleteWebhookEndpointResponse:
    return pb.DeleteWebhookEndpointResponse(id=endpoint_id)


def _replayed(delivery_count: int) -> pb.ReplayWebhookEventsResponse:
    return pb.ReplayWebhookEventsResponse(delivery_count=delivery_count)


class WebhookHandler:
    def __init__(self, support: HandlerSupport, webhooks: WebhookUseCases) -> None:
        self._support = support
        self._webhooks = webhooks

    def create_webhook_endpoint(
        self, request: pb.CreateWebhookEndpointRequest, call: CallContext
    ) -> pb.WebhookEndpoint:
        new = new_endpoint_from_pb(request.endpoint)
        replay = self._support.replay(call, request, _with_secret)
        outcome = self._webhooks.create_endpoint(call.tenant_id, new, replay)
        return self._support.answer(outcome, pb.WebhookEndpoint, _with_secret)

    def get_webhook_endpoint(
        self, request: pb.GetWebhookEndpointRequest, call: CallContext
    ) -> pb.WebhookEndpoint:
        return endpoint_to_pb(self._webhooks.get_endpoint(call.tenant_id, request.id))

    def list_webhook_endpoints(
        self, request: pb.ListWebhookEndpointsRequest, call: CallContext
    ) -> pb.ListWebhookEndpointsResponse:
        page = PageRequest.parse(
            page_size=request.page_size, page_token=request.page_token, query={}
        )
        result = self._webhooks.list_endpoints(call.tenant_id, page)
        return pb.ListWebhookEndpointsResponse(
            endpoints=[endpoint_to_pb(e) for e in result.items],
            next_page_token=result.next_page_token,
        )

    def update_webhook_endpoint(
        self, request: pb.UpdateWebhookEndpointRequest, call: CallContext
    ) -> pb.WebhookEndpoint:
        fields = mask_fields(request.update_mask, allowed=ENDPOINT_UPDATABLE)
        changes = endpoint_changes_from_pb(request, fields)
        replay = self._support.replay(call, request, _plain)
        outcome = self._webhooks.update_endpoint(
            call.tenant_id, request.endpoint.id, changes, replay
        )
        return self._support.answer(outcome, pb.WebhookEndpoint, _plain)

    def delete_webhook_endpoint(
        self, request: pb.DeleteWebhookEndpointRequest, call: CallContext
    ) -> pb.DeleteWebhookEndpointResponse:
        replay = self._support.replay(call, request, _deleted)
        outcome = self._webhooks.delete_endpoint(call.tenant_id, request.id, replay)
        return self._support.answer(outcome, pb.DeleteWebhookEndpointResponse, _deleted)

    def rotate_webhook_secret(
        self, request: pb.RotateWebhookSecretRequest, call: CallContext
    ) -> pb.WebhookEndpoint:
        overlap = timedelta(seconds=request.overlap_seconds) if request.overlap_seconds else None
        replay = self._support.replay(call, request, _with_secret)
        outcome = self._webhooks.rotate_secret(call.tenant_id, request.id, replay, overlap=overlap)
        return self._support.answer(outcome, pb.WebhookEndpoint, _with_secret)

    def list_webhook_deliveries(
        self, request: pb.ListWebhookDeliveriesRequest, call: CallContext
    ) -> pb.ListWebhookDeliveriesResponse:
        page = PageRequest.parse(
            page_size=request.page_size,
            page_token=request.page_token,
            query={"endpoint": request.endpoint_id, "status": request.status},
        )
        result = self._webhooks.list_deliveries(
            call.tenant_id,
            request.endpoint_id,
            page,
            status=STATUS_FROM_PB.get(request.status),
        )
        return pb.ListWebhookDeliveriesResponse(
            deliveries=[delivery_to_pb(d) for d in result.items],
            next_page_token=result.next_page_token,
        )

    def redeliver_webhook(
        self, request: pb.RedeliverWebhookRequest, call: CallContext
    ) -> pb.WebhookDelivery:
        replay = self._support.replay(call, request, delivery_to_pb)
        outcome = self._webhooks.redeliver(call.tenant_id, request.delivery_id, replay)
        return self._support.answer(outcome, pb.WebhookDelivery, delivery_to_pb)

    def replay_webhook_events(
        self, request: pb.ReplayWebhookEventsRequest, call: CallContext
    ) -> pb.ReplayWebhookEventsResponse:
        replay = self._support.replay(call, request, _replayed)
        outcome = self._webhooks.replay_events(
            call.tenant_id,
            request.endpoint_id,
            replay,
            from_sequence=request.from_sequence,
            to_sequence=request.to_sequence,
        )
        return self._support.answer(outcome, pb.ReplayWebhookEventsResponse, _replayed)
