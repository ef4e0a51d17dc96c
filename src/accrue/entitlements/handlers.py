"""EntitlementService handlers: convert, call one use case, convert back."""

from __future__ import annotations

from accrue.billing.v1 import entitlement_pb2 as pb
from accrue.entitlements.convert import (
    attachment_to_pb,
    check_to_pb,
    entitlement_to_pb,
    feature_to_pb,
    new_feature_from_pb,
)
from accrue.entitlements.service import EntitlementService, Target
from accrue.kernel.paging import PageRequest
from accrue.platform.transport.call import CallContext
from accrue.platform.transport.handler_support import HandlerSupport
from accrue.ports import UnitOfWork


class EntitlementHandler:
    def __init__(self, support: HandlerSupport, entitlements: EntitlementService) -> None:
        self._support = support
        self._entitlements = entitlements

    def create_feature(self, request: pb.CreateFeatureRequest, call: CallContext) -> pb.Feature:
        new = new_feature_from_pb(request.feature)
        return self._support.mutate(
            call,
            request,
            pb.Feature,
            lambda uow: feature_to_pb(self._entitlements.create_feature(uow, call.tenant_id, new)),
        )

    def get_feature(self, request: pb.GetFeatureRequest, call: CallContext) -> pb.Feature:
        return self._support.read(
            lambda uow: feature_to_pb(
                self._entitlements.get_feature(uow, call.tenant_id, request.id)
            )
        )

    def list_features(
        self, request: pb.ListFeaturesRequest, call: CallContext
    ) -> pb.ListFeaturesResponse:
        page = PageRequest.parse(
            page_size=request.page_size, page_token=request.page_token, query={}
        )

        def work(uow: UnitOfWork) -> pb.ListFeaturesResponse:
            result = self._entitlements.list_features(uow, call.tenant_id, page)
            return pb.ListFeaturesResponse(
                features=[feature_to_pb(f) for f in result.items],
                next_page_token=result.next_page_token,
            )

        return self._support.read(work)

    def archive_feature(self, request: pb.ArchiveFeatureRequest, call: CallContext) -> pb.Feature:
        return self._support.mutate(
            call,
            request,
            pb.Feature,
            lambda uow: feature_to_pb(
                self._entitlements.archive_feature(uow, call.tenant_id, request.id)
            ),
        )

    def attach_feature(
        self, request: pb.AttachFeatureRequest, call: CallContext
    ) -> pb.FeatureAttachment:
        target = Target.of(product_id=request.product_id, price_id=request.price_id)
        return self._support.mutate(
            call,
            request,
            pb.FeatureAttachment,
            lambda uow: attachment_to_pb(
                self._entitlements.attach(
                    uow,
                    call.tenant_id,
                    request.feature_id,
                    target,
                    enabled=request.enabled,
                    limit=request.limit,
                )
            ),
        )

    def detach_feature(
        self, request: pb.DetachFeatureRequest, call: CallContext
    ) -> pb.DetachFeatureResponse:
        target = Target.of(product_id=request.product_id, price_id=request.price_id)
        return self._support.mutate(
            call,
            request,
            pb.DetachFeatureResponse,
            lambda uow: pb.DetachFeatureResponse(
                feature_id=self._entitlements.detach(
                    uow, call.tenant_id, request.feature_id, target
                )
            ),
        )

    def list_feature_attachments(
        self, request: pb.ListFeatureAttachmentsRequest, call: CallContext
    ) -> pb.ListFeatureAttachmentsResponse:
        return self._support.read(
            lambda uow: pb.ListFeatureAttachmentsResponse(
                attachments=[
                    attachment_to_pb(a)
                    for a in self._entitlements.list_attachments(
                        uow, call.tenant_id, request.feature_id
                    )
                ]
            )
        )

    def get_entitlements(
        self, request: pb.GetEntitlementsRequest, call: CallContext
    ) -> pb.GetEntitlementsResponse:
        return self._support.read(
            lambda uow: pb.GetEntitlementsResponse(
                entitlements=[
                    entitlement_to_pb(e)
                    for e in self._entitlements.entitlements(
                        uow, call.tenant_id, request.customer_id
                    )
                ]
            )
        )

    def check_entitlement(
        self, request: pb.CheckEntitlementRequest, call: CallContext
    ) -> pb.CheckEntitlementResponse:
        return self._support.read(
            lambda uow: check_to_pb(
                self._entitlements.check(
                    uow,
                    call.tenant_id,
                    request.customer_id,
                    request.feature_key,
                    quantity=request.quantity,
                )
            )
        )
