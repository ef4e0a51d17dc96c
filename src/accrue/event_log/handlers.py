"""EventService handlers: convert the request, call one use case, convert back.

The use cases own their transactions; nothing here runs inside one.
"""

from __future__ import annotations

from collections.abc import Iterator

from accrue.billing.v1 import event_pb2 as pb
from accrue.event_log.convert import event_to_pb
from accrue.event_log.use_cases import EventLogUseCases
from accrue.kernel.paging import PageRequest
from accrue.platform.transport.call import CallContext


class EventHandler:
    def __init__(self, events: EventLogUseCases) -> None:
        self._events = events

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
        result = self._events.list_events(
            call.tenant_id,
            page,
            after_sequence=request.after_sequence,
            up_to_sequence=request.up_to_sequence,
            types=tuple(request.types),
            resource_id=request.resource_id,
        )
        return pb.ListEventsResponse(
            events=[event_to_pb(e) for e in result.items], next_page_token=result.next_page_token
        )

    def stream_events(
        self, request: pb.StreamEventsRequest, call: CallContext
    ) -> Iterator[pb.Event | None]:
        """The stream of the use case, each event converted as it is sent; None
        (between reads) passes through so the transport can check the client."""
        events = self._events.stream_events(
            call.tenant_id,
            after_sequence=request.after_sequence,
            types=tuple(request.types),
            is_active=call.is_active,
        )
        for event in events:
            yield None if event is None else event_to_pb(event)
