"""Recording and reading events; every state-changing use case records one."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from accrue.domain.clock import Clock
from accrue.domain.events import DomainEvent, EventQuery, StoredEvent
from accrue.domain.identifiers import IdGenerator
from accrue.services.ports import UnitOfWork

TraceIdSource = Callable[[], str]


class EventRecorder:
    def __init__(self, clock: Clock, ids: IdGenerator, trace_id: TraceIdSource) -> None:
        self._clock = clock
        self._ids = ids
        self._trace_id = trace_id

    def record(
        self,
        uow: UnitOfWork,
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
        self, uow: UnitOfWork, tenant_id: str, query: EventQuery
    ) -> Sequence[StoredEvent]:
        return uow.events.list(tenant_id, query)
