"""What recording and reading events needs from persistence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from accrue.kernel.events import DomainEvent, EventQuery, StoredEvent


class EventRepository(Protocol):
    def create_head(self, tenant_id: str) -> None: ...
    def record(self, tenant_id: str, event: DomainEvent) -> None:
        """Queue an event; it is numbered and written when the unit of work commits."""
        ...

    def list(self, tenant_id: str, query: EventQuery) -> Sequence[StoredEvent]: ...
