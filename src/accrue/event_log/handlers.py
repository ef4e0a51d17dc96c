"""EventService handlers, including the resumable stream."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial

from accrue.billing.v1 import event_pb2 as pb
from accrue.event_log.convert import event_to_pb
from accrue.event_log.service import EventBell, EventReader
from accrue.kernel.errors import ServerShuttingDown
from accrue.kernel.events import EventQuery
from accrue.kernel.paging import PageRequest, paginate_by_sequence
from accrue.platform.transport.call import CallContext
from accrue.platform.transport.handler_support import HandlerSupport

STREAM_BATCH = 500


class EventHandler:
    def __init__(
        self,
        support: HandlerSupport,
        reader: EventReader,
        *,
        shutting_down: threading.Event,
        bell: EventBell,
        poll_seconds: float = 1.0,
    ) -> None:
        self._support = support
        self._reader = reader
        self._shutting_down = shutting_down
        self._bell = bell
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
        commit), so reading "after the last sequence seen" can never skip an
        event; yielding None between reads lets the transport notice a
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
            rung = self._bell.rung(call.tenant_id)
            query = EventQuery(after_sequence=cursor, types=types, limit=STREAM_BATCH)
            batch = self._support.read(
                partial(self._reader.list_events, tenant_id=call.tenant_id, query=query)
            )
            for event in batch:
                yield event_to_pb(event)
                cursor = event.sequence
            if len(batch) < STREAM_BATCH:
                yield None
                # Woken by a commit in this process; the timeout catches commits
                # made by other processes and lets the transport check the client.
                self._bell.wait(call.tenant_id, rung, timeout=self._poll_seconds)
