"""Entitlement use cases, each owning its transaction.

A mutation runs in one unit of work through the platform's `MutationRunner`,
which stores the encoded response with the change (and its event), so a retry
with the same request_id is answered with the same bytes; reads and checks run
in a read-only unit of work. The caller converts the returned value itself,
outside the transaction. `EntitlementService` holds the steps.
"""

from __future__ import annotations

from accrue.entitlements.model import Attachment, CheckResult, Feature
from accrue.entitlements.ports import EntitlementUnitOfWorkFactory
from accrue.entitlements.service import EntitlementService, NewFeature, Target, Usage
from accrue.kernel.paging import Page, PageRequest
from accrue.platform.idempotency import MutationRunner, Outcome, Replay


class EntitlementUseCases:
    def __init__(
        self,
        uow_factory: EntitlementUnitOfWorkFactory,
        runner: MutationRunner,
        entitlements: EntitlementService,
    ) -> None:
        self._uow = uow_factory
        self._runner = runner
        self._entitlements = entitlements

    def create_feature(
        self, tenant_id: str, new: NewFeature, replay: Replay[Feature]
    ) -> Outcome[Feature]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._entitlements.create_feature(uow, tenant_id, new),
            replay.encode,
        )

    def get_feature(self, tenant_id: str, feature_id: str) -> Feature:
        with self._uow(write=False) as uow:
            return self._entitlements.get_feature(uow, tenant_id, feature_id)

    def list_features(self, tenant_id: str, page: PageRequest) -> Page[Feature]:
        with self._uow(write=False) as uow:
            return self._entitlements.list_features(uow, tenant_id, page)

    def archive_feature(
        self, tenant_id: str, feature_id: str, replay: Replay[Feature]
    ) -> Outcome[Feature]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._entitlements.archive_feature(uow, tenant_id, feature_id),
            replay.encode,
        )

    def attach_feature(
        self,
        tenant_id: str,
        feature_id: str,
        target: Target,
        *,
        enabled: bool,
        limit: str,
        replay: Replay[Attachment],
    ) -> Outcome[Attachment]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._entitlements.attach(
                uow, tenant_id, feature_id, target, enabled=enabled, limit=limit
            ),
            replay.encode,
        )

    def detach_feature(
        self, tenant_id: str, feature_id: str, target: Target, replay: Replay[str]
    ) -> Outcome[str]:
        """The detached feature's id."""
        return self._runner.run(
            replay.identity,
            lambda uow: self._entitlements.detach(uow, tenant_id, feature_id, target),
            replay.encode,
        )

    def list_attachments(self, tenant_id: str, feature_id: str) -> list[Attachment]:
        with self._uow(write=False) as uow:
            return self._entitlements.list_attachments(uow, tenant_id, feature_id)

    def entitlements(self, tenant_id: str, customer_id: str) -> list[Usage]:
        with self._uow(write=False) as uow:
            return self._entitlements.entitlements(uow, tenant_id, customer_id)

    def check(
        self, tenant_id: str, customer_id: str, feature_key: str, *, quantity: str
    ) -> CheckResult:
        with self._uow(write=False) as uow:
            return self._entitlements.check(
                uow, tenant_id, customer_id, feature_key, quantity=quantity
            )
