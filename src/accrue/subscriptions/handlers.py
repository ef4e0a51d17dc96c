"""SubscriptionService handlers: convert the request, call one use case, convert back.

The use cases own their transactions; nothing here runs inside one.
"""

from __future__ import annotations

from accrue.billing.v1 import subscription_pb2 as pb
from accrue.invoicing.convert import COLLECTION_FROM_PB, invoice_to_pb, line_to_pb
from accrue.kernel.paging import PageRequest
from accrue.platform.transport.call import CallContext
from accrue.platform.transport.convert import optional_time, timestamp
from accrue.platform.transport.handler_support import HandlerSupport
from accrue.subscriptions.convert import (
    PRORATION_FROM_PB,
    SUBSCRIPTION_STATUS_FROM_PB,
    items_from_pb,
    subscription_to_pb,
    violations_to_pb,
)
from accrue.subscriptions.service import ChangeResult, ItemChange, NewSubscription
from accrue.subscriptions.use_cases import SubscriptionUseCases


def _change_to_pb(result: ChangeResult) -> pb.ChangeSubscriptionResponse:
    sub = result.subscription
    message = pb.ChangeSubscriptionResponse(
        subscription=subscription_to_pb(sub),
        proration_lines=[line_to_pb(line, sub.currency_code) for line in result.proration_lines],
        proration_time=timestamp(result.proration_time),
    )
    if result.invoice is not None:
        message.invoice.CopyFrom(invoice_to_pb(result.invoice))
    message.policy_violations.extend(violations_to_pb(result.policy_violations))
    return message


class SubscriptionHandler:
    def __init__(self, support: HandlerSupport, subscriptions: SubscriptionUseCases) -> None:
        self._support = support
        self._subs = subscriptions

    def create_subscription(
        self, request: pb.CreateSubscriptionRequest, call: CallContext
    ) -> pb.Subscription:
        new = NewSubscription(
            customer_id=request.customer_id,
            items=items_from_pb(request.items),
            trial_days=request.trial_days,
            trial_end=optional_time(request, "trial_end"),
            start_time=optional_time(request, "start_time"),
            billing_anchor_time=optional_time(request, "billing_anchor_time"),
            metadata=dict(request.metadata),
            collection_method=COLLECTION_FROM_PB[request.collection_method],
        )
        replay = self._support.replay(call, request, subscription_to_pb)
        outcome = self._subs.create_subscription(call.tenant_id, new, replay)
        created = self._support.answer(outcome, pb.Subscription, subscription_to_pb)
        if (
            created.status != pb.SUBSCRIPTION_STATUS_INCOMPLETE
            or not self._subs.charges_first_invoice
        ):
            return created
        # The status answered (fresh or replayed) decides: a replay of an
        # INCOMPLETE creation is answered with the charge's outcome as it stands.
        return subscription_to_pb(self._subs.collect_first_charge(call.tenant_id, created.id))

    def get_subscription(
        self, request: pb.GetSubscriptionRequest, call: CallContext
    ) -> pb.Subscription:
        return subscription_to_pb(self._subs.get_subscription(call.tenant_id, request.id))

    def list_subscriptions(
        self, request: pb.ListSubscriptionsRequest, call: CallContext
    ) -> pb.ListSubscriptionsResponse:
        status = SUBSCRIPTION_STATUS_FROM_PB.get(request.status)
        page = PageRequest.parse(
            page_size=request.page_size,
            page_token=request.page_token,
            query={"customer_id": request.customer_id, "status": request.status},
        )
        result = self._subs.list_subscriptions(
            call.tenant_id, page, customer_id=request.customer_id, status=status
        )
        return pb.ListSubscriptionsResponse(
            subscriptions=[subscription_to_pb(s) for s in result.items],
            next_page_token=result.next_page_token,
        )

    def change_subscription(
        self, request: pb.ChangeSubscriptionRequest, call: CallContext
    ) -> pb.ChangeSubscriptionResponse:
        change = _item_change(request)
        replay = self._support.replay(call, request, _change_to_pb)
        outcome = self._subs.change_subscription(call.tenant_id, change, replay)
        return self._support.answer(outcome, pb.ChangeSubscriptionResponse, _change_to_pb)

    def preview_subscription_change(
        self, request: pb.PreviewSubscriptionChangeRequest, call: CallContext
    ) -> pb.ChangeSubscriptionResponse:
        change = _item_change(request)
        return _change_to_pb(self._subs.preview_change(call.tenant_id, change))

    def pause_subscription(
        self, request: pb.PauseSubscriptionRequest, call: CallContext
    ) -> pb.Subscription:
        resume_at = optional_time(request, "resume_time")
        replay = self._support.replay(call, request, subscription_to_pb)
        outcome = self._subs.pause_subscription(
            call.tenant_id, request.subscription_id, resume_at, replay
        )
        return self._support.answer(outcome, pb.Subscription, subscription_to_pb)

    def resume_subscription(
        self, request: pb.ResumeSubscriptionRequest, call: CallContext
    ) -> pb.Subscription:
        replay = self._support.replay(call, request, subscription_to_pb)
        outcome = self._subs.resume_subscription(call.tenant_id, request.subscription_id, replay)
        return self._support.answer(outcome, pb.Subscription, subscription_to_pb)

    def cancel_subscription(
        self, request: pb.CancelSubscriptionRequest, call: CallContext
    ) -> pb.Subscription:
        replay = self._support.replay(call, request, subscription_to_pb)
        outcome = self._subs.cancel_subscription(
            call.tenant_id,
            request.subscription_id,
            at_period_end=request.at_period_end,
            prorate=request.prorate,
            replay=replay,
        )
        return self._support.answer(outcome, pb.Subscription, subscription_to_pb)

    def reactivate_subscription(
        self, request: pb.ReactivateSubscriptionRequest, call: CallContext
    ) -> pb.Subscription:
        replay = self._support.replay(call, request, subscription_to_pb)
        outcome = self._subs.reactivate_subscription(
            call.tenant_id, request.subscription_id, replay
        )
        return self._support.answer(outcome, pb.Subscription, subscription_to_pb)


def _item_change(
    request: pb.ChangeSubscriptionRequest | pb.PreviewSubscriptionChangeRequest,
) -> ItemChange:
    return ItemChange(
        subscription_id=request.subscription_id,
        items=items_from_pb(request.items),
        behavior=PRORATION_FROM_PB[request.proration_behavior],
        proration_time=optional_time(request, "proration_time"),
    )
