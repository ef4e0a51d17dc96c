"""SubscriptionPolicyService handlers: convert, call one use case, convert back.

The use cases own their transactions; nothing here runs inside one.
"""

from __future__ import annotations

from collections.abc import Mapping

from accrue.billing.v1 import policy_pb2 as pb
from accrue.platform.transport.call import CallContext
from accrue.platform.transport.convert import mask_fields
from accrue.platform.transport.handler_support import HandlerSupport
from accrue.policies.convert import POLICY_UPDATABLE, policy_changes_from_pb, policy_to_pb
from accrue.policies.use_cases import PolicyUseCases
from accrue.tenancy.model import DISPLAY_PREFIX_LENGTH


def actor_of(metadata: Mapping[str, str]) -> str:
    """Who is calling, as `accrue tenant keys` shows keys: their first characters only."""
    header = metadata.get("authorization", "")
    secret = header.split(" ", 1)[1].strip() if " " in header else ""
    return f"api_key:{secret[:DISPLAY_PREFIX_LENGTH]}" if secret else ""


class PolicyHandler:
    def __init__(self, support: HandlerSupport, policies: PolicyUseCases) -> None:
        self._support = support
        self._policies = policies

    def get_subscription_policy(
        self, request: pb.GetSubscriptionPolicyRequest, call: CallContext
    ) -> pb.SubscriptionPolicy:
        return policy_to_pb(self._policies.get_policy(call.tenant_id))

    def update_subscription_policy(
        self, request: pb.UpdateSubscriptionPolicyRequest, call: CallContext
    ) -> pb.SubscriptionPolicy:
        fields = mask_fields(request.update_mask, allowed=POLICY_UPDATABLE)
        changes = policy_changes_from_pb(request.policy, fields)
        replay = self._support.replay(call, request, policy_to_pb)
        outcome = self._policies.update_policy(
            call.tenant_id, changes, actor=actor_of(call.metadata), replay=replay
        )
        return self._support.answer(outcome, pb.SubscriptionPolicy, policy_to_pb)
