"""EventService use cases: a page of the outbox, and the resumable stream.

Each read runs in its own read-only unit of work; the stream reads batch by
batch, one short transaction each, and waits between them outside any
transaction, so an open stream never holds a connection or a snapshot.
The handler converts what these return; nothing converts inside a transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from accrue.event_log.ports import EventLogUnitOfWorkFactory
from accrue.event_log.service import EventBell, EventReader
from accrue.kernel.errors import ServerShuttingDown
from accrue.kernel.events import EventQuery, StoredEvent
from accrue.kernel.paging import Page, PageRequest, paginate_by_sequence

STREAM_BATCH = 500


class EventLogUseCases:
    def __init__(
        self,
        uow_factory: EventLogUnitOfWorkFactory,
        reader: EventReader,
        *,
        bell: EventBell,
        shutting_down: threading.Event,
        poll_seconds: float = 1.0,
    ) -> None:
        self._uow = uow_factory
        self._reader = reader
        self._bell = bell
        self._shutting_down = shutting_down
        self._poll_seconds = poll_seconds

    def list_events(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        after_sequence: int,
        up_to_sequence: int,
        types: tuple[str, ...],
        resource_id: str,
    ) -> Page[StoredEvent]:
        query = EventQuery(
            after_sequence=max(after_sequence, page.after_sequence),
            up_to_sequence=up_to_sequence,
            types=types,
            resource_id=resource_id,
            limit=page.size + 1,
        )
        with self._uow(write=False) as uow:
            fetched = self._reader.list_events(uow, tenant_id, query)
        return paginate_by_sequence(fetched, page)

    def stream_events(
        self,
        tenant_id: str,
        *,
        after_sequence: int,
        types: tuple[str, ...],
        is_active: Callable[[], bool],
    ) -> Iterator[StoredEvent | None]:
        """Every event after the cursor, then new ones as they commit.

        Sequence order is commit order (the event head is locked until
        commit), so reading "after the last sequence seen" can never skip an
        event; yielding None between reads lets the transport notice a
        client that went away.
        """
        cursor = after_sequence
        while is_active():
            if self._shutting_down.is_set():
                raise ServerShuttingDown(
                    "the server is shutting down; reconnect with after_sequence set to the last "
                    "sequence received",
                    metadata={"last_sequence": str(cursor)},
                    retry_after_seconds=1.0,
                )
            rung = self._bell.rung(tenant_id)
            query = EventQuery(after_sequence=cursor, types=types, limit=STREAM_BATCH)
            with self._uow(write=False) as uow:
                batch = self._reader.list_events(uow, tenant_id, query)
            for event in batch:
                yield event
                cursor = event.sequence
            if len(batch) < STREAM_BATCH:
                yield None
                # Woken by a commit in this process; the timeout catches commits
                # made by other processes and lets the transport check the client.
                self._bell.wait(tenant_id, rung, timeout=self._poll_seconds)
