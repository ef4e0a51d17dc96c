"""Subscription-policy use cases, each owning its transaction.

An update runs in one unit of work through the platform's `MutationRunner`,
which stores the encoded response with the change and its event, so a retry
with the same request_id is answered with the same bytes; a read runs in a
read-only unit of work. The caller converts the returned value itself,
outside the transaction. `PolicyService` holds the steps.
"""

from __future__ import annotations

from accrue.platform.idempotency import MutationRunner, Outcome, Replay
from accrue.policies.model import SubscriptionPolicy
from accrue.policies.ports import PolicyUnitOfWorkFactory
from accrue.policies.service import PolicyChanges, PolicyService


class PolicyUseCases:
    def __init__(
        self, uow_factory: PolicyUnitOfWorkFactory, runner: MutationRunner, policies: PolicyService
    ) -> None:
        self._uow = uow_factory
        self._runner = runner
        self._policies = policies

    def get_policy(self, tenant_id: str) -> SubscriptionPolicy:
        """The tenant's policy; the defaults when it never set one."""
        with self._uow(write=False) as uow:
            return self._policies.get(uow, tenant_id)

    def update_policy(
        self,
        tenant_id: str,
        changes: PolicyChanges,
        *,
        actor: str,
        replay: Replay[SubscriptionPolicy],
    ) -> Outcome[SubscriptionPolicy]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._policies.update(uow, tenant_id, changes, actor=actor),
            replay.encode,
        )
