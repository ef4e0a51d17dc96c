"""EventService handlers, including the resumable stream."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from accrue.api.call import CallContext
from accrue.api.convert.events import event_to_pb
from accrue.api.handlers.support import HandlerSupport
from accrue.billing.v1 import event_pb2 as pb
from accrue.domain.errors import ServerShuttingDown
from accrue.domain.events import EventQuery
from accrue.domain.paging import PageRequest, paginate_by_sequence
from accrue.services.events import EventReader

STREAM_BATCH = 500


class EventHandler:
    def __init__(
        self,
        support: HandlerSupport,
        reader: EventReader,
        *,
        shutting_down: threading.Event,
        poll_seconds: float = 0.1,
    ) -> None:
        self._support = support
        self._reader = reader
        self._shutting_down = shutting_down
        self._poll_seconds = poll_seconds

    def list_events(
        self, request: pb.ListEventsRequest, call: CallContext
    ) -> pb.ListEventsResponse:
        page = PageRequest.parse(
            page_size=request.page_size,
            page_token=request.page_token,
            query={
                "types": sorted(request.types),
                "resource": request.resource_id,
                "after": request.after_sequence,
                "up_to": request.up_to_sequence,
            },
        )
        query = EventQuery(
            after_sequence=max(request.after_sequence, page.after_sequence),
            up_to_sequence=request.up_to_sequence,
            types=tuple(request.types),
            resource_id=request.resource_id,
            limit=page.size + 1,
        )
        fetched = self._support.read(
            lambda uow: self._reader.list_events(uow, call.tenant_id, query)
        )
        result = paginate_by_sequence(fetched, page)
        return pb.ListEventsResponse(
            events=[event_to_pb(e) for e in result.items], next_page_token=result.next_page_token
        )

    def stream_events(
        self, request: pb.StreamEventsRequest, call: CallContext
    ) -> Iterator[pb.Event | None]:
        """Every event after the cursor, then new ones as they commit.

        Sequence order is commit order (the event head is locked until
        commit), so polling "after the last sequence seen" can never skip an
        event; yielding None between polls lets the transport notice a
        client that went away.
        """
        cursor = request.after_sequence
        types = tuple(request.types)
        while call.is_active():
            if self._shutting_down.is_set():
                raise ServerShuttingDown(
                    "the server is shutting down; reconnect with after_sequence set to the last "
                    "sequence received",
                    metadata={"last_sequence": str(cursor)},
                    retry_after_seconds=1.0,
                )
            query = EventQuery(after_sequence=cursor, types=types, limit=STREAM_BATCH)
            batch = self._support.read(
                lambda uow, q=query: self._reader.list_events(uow, call.tenant_id, q)  # type: ignore[misc]
            )
            for event in batch:
                yield event_to_pb(event)
                cursor = event.sequence
            if len(batch) < STREAM_BATCH:
                yield None
                self._shutting_down.wait(self._poll_seconds)
