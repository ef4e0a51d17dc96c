"""The webhook area's SQL (Core, runs on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, insert, or_, select, update

from accrue.event_log.tables import events as _events
from accrue.kernel.paging import PageRequest
from accrue.platform.db.tables import UtcDateTime
from accrue.webhooks.model import Delivery, DeliveryStatus, Endpoint, Ordering
from accrue.webhooks.ports import DueEndpoint, EventHead
from accrue.webhooks.tables import webhook_cursors, webhook_deliveries, webhook_endpoints

_e = webhook_endpoints.c
_d = webhook_deliveries.c
_c = webhook_cursors.c
_ev = _events.c


_OUTCOME_COLUMNS = (
    "status",
    "attempts",
    "last_response_code",
    "last_latency_ms",
    "last_error",
    "last_attempt_time",
    "next_attempt_time",
    "first_attempt_time",
)
_UPDATE_OUTCOMES = (
    update(webhook_deliveries)
    .where(_d.tenant_id == bindparam("k_tenant_id"), _d.id == bindparam("k_id"))
    .values({name: bindparam(f"v_{name}") for name in _OUTCOME_COLUMNS})
)


# The dispatcher's two polling reads run several times a second in every
# process whether or not there is work: built once, bound at execution.
_TENANTS_BEHIND = (
    select(_c.tenant_id)
    .where(
        select(_ev.sequence)
        .where(_ev.tenant_id == _c.tenant_id, _ev.sequence > _c.last_sequence)
        .exists()
    )
    .order_by(_c.tenant_id)
)
_NOW = bindparam("now", type_=UtcDateTime())
_DUE_ENDPOINTS = (
    select(_d.tenant_id, _d.endpoint_id)
    .join(webhook_endpoints, and_(_e.tenant_id == _d.tenant_id, _e.id == _d.endpoint_id))
    .where(
        _d.status == DeliveryStatus.PENDING.value,
        _d.next_attempt_time <= _NOW,
        or_(
            _d.manual.is_(True),
            and_(_e.enabled.is_(True), or_(_e.retry_after.is_(None), _e.retry_after <= _NOW)),
        ),
        or_(_e.lease_until.is_(None), _e.lease_until < _NOW),
    )
    .group_by(_d.tenant_id, _d.endpoint_id)
    .order_by(_d.tenant_id, _d.endpoint_id)
    .limit(bindparam("limit"))
)


class SqlWebhookStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._pg = conn.dialect.name == "postgresql"

    # Endpoints

    def add_endpoint(self, endpoint: Endpoint, *, start_after_sequence: int) -> None:
        self._conn.execute(
            insert(webhook_endpoints).values(
                **_endpoint_row(endpoint), start_after_sequence=start_after_sequence
            )
        )

    def get_endpoint(
        self, tenant_id: str, endpoint_id: str, *, for_update: bool = False
    ) -> Endpoint | None:
        query = select(webhook_endpoints).where(_e.tenant_id == tenant_id, _e.id == endpoint_id)
        if for_update and self._pg:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return None if row is None else _endpoint(row)

    def update_endpoint(self, endpoint: Endpoint) -> None:
        self._conn.execute(
            update(webhook_endpoints)
            .where(_e.tenant_id == endpoint.tenant_id, _e.id == endpoint.id)
            .values(**_endpoint_row(endpoint))
        )

    def delete_endpoint(self, tenant_id: str, endpoint_id: str) -> None:
        self._conn.execute(
            delete(webhook_deliveries).where(
                _d.tenant_id == tenant_id, _d.endpoint_id == endpoint_id
            )
        )
        self._conn.execute(
            delete(webhook_endpoints).where(_e.tenant_id == tenant_id, _e.id == endpoint_id)
        )

    def list_endpoints(self, tenant_id: str, page: PageRequest) -> Sequence[Endpoint]:
        query = select(webhook_endpoints).where(_e.tenant_id == tenant_id)
        if page.after_id:
            query = query.where(_e.id > page.after_id)
        rows = self._conn.execute(query.order_by(_e.id).limit(page.size + 1))
        return [_endpoint(row) for row in rows]

    def enabled_endpoints(self, tenant_id: str) -> Sequence[tuple[Endpoint, int]]:
        rows = self._conn.execute(
            select(webhook_endpoints)
            .where(_e.tenant_id == tenant_id, _e.enabled.is_(True))
            .order_by(_e.id)
        )
        return [(_endpoint(row), row.start_after_sequence) for row in rows]

    # Fan-out cursors

    def tenants_behind(self) -> Sequence[str]:
        return list(self._conn.execute(_TENANTS_BEHIND).scalars())

    def event_heads(self, tenant_id: str, *, after: int, limit: int) -> Sequence[EventHead]:
        rows = self._conn.execute(
            select(_ev.id, _ev.sequence, _ev.type)
            .where(_ev.tenant_id == tenant_id, _ev.sequence > after)
            .order_by(_ev.sequence)
            .limit(limit)
        )
        return [EventHead(row.id, row.sequence, row.type) for row in rows]

    def lock_cursor(self, tenant_id: str) -> int | None:
        query = select(_c.last_sequence).where(_c.tenant_id == tenant_id)
        if self._pg:
            query = query.with_for_update(skip_locked=True)
        value = self._conn.execute(query).scalar_one_or_none()
        return None if value is None else int(value)

    def ensure_cursor(self, tenant_id: str, last_sequence: int) -> int:
        query = select(_c.last_sequence).where(_c.tenant_id == tenant_id)
        current = self._conn.execute(query).scalar_one_or_none()
        if current is not None:
            return int(current)
        if self._pg:
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            self._conn.execute(
                pg_insert(webhook_cursors)
                .values(tenant_id=tenant_id, last_sequence=last_sequence)
                .on_conflict_do_nothing()
            )
            return int(self._conn.execute(query).scalar_one())
        self._conn.execute(
            insert(webhook_cursors).values(tenant_id=tenant_id, last_sequence=last_sequence)
        )
        return last_sequence

    def set_cursor(self, tenant_id: str, last_sequence: int) -> None:
        self._conn.execute(
            update(webhook_cursors)
            .where(_c.tenant_id == tenant_id)
            .values(last_sequence=last_sequence)
        )

    # Deliveries

    def add_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        if deliveries:
            self._conn.execute(insert(webhook_deliveries), [_delivery_row(d) for d in deliveries])

    def get_delivery(
        self, tenant_id: str, delivery_id: str, *, for_update: bool = False
    ) -> Delivery | None:
        query = select(webhook_deliveries).where(_d.tenant_id == tenant_id, _d.id == delivery_id)
        if for_update and self._pg:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return None if row is None else _delivery(row)

    def update_delivery(self, delivery: Delivery) -> None:
        self._conn.execute(
            update(webhook_deliveries)
            .where(_d.tenant_id == delivery.tenant_id, _d.id == delivery.id)
            .values(**_delivery_row(delivery))
        )

    def update_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        """Write the outcome of a batch of attempts in one statement (executemany).

        Only the columns an attempt changes are written.
        """
        if not deliveries:
            return
        rows = [
            {
                "k_tenant_id": d.tenant_id,
                "k_id": d.id,
                "v_status": d.status.value,
                "v_attempts": d.attempts,
                "v_last_response_code": d.last_response_code,
                "v_last_latency_ms": d.last_latency_ms,
                "v_last_error": d.last_error,
                "v_last_attempt_time": d.last_attempt_time,
                "v_next_attempt_time": d.next_attempt_time,
                "v_first_attempt_time": d.first_attempt_time,
            }
            for d in deliveries
        ]
        self._conn.execute(_UPDATE_OUTCOMES, rows)

    def list_deliveries(
        self,
        tenant_id: str,
        endpoint_id: str,
        page: PageRequest,
        *,
        status: DeliveryStatus | None,
    ) -> Sequence[Delivery]:
        query = select(webhook_deliveries).where(
            _d.tenant_id == tenant_id, _d.endpoint_id == endpoint_id
        )
        if status is not None:
            query = query.where(_d.status == status.value)
        if page.after_id:
            query = query.where(_d.id < page.after_id)
        rows = self._conn.execute(query.order_by(_d.id.desc()).limit(page.size + 1))
        return [_delivery(row) for row in rows]

    # Dispatching

    def due_endpoints(self, now: datetime, *, limit: int) -> Sequence[DueEndpoint]:
        rows = self._conn.execute(_DUE_ENDPOINTS, {"now": now, "limit": limit})
        return [DueEndpoint(row.tenant_id, row.endpoint_id) for row in rows]

    def claim_endpoint(
        self, tenant_id: str, endpoint_id: str, *, now: datetime, until: datetime
    ) -> bool:
        result = self._conn.execute(
            update(webhook_endpoints)
            .where(
                _e.tenant_id == tenant_id,
                _e.id == endpoint_id,
                or_(_e.lease_until.is_(None), _e.lease_until < now),
            )
            .values(lease_until=until)
        )
        return result.rowcount == 1

    def extend_lease(self, tenant_id: str, endpoint_id: str, *, until: datetime) -> None:
        self._conn.execute(
            update(webhook_endpoints)
            .where(_e.tenant_id == tenant_id, _e.id == endpoint_id)
            .values(lease_until=until)
        )

    def release_endpoint(self, tenant_id: str, endpoint_id: str) -> None:
        self._conn.execute(
            update(webhook_endpoints)
            .where(_e.tenant_id == tenant_id, _e.id == endpoint_id)
            .values(lease_until=None)
        )

    def finish_endpoint(
        self, tenant_id: str, endpoint_id: str, *, retry_after: datetime | None
    ) -> None:
        self._conn.execute(
            update(webhook_endpoints)
            .where(_e.tenant_id == tenant_id, _e.id == endpoint_id)
            .values(lease_until=None, retry_after=retry_after)
        )

    def due_deliveries(
        self, endpoint: Endpoint, now: datetime, *, limit: int
    ) -> Sequence[Delivery]:
        """Manual deliveries that are due, then the endpoint's own ones.

        In sequence order only the run starting at the oldest pending delivery
        is returned, and nothing of it unless that oldest one is due: a
        failing delivery holds back every later one.
        """
        pending = select(webhook_deliveries).where(
            _d.tenant_id == endpoint.tenant_id,
            _d.endpoint_id == endpoint.id,
            _d.status == DeliveryStatus.PENDING.value,
        )
        manual = self._conn.execute(
            pending.where(_d.manual.is_(True), _d.next_attempt_time <= now)
            .order_by(_d.event_sequence)
            .limit(limit)
        )
        found = [_delivery(row) for row in manual]
        if not endpoint.enabled:
            return found
        automatic = pending.where(_d.manual.is_(False))
        if endpoint.ordering is Ordering.NONE:
            automatic = automatic.where(_d.next_attempt_time <= now)
        rows = [
            _delivery(row)
            for row in self._conn.execute(automatic.order_by(_d.event_sequence).limit(limit))
        ]
        if endpoint.ordering is Ordering.SEQUENCE and rows:
            head = rows[0]
            if head.next_attempt_time is not None and head.next_attempt_time > now:
                rows = []
        return found + rows

    def fail_pending(self, tenant_id: str, endpoint_id: str, *, now: datetime) -> int:
        result = self._conn.execute(
            update(webhook_deliveries)
            .where(
                _d.tenant_id == tenant_id,
                _d.endpoint_id == endpoint_id,
                _d.status == DeliveryStatus.PENDING.value,
                _d.manual.is_(False),
            )
            .values(status=DeliveryStatus.FAILED.value, next_attempt_time=None)
        )
        return int(result.rowcount)


def _endpoint_row(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "tenant_id": endpoint.tenant_id,
        "id": endpoint.id,
        "url": endpoint.url,
        "event_types": list(endpoint.event_types),
        "description": endpoint.description,
        "ordering": endpoint.ordering.value,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "secret": endpoint.secret,
        "previous_secret": endpoint.previous_secret,
        "previous_secret_expire_time": endpoint.previous_secret_expire_time,
        "failing_since": endpoint.failing_since,
        "create_time": endpoint.create_time,
        "update_time": endpoint.update_time,
    }


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(
        tenant_id=row.tenant_id,
        id=row.id,
        url=row.url,
        event_types=tuple(row.event_types),
        description=row.description,
        ordering=Ordering(row.ordering),
        enabled=bool(row.enabled),
        disabled_reason=row.disabled_reason,
        secret=row.secret,
        previous_secret=row.previous_secret,
        previous_secret_expire_time=row.previous_secret_expire_time,
        failing_since=row.failing_since,
        create_time=row.create_time,
        update_time=row.update_time,
    )


def _delivery_row(delivery: Delivery) -> dict[str, Any]:
    return {
        "tenant_id": delivery.tenant_id,
        "id": delivery.id,
        "endpoint_id": delivery.endpoint_id,
        "event_id": delivery.event_id,
        "event_sequence": delivery.event_sequence,
        "event_type": delivery.event_type,
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "last_response_code": delivery.last_response_code,
        "last_latency_ms": delivery.last_latency_ms,
        "last_error": delivery.last_error,
        "last_attempt_time": delivery.last_attempt_time,
        "next_attempt_time": delivery.next_attempt_time,
        "first_attempt_time": delivery.first_attempt_time,
        "manual": delivery.manual,
        "create_time": delivery.create_time,
    }


def _delivery(row: Any) -> Delivery:
    return Delivery(
        tenant_id=row.tenant_id,
        id=row.id,
        endpoint_id=row.endpoint_id,
        event_id=row.event_id,
        event_sequence=row.event_sequence,
        event_type=row.event_type,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        last_response_code=row.last_response_code,
        last_latency_ms=row.last_latency_ms,
        last_error=row.last_error,
        last_attempt_time=row.last_attempt_time,
        next_attempt_time=row.next_attempt_time,
        first_attempt_time=row.first_attempt_time,
        manual=bool(row.manual),
        create_time=row.create_time,
    )
