"""The webhook use cases' ports in memory: endpoints, deliveries, the outbox, DNS."""

from __future__ import annotations

from collections.abc import Sequence

from accrue.kernel.paging import PageRequest
from accrue.webhooks.model import Delivery, DeliveryStatus, Endpoint
from tests.fakes.event_log import FakeEvents
from tests.fakes.transactions import FakeDatabase, FakeUnitOfWork


class FakeWebhookStore:
    """The endpoint and delivery half of WebhookStore (what the use cases call);
    the dispatcher's leasing half is exercised against SQL elsewhere."""

    def __init__(self, tx: FakeUnitOfWork) -> None:
        self._tx = tx

    @property
    def _endpoints(self) -> dict[str, tuple[Endpoint, int]]:
        return self._tx.table("webhook_endpoints")

    @property
    def _deliveries(self) -> dict[str, Delivery]:
        return self._tx.table("webhook_deliveries")

    def add_endpoint(self, endpoint: Endpoint, *, start_after_sequence: int) -> None:
        self._endpoints[endpoint.id] = (endpoint, start_after_sequence)

    def get_endpoint(
        self, tenant_id: str, endpoint_id: str, *, for_update: bool = False
    ) -> Endpoint | None:
        found = self._endpoints.get(endpoint_id)
        return found[0] if found is not None and found[0].tenant_id == tenant_id else None

    def update_endpoint(self, endpoint: Endpoint) -> None:
        _, start = self._endpoints[endpoint.id]
        self._endpoints[endpoint.id] = (endpoint, start)

    def delete_endpoint(self, tenant_id: str, endpoint_id: str) -> None:
        del self._endpoints[endpoint_id]

    def list_endpoints(self, tenant_id: str, page: PageRequest) -> Sequence[Endpoint]:
        found = [
            e
            for e, _ in sorted(self._endpoints.values(), key=lambda row: row[0].id)
            if e.tenant_id == tenant_id and e.id > page.after_id
        ]
        return found[: page.size + 1]

    def ensure_cursor(self, tenant_id: str, last_sequence: int) -> int:
        cursors: dict[str, int] = self._tx.table("webhook_cursors")
        return cursors.setdefault(tenant_id, last_sequence)

    def add_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            self._deliveries[delivery.id] = delivery

    def get_delivery(
        self, tenant_id: str, delivery_id: str, *, for_update: bool = False
    ) -> Delivery | None:
        found = self._deliveries.get(delivery_id)
        return found if found is not None and found.tenant_id == tenant_id else None

    def update_delivery(self, delivery: Delivery) -> None:
        assert delivery.id in self._deliveries, "update of a delivery never added"
        self._deliveries[delivery.id] = delivery

    def list_deliveries(
        self,
        tenant_id: str,
        endpoint_id: str,
        page: PageRequest,
        *,
        status: DeliveryStatus | None,
    ) -> Sequence[Delivery]:
        found = [
            d
            for d in sorted(self._deliveries.values(), key=lambda d: d.id)
            if d.tenant_id == tenant_id
            and d.endpoint_id == endpoint_id
            and d.id > page.after_id
            and (status is None or d.status is status)
        ]
        return found[: page.size + 1]


class FakeWebhookUnitOfWork(FakeUnitOfWork):
    """WebhookUnitOfWork: the webhook store and the outbox it reads."""

    def __init__(self, db: FakeDatabase, write: bool) -> None:
        super().__init__(db, write=write)
        self.webhooks = FakeWebhookStore(self)
        self.events = FakeEvents(self)


class FakeResolver:
    """DNS by table; counts lookups so a test can tell a replay resolved nothing."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self._table = table
        self.lookups: list[str] = []

    def resolve(self, host: str, port: int) -> Sequence[str]:
        self.lookups.append(host)
        return self._table.get(host, [])


def endpoint_start(db: FakeDatabase, endpoint_id: str) -> int:
    """The sequence after which a committed endpoint receives events."""
    start: int = db.rows("webhook_endpoints")[endpoint_id][1]
    return start
