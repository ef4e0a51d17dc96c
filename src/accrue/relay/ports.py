"""What the relay needs: its cursors, the outbox reader, and a broker."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from accrue.event_log.ports import EventLogReader
from accrue.platform.ports import Transactional


class RelayCursorStore(Protocol):
    def tenant_ids(self) -> Sequence[str]: ...
    def get(self, stream: str, tenant_id: str) -> int: ...
    def set(self, stream: str, tenant_id: str, last_sequence: int, *, now: datetime) -> None: ...


class RelayUnitOfWork(Transactional, Protocol):
    @property
    def relay_cursors(self) -> RelayCursorStore: ...
    @property
    def events(self) -> EventLogReader: ...


class RelayUnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool) -> RelayUnitOfWork: ...


@dataclass(frozen=True, slots=True)
class Message:
    subject: str
    message_id: str
    headers: Mapping[str, str]
    body: bytes


class Acks(Protocol):
    """The stream's acknowledgements of one published batch."""

    async def wait(self) -> None:
        """Return once every message was acknowledged; raise when any was not."""
        ...

    def cancel(self) -> None:
        """Stop waiting (the caller gave up on this batch and will republish it)."""
        ...


class Broker(Protocol):
    async def send(self, messages: Sequence[Message]) -> Acks:
        """Publish in order without waiting for the stream; return its acknowledgements.

        Several batches may be outstanding at once (a window), so reading the
        next batch overlaps the stream storing this one. Nothing after a
        failed acknowledgement may be assumed stored: the caller republishes
        from its cursor, and the stream's de-duplication by message id drops
        what was stored.
        """
        ...
