"""The WebhookService use cases: endpoints, secrets, deliveries, redelivery and replay.

Each method runs inside the unit of work it is given (`use_cases.py` owns
them), so a change and its idempotency record commit together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from accrue.event_log.ports import EventLogReader
from accrue.kernel.clock import Clock
from accrue.kernel.errors import NotFound, ValidationFailed
from accrue.kernel.events import EventQuery, StoredEvent
from accrue.kernel.ids import IdGenerator
from accrue.kernel.paging import Page, PageRequest, paginate
from accrue.webhooks.model import (
    DEFAULT_OVERLAP,
    DISABLED_BY_USER,
    AddressPolicy,
    Delivery,
    DeliveryStatus,
    Endpoint,
    Ordering,
    check_url,
    new_secret,
)
from accrue.webhooks.ports import EndpointsUnitOfWork, EventHead, Resolver

MAX_REPLAY = 10_000
_SCAN = 1000


@dataclass(frozen=True, slots=True)
class NewEndpoint:
    url: str
    event_types: tuple[str, ...]
    description: str
    ordering: Ordering


@dataclass(frozen=True, slots=True)
class EndpointChanges:
    """Only the fields named in the update mask are set."""

    url: str | None = None
    event_types: tuple[str, ...] | None = None
    description: str | None = None
    ordering: Ordering | None = None
    enabled: bool | None = None


class UrlVetter:
    """Refuses URLs that are malformed or resolve to addresses the policy forbids."""

    def __init__(self, resolver: Resolver, policy: AddressPolicy) -> None:
        self._resolver = resolver
        self._policy = policy

    def vet(self, url: str) -> str:
        """The first acceptable address of the URL's host; ValidationFailed otherwise."""
        host, port, _tls = check_url(url)
        addresses = self._resolver.resolve(host, port)
        if not addresses:
            raise ValidationFailed.on("endpoint.url", f"host {host!r} does not resolve")
        refusal = self._policy.refusal(addresses)
        if refusal:
            raise ValidationFailed.on("endpoint.url", refusal)
        return addresses[0]


class WebhookService:
    def __init__(self, clock: Clock, ids: IdGenerator, vetter: UrlVetter) -> None:
        self._clock = clock
        self._ids = ids
        self.vetter = vetter

    def create_endpoint(
        self, uow: EndpointsUnitOfWork, tenant_id: str, new: NewEndpoint
    ) -> Endpoint:
        """The endpoint receives the events that become visible after this one commits."""
        now = self._clock.now()
        endpoint = Endpoint(
            tenant_id=tenant_id,
            id=self._ids.new("whe"),
            url=new.url,
            event_types=tuple(sorted(set(new.event_types))),
            description=new.description,
            ordering=new.ordering,
            enabled=True,
            disabled_reason="",
            secret=new_secret(),
            previous_secret="",
            previous_secret_expire_time=None,
            failing_since=None,
            create_time=now,
            update_time=now,
        )
        cursor = uow.webhooks.ensure_cursor(tenant_id, 0)
        head = last_visible_sequence(uow.events, tenant_id, after=cursor)
        uow.webhooks.add_endpoint(endpoint, start_after_sequence=head)
        return endpoint

    def get_endpoint(self, uow: EndpointsUnitOfWork, tenant_id: str, endpoint_id: str) -> Endpoint:
        endpoint = uow.webhooks.get_endpoint(tenant_id, endpoint_id)
        if endpoint is None:
            raise NotFound("webhook_endpoint", endpoint_id)
        return endpoint

    def list_endpoints(
        self, uow: EndpointsUnitOfWork, tenant_id: str, page: PageRequest
    ) -> Page[Endpoint]:
        return paginate(uow.webhooks.list_endpoints(tenant_id, page), page)

    def update_endpoint(
        self, uow: EndpointsUnitOfWork, tenant_id: str, endpoint_id: str, changes: EndpointChanges
    ) -> Endpoint:
        endpoint = self._locked(uow, tenant_id, endpoint_id)
        now = self._clock.now()
        updated = replace(endpoint, update_time=now)
        if changes.url is not None:
            updated = replace(updated, url=changes.url)
        if changes.event_types is not None:
            updated = replace(updated, event_types=tuple(sorted(set(changes.event_types))))
        if changes.description is not None:
            updated = replace(updated, description=changes.description)
        if changes.ordering is not None:
            updated = replace(updated, ordering=changes.ordering)
        if changes.enabled is True and not endpoint.enabled:
            updated = replace(updated, enabled=True, disabled_reason="", failing_since=None)
        elif changes.enabled is False and endpoint.enabled:
            updated = replace(updated, enabled=False, disabled_reason=DISABLED_BY_USER)
        uow.webhooks.update_endpoint(updated)
        return updated

    def delete_endpoint(self, uow: EndpointsUnitOfWork, tenant_id: str, endpoint_id: str) -> str:
        self._locked(uow, tenant_id, endpoint_id)
        uow.webhooks.delete_endpoint(tenant_id, endpoint_id)
        return endpoint_id

    def rotate_secret(
        self,
        uow: EndpointsUnitOfWork,
        tenant_id: str,
        endpoint_id: str,
        *,
        overlap: timedelta | None,
    ) -> Endpoint:
        endpoint = self._locked(uow, tenant_id, endpoint_id)
        rotated = endpoint.rotated(
            new_secret(), now=self._clock.now(), overlap=overlap or DEFAULT_OVERLAP
        )
        uow.webhooks.update_endpoint(rotated)
        return rotated

    def list_deliveries(
        self,
        uow: EndpointsUnitOfWork,
        tenant_id: str,
        endpoint_id: str,
        page: PageRequest,
        *,
        status: DeliveryStatus | None,
    ) -> Page[Delivery]:
        self.get_endpoint(uow, tenant_id, endpoint_id)
        fetched = uow.webhooks.list_deliveries(tenant_id, endpoint_id, page, status=status)
        return paginate(fetched, page)

    def redeliver(self, uow: EndpointsUnitOfWork, tenant_id: str, delivery_id: str) -> Delivery:
        delivery = uow.webhooks.get_delivery(tenant_id, delivery_id, for_update=True)
        if delivery is None:
            raise NotFound("webhook_delivery", delivery_id)
        again = replace(
            delivery,
            status=DeliveryStatus.PENDING,
            next_attempt_time=self._clock.now(),
            first_attempt_time=None,
            manual=True,
        )
        uow.webhooks.update_delivery(again)
        return again

    def replay(
        self,
        uow: EndpointsUnitOfWork,
        tenant_id: str,
        endpoint_id: str,
        *,
        from_sequence: int,
        to_sequence: int,
    ) -> int:
        if to_sequence < from_sequence:
            raise ValidationFailed.on("to_sequence", "must be at least from_sequence")
        if to_sequence - from_sequence + 1 > MAX_REPLAY:
            raise ValidationFailed.on("to_sequence", f"at most {MAX_REPLAY:,} events per replay")
        endpoint = self.get_endpoint(uow, tenant_id, endpoint_id)
        events = uow.events.list(
            tenant_id,
            EventQuery(
                after_sequence=from_sequence - 1,
                up_to_sequence=to_sequence,
                types=endpoint.event_types,
                limit=MAX_REPLAY,
            ),
        )
        now = self._clock.now()
        deliveries = [
            new_delivery(self._ids, endpoint, event, now=now, manual=True) for event in events
        ]
        uow.webhooks.add_deliveries(deliveries)
        return len(deliveries)

    def _locked(self, uow: EndpointsUnitOfWork, tenant_id: str, endpoint_id: str) -> Endpoint:
        endpoint = uow.webhooks.get_endpoint(tenant_id, endpoint_id, for_update=True)
        if endpoint is None:
            raise NotFound("webhook_endpoint", endpoint_id)
        return endpoint


def new_delivery(
    ids: IdGenerator,
    endpoint: Endpoint,
    event: StoredEvent | EventHead,
    *,
    now: datetime,
    manual: bool,
) -> Delivery:

    return Delivery(
        tenant_id=endpoint.tenant_id,
        id=ids.new("whd"),
        endpoint_id=endpoint.id,
        event_id=event.id,
        event_sequence=event.sequence,
        event_type=event.type,
        status=DeliveryStatus.PENDING,
        attempts=0,
        last_response_code=0,
        last_latency_ms=0,
        last_error="",
        last_attempt_time=None,
        next_attempt_time=now,
        first_attempt_time=None,
        manual=manual,
        create_time=now,
    )


def last_visible_sequence(events: EventLogReader, tenant_id: str, *, after: int) -> int:
    """The greatest sequence the event reader shows, scanning forward from `after`."""
    last = after
    while True:
        batch: Sequence[StoredEvent] = events.list(
            tenant_id, EventQuery(after_sequence=last, limit=_SCAN)
        )
        if not batch:
            return last
        last = batch[-1].sequence
        if len(batch) < _SCAN:
            return last
