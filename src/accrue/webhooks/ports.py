"""What the webhook use cases need from the outside world, as protocols."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from accrue.event_log.ports import EventLogReader
from accrue.kernel.paging import PageRequest
from accrue.platform.ports import Transactional
from accrue.webhooks.model import AttemptResult, Delivery, DeliveryStatus, Endpoint


@dataclass(frozen=True, slots=True)
class DueEndpoint:
    tenant_id: str
    endpoint_id: str


@dataclass(frozen=True, slots=True)
class EventHead:
    """What fan-out needs of an event: no payload, which it never reads."""

    id: str
    sequence: int
    type: str


class EndpointStore(Protocol):
    """What endpoint administration needs: endpoints, their deliveries, the fan-out cursor."""

    def add_endpoint(self, endpoint: Endpoint, *, start_after_sequence: int) -> None: ...
    def get_endpoint(
        self, tenant_id: str, endpoint_id: str, *, for_update: bool = False
    ) -> Endpoint | None: ...
    def update_endpoint(self, endpoint: Endpoint) -> None: ...
    def delete_endpoint(self, tenant_id: str, endpoint_id: str) -> None: ...
    def list_endpoints(self, tenant_id: str, page: PageRequest) -> Sequence[Endpoint]: ...
    def ensure_cursor(self, tenant_id: str, last_sequence: int) -> int: ...
    def add_deliveries(self, deliveries: Sequence[Delivery]) -> None: ...
    def get_delivery(
        self, tenant_id: str, delivery_id: str, *, for_update: bool = False
    ) -> Delivery | None: ...
    def update_delivery(self, delivery: Delivery) -> None: ...
    def list_deliveries(
        self,
        tenant_id: str,
        endpoint_id: str,
        page: PageRequest,
        *,
        status: DeliveryStatus | None,
    ) -> Sequence[Delivery]: ...


class WebhookStore(EndpointStore, Protocol):
    """Endpoint administration and the dispatcher's fan-out, leases and attempts."""

    def enabled_endpoints(self, tenant_id: str) -> Sequence[tuple[Endpoint, int]]:
        """Enabled endpoints with the sequence after which each receives events."""
        ...

    def tenants_behind(self) -> Sequence[str]:
        """Tenants with a fan-out cursor and numbered events after it (one query)."""
        ...

    def event_heads(self, tenant_id: str, *, after: int, limit: int) -> Sequence[EventHead]:
        """Numbered events after `after`, in sequence order, without payloads."""
        ...

    def lock_cursor(self, tenant_id: str) -> int | None:
        """The tenant's fan-out cursor, locked; None when another dispatcher holds it."""
        ...

    def set_cursor(self, tenant_id: str, last_sequence: int) -> None: ...
    def due_endpoints(self, now: datetime, *, limit: int) -> Sequence[DueEndpoint]: ...
    def claim_endpoint(
        self, tenant_id: str, endpoint_id: str, *, now: datetime, until: datetime
    ) -> bool: ...
    def extend_lease(self, tenant_id: str, endpoint_id: str, *, until: datetime) -> None: ...
    def release_endpoint(self, tenant_id: str, endpoint_id: str) -> None: ...
    def finish_endpoint(
        self, tenant_id: str, endpoint_id: str, *, retry_after: datetime | None
    ) -> None:
        """End the lease; `retry_after` holds the endpoint's ordered deliveries back."""
        ...

    def due_deliveries(
        self, endpoint: Endpoint, now: datetime, *, limit: int
    ) -> Sequence[Delivery]: ...
    def update_deliveries(self, deliveries: Sequence[Delivery]) -> None: ...
    def fail_pending(self, tenant_id: str, endpoint_id: str, *, now: datetime) -> int: ...


class EndpointsUnitOfWork(Transactional, Protocol):
    """One transaction of the endpoint use cases (the RPCs): no dispatching."""

    @property
    def webhooks(self) -> EndpointStore: ...
    @property
    def events(self) -> EventLogReader: ...


class EndpointsUnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool) -> EndpointsUnitOfWork: ...


class WebhookUnitOfWork(Transactional, Protocol):
    """One transaction of the dispatcher."""

    @property
    def webhooks(self) -> WebhookStore: ...
    @property
    def events(self) -> EventLogReader: ...


class WebhookUnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool) -> WebhookUnitOfWork: ...


class Resolver(Protocol):
    def resolve(self, host: str, port: int) -> Sequence[str]:
        """The addresses `host` resolves to; empty when it does not resolve."""
        ...


@dataclass(frozen=True, slots=True)
class Request:
    url: str
    address: str
    headers: Mapping[str, str]
    body: bytes


class Sender(Protocol):
    def send(self, request: Request, *, timeout_seconds: float) -> AttemptResult: ...
