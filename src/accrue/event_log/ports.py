"""What recording and reading events needs from persistence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from accrue.kernel.events import DomainEvent, EventQuery, StoredEvent
from accrue.platform.ports import Transactional


class EventLogReader(Protocol):
    """The outbox's reading side: sequenced events after a cursor, in sequence
    order. What the event consumers (webhook fan-out, the broker relay) need."""

    def list(self, tenant_id: str, query: EventQuery) -> Sequence[StoredEvent]: ...


class EventRepository(EventLogReader, Protocol):
    def create_head(self, tenant_id: str) -> None: ...
    def record(self, tenant_id: str, event: DomainEvent) -> None:
        """Queue an event; it is numbered and written when the unit of work commits."""
        ...


class HasEvents(Protocol):
    """Any transaction an event can be recorded in or read from.

    Every area's unit of work has the outbox, so a use case records its event
    in the transaction of its change whatever else that transaction holds.
    """

    @property
    def events(self) -> EventRepository: ...


class EventLogUnitOfWork(HasEvents, Transactional, Protocol):
    """The reading side's own transaction: the outbox and nothing else."""


class EventLogUnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool) -> EventLogUnitOfWork: ...


class EventSink(Protocol):
    """The outbox recorder: queues an event in the unit of work it is given."""

    def record(
        self,
        uow: Any,
        tenant_id: str,
        *,
        type: str,
        resource_id: str,
        subject: object,
        resource_type: str = "",
    ) -> None: ...
