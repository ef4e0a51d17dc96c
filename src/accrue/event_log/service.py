"""Recording and reading events; every state-changing use case records one."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence

from accrue.event_log.ports import HasEvents
from accrue.kernel.clock import Clock
from accrue.kernel.events import DomainEvent, EventQuery, StoredEvent
from accrue.kernel.ids import IdGenerator

TraceIdSource = Callable[[], str]


class EventRecorder:
    def __init__(self, clock: Clock, ids: IdGenerator, trace_id: TraceIdSource) -> None:
        self._clock = clock
        self._ids = ids
        self._trace_id = trace_id

    def record(
        self,
        uow: HasEvents,
        tenant_id: str,
        *,
        type: str,
        resource_id: str,
        subject: object,
        resource_type: str = "",
    ) -> None:
        """Queue `type` (`<resource>.<change>`) about `subject` in this unit of work.

        The resource type defaults to the part of `type` before the dot.
        """
        uow.events.record(
            tenant_id,
            DomainEvent(
                id=self._ids.new("evt"),
                type=type,
                resource_type=resource_type or type.split(".", 1)[0],
                resource_id=resource_id,
                occur_time=self._clock.now(),
                trace_id=self._trace_id(),
                subject=subject,
            ),
        )


class EventReader:
    def list_events(
        self, uow: HasEvents, tenant_id: str, query: EventQuery
    ) -> Sequence[StoredEvent]:
        return uow.events.list(tenant_id, query)


class EventBell:
    """Wakes stream readers of a tenant as soon as its events commit in this process.

    Readers in other processes (several API servers on one PostgreSQL) still
    see new events on their next poll; the bell only removes the wait here.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._rings: dict[str, int] = {}
        self._listeners: list[Callable[[Collection[str]], None]] = []

    def subscribe(self, listener: Callable[[Collection[str]], None]) -> None:
        """Also call `listener` on every ring (the webhook dispatcher wakes on commits)."""
        self._listeners.append(listener)

    def rung(self, tenant_id: str) -> int:
        """A counter to pass to `wait`, read *before* querying for new events."""
        with self._condition:
            return self._rings.get(tenant_id, 0)

    def ring(self, tenant_ids: Collection[str]) -> None:
        if not tenant_ids:
            return
        with self._condition:
            for tenant_id in tenant_ids:
                self._rings[tenant_id] = self._rings.get(tenant_id, 0) + 1
            self._condition.notify_all()
        for listener in self._listeners:
            listener(tenant_ids)

    def wake_all(self) -> None:
        """Wake every waiter, e.g. so streams notice a shutdown at once."""
        with self._condition:
            for tenant_id in list(self._rings):
                self._rings[tenant_id] += 1
            self._rings[""] = self._rings.get("", 0) + 1
            self._condition.notify_all()

    def wait(self, tenant_id: str, seen: int, *, timeout: float) -> None:
        """Return when the tenant's bell rang since `seen`, on wake_all, or after `timeout`."""
        with self._condition:
            woken = self._rings.get("", 0)
            self._condition.wait_for(
                lambda: self._rings.get(tenant_id, 0) != seen or self._rings.get("", 0) != woken,
                timeout,
            )
