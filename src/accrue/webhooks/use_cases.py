"""Webhook use cases, each owning its transaction.

Mutations run through the platform's `MutationRunner` (the encoded response
stored with the change, replayed byte for byte on a retry); reads run in a
read-only unit of work. A URL is vetted (resolved, its addresses checked
against the policy) before the transaction opens - a DNS lookup never runs
inside one - and only for a fresh request: a replay is answered from the
stored response without resolving anything again, and a reused key is
refused before anything is resolved.
"""

from __future__ import annotations

from datetime import timedelta

from accrue.kernel.paging import Page, PageRequest
from accrue.platform.idempotency import MutationRunner, Outcome, Replay, RequestIdentity
from accrue.webhooks.model import Delivery, DeliveryStatus, Endpoint
from accrue.webhooks.ports import EndpointsUnitOfWorkFactory
from accrue.webhooks.service import EndpointChanges, NewEndpoint, WebhookService


class WebhookUseCases:
    def __init__(
        self,
        uow_factory: EndpointsUnitOfWorkFactory,
        runner: MutationRunner,
        service: WebhookService,
    ) -> None:
        self._uow = uow_factory
        self._runner = runner
        self._service = service

    def create_endpoint(
        self, tenant_id: str, new: NewEndpoint, replay: Replay[Endpoint]
    ) -> Outcome[Endpoint]:
        self._vet_unless_replayed(new.url, replay.identity)
        return self._runner.run(
            replay.identity,
            lambda uow: self._service.create_endpoint(uow, tenant_id, new),
            replay.encode,
        )

    def get_endpoint(self, tenant_id: str, endpoint_id: str) -> Endpoint:
        with self._uow(write=False) as uow:
            return self._service.get_endpoint(uow, tenant_id, endpoint_id)

    def list_endpoints(self, tenant_id: str, page: PageRequest) -> Page[Endpoint]:
        with self._uow(write=False) as uow:
            return self._service.list_endpoints(uow, tenant_id, page)

    def update_endpoint(
        self,
        tenant_id: str,
        endpoint_id: str,
        changes: EndpointChanges,
        replay: Replay[Endpoint],
    ) -> Outcome[Endpoint]:
        if changes.url is not None:
            self._vet_unless_replayed(changes.url, replay.identity)
        return self._runner.run(
            replay.identity,
            lambda uow: self._service.update_endpoint(uow, tenant_id, endpoint_id, changes),
            replay.encode,
        )

    def delete_endpoint(
        self, tenant_id: str, endpoint_id: str, replay: Replay[str]
    ) -> Outcome[str]:
        """The id of the endpoint deleted."""
        return self._runner.run(
            replay.identity,
            lambda uow: self._service.delete_endpoint(uow, tenant_id, endpoint_id),
            replay.encode,
        )

    def rotate_secret(
        self,
        tenant_id: str,
        endpoint_id: str,
        replay: Replay[Endpoint],
        *,
        overlap: timedelta | None,
    ) -> Outcome[Endpoint]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._service.rotate_secret(uow, tenant_id, endpoint_id, overlap=overlap),
            replay.encode,
        )

    def list_deliveries(
        self,
        tenant_id: str,
        endpoint_id: str,
        page: PageRequest,
        *,
        status: DeliveryStatus | None,
    ) -> Page[Delivery]:
        with self._uow(write=False) as uow:
            return self._service.list_deliveries(uow, tenant_id, endpoint_id, page, status=status)

    def redeliver(
        self, tenant_id: str, delivery_id: str, replay: Replay[Delivery]
    ) -> Outcome[Delivery]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._service.redeliver(uow, tenant_id, delivery_id),
            replay.encode,
        )

    def replay_events(
        self,
        tenant_id: str,
        endpoint_id: str,
        replay: Replay[int],
        *,
        from_sequence: int,
        to_sequence: int,
    ) -> Outcome[int]:
        """How many deliveries were queued."""
        return self._runner.run(
            replay.identity,
            lambda uow: self._service.replay(
                uow,
                tenant_id,
                endpoint_id,
                from_sequence=from_sequence,
                to_sequence=to_sequence,
            ),
            replay.encode,
        )

    def _vet_unless_replayed(self, url: str, identity: RequestIdentity | None) -> None:
        if identity is None or self._runner.stored(identity) is None:
            self._service.vetter.vet(url)
