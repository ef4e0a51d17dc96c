"""Entitlement resources between the v1 contract and the model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.message import Message

from accrue.billing.v1 import entitlement_pb2 as pb
from accrue.entitlements.model import (
    Attachment,
    CheckResult,
    Feature,
    FeatureType,
    TargetKind,
    ThresholdCrossing,
    amount_text,
)
from accrue.entitlements.service import NewFeature, Usage
from accrue.events.v1 import events_pb2
from accrue.platform.transport.convert import timestamp

_TYPE_TO_PB = {
    FeatureType.BOOLEAN: pb.FEATURE_TYPE_BOOLEAN,
    FeatureType.NUMERIC: pb.FEATURE_TYPE_NUMERIC,
}
_TYPE_FROM_PB = {value: key for key, value in _TYPE_TO_PB.items()}


def new_feature_from_pb(message: pb.Feature) -> NewFeature:
    return NewFeature(
        key=message.key,
        display_name=message.display_name,
        type=_TYPE_FROM_PB[message.type],
        unit=message.unit,
        per_unit=message.per_unit,
        meter_id=message.meter_id,
        threshold_percents=tuple(message.threshold_percents),
    )


def feature_to_pb(feature: Feature) -> pb.Feature:
    return pb.Feature(
        id=feature.id,
        key=feature.key,
        display_name=feature.display_name,
        type=_TYPE_TO_PB[feature.type],
        unit=feature.unit,
        per_unit=feature.per_unit,
        meter_id=feature.meter_id,
        threshold_percents=list(feature.threshold_percents),
        archived=feature.archived,
        create_time=timestamp(feature.create_time),
        update_time=timestamp(feature.update_time),
    )


def attachment_to_pb(attachment: Attachment) -> pb.FeatureAttachment:
    product = attachment.target is TargetKind.PRODUCT
    return pb.FeatureAttachment(
        feature_id=attachment.feature_id,
        product_id=attachment.target_id if product else "",
        price_id="" if product else attachment.target_id,
        enabled=attachment.enabled,
        limit="" if attachment.limit is None else amount_text(attachment.limit),
        update_time=timestamp(attachment.update_time),
    )


def entitlement_to_pb(item: Usage) -> pb.Entitlement:
    e = item.entitlement
    return pb.Entitlement(
        feature_id=e.feature.id,
        feature_key=e.feature.key,
        type=_TYPE_TO_PB[e.feature.type],
        enabled=e.enabled,
        limit="" if e.limit is None else amount_text(e.limit),
        unit=e.feature.unit,
        usage="" if item.usage is None else amount_text(item.usage),
        subscription_ids=list(e.subscription_ids),
    )


def check_to_pb(result: CheckResult) -> pb.CheckEntitlementResponse:
    return pb.CheckEntitlementResponse(
        allowed=result.allowed,
        type=pb.FEATURE_TYPE_UNSPECIFIED if result.type is None else _TYPE_TO_PB[result.type],
        limit="" if result.limit is None else amount_text(result.limit),
        usage="" if result.usage is None else amount_text(result.usage),
        remaining="" if result.remaining is None else amount_text(result.remaining),
    )


def feature_event(feature: Feature) -> events_pb2.FeatureChanged:
    return events_pb2.FeatureChanged(feature=feature_to_pb(feature))


def attachment_event(attachment: Attachment) -> events_pb2.FeatureAttachmentChanged:
    return events_pb2.FeatureAttachmentChanged(attachment=attachment_to_pb(attachment))


def crossing_event(crossing: ThresholdCrossing) -> events_pb2.UsageThresholdCrossed:
    return events_pb2.UsageThresholdCrossed(
        customer_id=crossing.customer_id,
        feature_id=crossing.feature.id,
        feature_key=crossing.feature.key,
        meter_id=crossing.feature.meter_id,
        threshold_percent=crossing.percent,
        limit=amount_text(crossing.limit),
        usage=amount_text(crossing.usage),
        period_start_time=timestamp(crossing.period_start),
        period_end_time=timestamp(crossing.period_end),
    )


EVENT_PAYLOADS: tuple[tuple[type, Callable[[Any], Message]], ...] = (
    (Feature, feature_event),
    (Attachment, attachment_event),
    (ThresholdCrossing, crossing_event),
)
