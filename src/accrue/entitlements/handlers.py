"""EntitlementService handlers: convert, call one use case, convert back.

The use cases own their transactions; nothing here runs inside one.
"""

from __future__ import annotations

from accrue.billing.v1 import entitlement_pb2 as pb
from accrue.entitlements.convert import (
    attachment_to_pb,
    check_to_pb,
    entitlement_to_pb,
    feature_to_pb,
    new_feature_from_pb,
)
from accrue.entitlements.service import Target
from accrue.entitlements.use_cases import EntitlementUseCases
from accrue.kernel.paging import PageRequest
from accrue.platform.transport.call import CallContext
from accrue.platform.transport.handler_support import HandlerSupport


def _detached_to_pb(feature_id: str) -> pb.DetachFeatureResponse:
    return pb.DetachFeatureResponse(feature_id=feature_id)


class EntitlementHandler:
    def __init__(self, support: HandlerSupport, entitlements: EntitlementUseCases) -> None:
        self._support = support
        self._entitlements = entitlements

    def create_feature(self, request: pb.CreateFeatureRequest, call: CallContext) -> pb.Feature:
        new = new_feature_from_pb(request.feature)
        replay = self._support.replay(call, request, feature_to_pb)
        outcome = self._entitlements.create_feature(call.tenant_id, new, replay)
        return self._support.answer(outcome, pb.Feature, feature_to_pb)

    def get_feature(self, request: pb.GetFeatureRequest, call: CallContext) -> pb.Feature:
        return feature_to_pb(self._entitlements.get_feature(call.tenant_id, request.id))

    def list_features(
        self, request: pb.ListFeaturesRequest, call: CallContext
    ) -> pb.ListFeaturesResponse:
        page = PageRequest.parse(
            page_size=request.page_size, page_token=request.page_token, query={}
        )
        result = self._entitlements.list_features(call.tenant_id, page)
        return pb.ListFeaturesResponse(
            features=[feature_to_pb(f) for f in result.items],
            next_page_token=result.next_page_token,
        )

    def archive_feature(self, request: pb.ArchiveFeatureRequest, call: CallContext) -> pb.Feature:
        replay = self._support.replay(call, request, feature_to_pb)
        outcome = self._entitlements.archive_feature(call.tenant_id, request.id, replay)
        return self._support.answer(outcome, pb.Feature, feature_to_pb)

    def attach_feature(
        self, request: pb.AttachFeatureRequest, call: CallContext
    ) -> pb.FeatureAttachment:
        target = Target.of(product_id=request.product_id, price_id=request.price_id)
        replay = self._support.replay(call, request, attachment_to_pb)
        outcome = self._entitlements.attach_feature(
            call.tenant_id,
            request.feature_id,
            target,
            enabled=request.enabled,
            limit=request.limit,
            replay=replay,
        )
        return self._support.answer(outcome, pb.FeatureAttachment, attachment_to_pb)

    def detach_feature(
        self, request: pb.DetachFeatureRequest, call: CallContext
    ) -> pb.DetachFeatureResponse:
        target = Target.of(product_id=request.product_id, price_id=request.price_id)
        replay = self._support.replay(call, request, _detached_to_pb)
        outcome = self._entitlements.detach_feature(
            call.tenant_id, request.feature_id, target, replay
        )
        return self._support.answer(outcome, pb.DetachFeatureResponse, _detached_to_pb)

    def list_feature_attachments(
        self, request: pb.ListFeatureAttachmentsRequest, call: CallContext
    ) -> pb.ListFeatureAttachmentsResponse:
        attachments = self._entitlements.list_attachments(call.tenant_id, request.feature_id)
        return pb.ListFeatureAttachmentsResponse(
            attachments=[attachment_to_pb(a) for a in attachments]
        )

    def get_entitlements(
        self, request: pb.GetEntitlementsRequest, call: CallContext
    ) -> pb.GetEntitlementsResponse:
        items = self._entitlements.entitlements(call.tenant_id, request.customer_id)
        return pb.GetEntitlementsResponse(entitlements=[entitlement_to_pb(e) for e in items])

    def check_entitlement(
        self, request: pb.CheckEntitlementRequest, call: CallContext
    ) -> pb.CheckEntitlementResponse:
        return check_to_pb(
            self._entitlements.check(
                call.tenant_id,
                request.customer_id,
                request.feature_key,
                quantity=request.quantity,
            )
        )
