"""Webhook resources between the v1 contract and the model."""

from __future__ import annotations

from google.protobuf import json_format

from accrue.billing.v1 import webhook_pb2 as pb
from accrue.event_log.convert import event_to_pb
from accrue.kernel.events import StoredEvent
from accrue.platform.transport.convert import timestamp
from accrue.webhooks.model import Delivery, DeliveryStatus, Endpoint, Ordering
from accrue.webhooks.service import EndpointChanges, NewEndpoint

ENDPOINT_UPDATABLE = frozenset({"url", "event_types", "description", "ordering", "enabled"})

_ORDERING_TO_PB = {
    Ordering.SEQUENCE: pb.WEBHOOK_ORDERING_SEQUENCE,
    Ordering.NONE: pb.WEBHOOK_ORDERING_NONE,
}
_STATUS_TO_PB = {
    DeliveryStatus.PENDING: pb.WEBHOOK_DELIVERY_STATUS_PENDING,
    DeliveryStatus.SUCCEEDED: pb.WEBHOOK_DELIVERY_STATUS_SUCCEEDED,
    DeliveryStatus.FAILED: pb.WEBHOOK_DELIVERY_STATUS_FAILED,
}
STATUS_FROM_PB = {value: key for key, value in _STATUS_TO_PB.items()}


def ordering_from_pb(value: int) -> Ordering:
    return Ordering.NONE if value == pb.WEBHOOK_ORDERING_NONE else Ordering.SEQUENCE


def new_endpoint_from_pb(message: pb.WebhookEndpoint) -> NewEndpoint:
    return NewEndpoint(
        url=message.url,
        event_types=tuple(message.event_types),
        description=message.description,
        ordering=ordering_from_pb(message.ordering),
    )


def endpoint_changes_from_pb(
    request: pb.UpdateWebhookEndpointRequest, fields: frozenset[str]
) -> EndpointChanges:
    message = request.endpoint
    return EndpointChanges(
        url=message.url if "url" in fields else None,
        event_types=tuple(message.event_types) if "event_types" in fields else None,
        description=message.description if "description" in fields else None,
        ordering=ordering_from_pb(message.ordering) if "ordering" in fields else None,
        enabled=request.enabled if "enabled" in fields else None,
    )


def endpoint_to_pb(endpoint: Endpoint, *, with_secret: bool = False) -> pb.WebhookEndpoint:
    message = pb.WebhookEndpoint(
        id=endpoint.id,
        url=endpoint.url,
        event_types=list(endpoint.event_types),
        enabled=endpoint.enabled,
        description=endpoint.description,
        ordering=_ORDERING_TO_PB[endpoint.ordering],
        secret=endpoint.secret if with_secret else "",
        disabled_reason=endpoint.disabled_reason,
        create_time=timestamp(endpoint.create_time),
        update_time=timestamp(endpoint.update_time),
    )
    if endpoint.previous_secret and endpoint.previous_secret_expire_time is not None:
        message.previous_secret_expire_time.CopyFrom(
            timestamp(endpoint.previous_secret_expire_time)
        )
    if endpoint.failing_since is not None:
        message.failing_since_time.CopyFrom(timestamp(endpoint.failing_since))
    return message


def delivery_to_pb(delivery: Delivery) -> pb.WebhookDelivery:
    message = pb.WebhookDelivery(
        id=delivery.id,
        endpoint_id=delivery.endpoint_id,
        event_id=delivery.event_id,
        event_sequence=delivery.event_sequence,
        event_type=delivery.event_type,
        status=_STATUS_TO_PB[delivery.status],
        attempts=delivery.attempts,
        last_response_code=delivery.last_response_code,
        last_latency_ms=delivery.last_latency_ms,
        last_error=delivery.last_error,
        manual=delivery.manual,
        create_time=timestamp(delivery.create_time),
    )
    if delivery.last_attempt_time is not None:
        message.last_attempt_time.CopyFrom(timestamp(delivery.last_attempt_time))
    if delivery.status is DeliveryStatus.PENDING and delivery.next_attempt_time is not None:
        message.next_attempt_time.CopyFrom(timestamp(delivery.next_attempt_time))
    return message


def event_json(event: StoredEvent) -> bytes:
    """The webhook body: the event as proto JSON (`type`, `sequence`, `payload` with `@type`)."""
    text = json_format.MessageToJson(event_to_pb(event), indent=None)
    return text.encode("utf-8")
