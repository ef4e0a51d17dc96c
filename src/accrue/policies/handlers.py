"""SubscriptionPolicyService handlers: convert, call one use case, convert back."""

from __future__ import annotations

from collections.abc import Mapping

from accrue.billing.v1 import policy_pb2 as pb
from accrue.platform.transport.call import CallContext
from accrue.platform.transport.convert import mask_fields
from accrue.platform.transport.handler_support import HandlerSupport
from accrue.policies.convert import POLICY_UPDATABLE, policy_changes_from_pb, policy_to_pb
from accrue.policies.service import PolicyService
from accrue.tenancy.model import DISPLAY_PREFIX_LENGTH


def actor_of(metadata: Mapping[str, str]) -> str:
    """Who is calling, as `accrue tenant keys` shows keys: their first characters only."""
    header = metadata.get("authorization", "")
    secret = header.split(" ", 1)[1].strip() if " " in header else ""
    return f"api_key:{secret[:DISPLAY_PREFIX_LENGTH]}" if secret else ""


class PolicyHandler:
    def __init__(self, support: HandlerSupport, policies: PolicyService) -> None:
        self._support = support
        self._policies = policies

    def get_subscription_policy(
        self, request: pb.GetSubscriptionPolicyRequest, call: CallContext
    ) -> pb.SubscriptionPolicy:
        return self._support.read(lambda uow: policy_to_pb(self._policies.get(uow, call.tenant_id)))

    def update_subscription_policy(
        self, request: pb.UpdateSubscriptionPolicyRequest, call: CallContext
    ) -> pb.SubscriptionPolicy:
        fields = mask_fields(request.update_mask, allowed=POLICY_UPDATABLE)
        changes = policy_changes_from_pb(request.policy, fields)
        actor = actor_of(call.metadata)
        return self._support.mutate(
            call,
            request,
            pb.SubscriptionPolicy,
            lambda uow: policy_to_pb(
                self._policies.update(uow, call.tenant_id, changes, actor=actor)
            ),
        )
