"""UsageService handlers: convert, call one use case, convert back.

Ingestion takes no `request_id`: every event carries its own id, which is the
idempotency key (forever, per tenant), so a whole batch can be resent as is.
"""

from __future__ import annotations

from collections.abc import Iterator

from accrue.billing.v1 import usage_pb2 as pb
from accrue.kernel.errors import ConcurrentModification
from accrue.kernel.paging import PageRequest
from accrue.platform.transport.call import CallContext
from accrue.platform.transport.handler_support import HandlerSupport
from accrue.ports import UnitOfWork, UnitOfWorkFactory
from accrue.tenancy.model import hash_api_key
from accrue.usage.convert import (
    event_input_from_pb,
    event_to_pb,
    meter_to_pb,
    new_meter_from_pb,
    results_to_pb,
    usage_to_pb,
)
from accrue.usage.model import EventResult, check_batch_size
from accrue.usage.service import UsageService

# A batch that lost a race (deadlock, serialization) is simply run again: its
# event ids make the second run harmless.
_ATTEMPTS = 3


class UsageHandler:
    def __init__(
        self, support: HandlerSupport, uow_factory: UnitOfWorkFactory, usage: UsageService
    ) -> None:
        self._support = support
        self._uow_factory = uow_factory
        self._usage = usage

    def create_meter(self, request: pb.CreateMeterRequest, call: CallContext) -> pb.Meter:
        new = new_meter_from_pb(request.meter)
        return self._support.mutate(
            call,
            request,
            pb.Meter,
            lambda uow: meter_to_pb(self._usage.create_meter(uow, call.tenant_id, new)),
        )

    def get_meter(self, request: pb.GetMeterRequest, call: CallContext) -> pb.Meter:
        return self._support.read(
            lambda uow: meter_to_pb(self._usage.get_meter(uow, call.tenant_id, request.id))
        )

    def list_meters(
        self, request: pb.ListMetersRequest, call: CallContext
    ) -> pb.ListMetersResponse:
        page = PageRequest.parse(
            page_size=request.page_size, page_token=request.page_token, query={}
        )

        def work(uow: UnitOfWork) -> pb.ListMetersResponse:
            result = self._usage.list_meters(uow, call.tenant_id, page)
            return pb.ListMetersResponse(
                meters=[meter_to_pb(m) for m in result.items],
                next_page_token=result.next_page_token,
            )

        return self._support.read(work)

    def archive_meter(self, request: pb.ArchiveMeterRequest, call: CallContext) -> pb.Meter:
        return self._support.mutate(
            call,
            request,
            pb.Meter,
            lambda uow: meter_to_pb(self._usage.archive_meter(uow, call.tenant_id, request.id)),
        )

    def ingest_usage(
        self, request: pb.IngestUsageRequest, call: CallContext
    ) -> pb.IngestUsageResponse:
        return results_to_pb(self._ingest(call, request.events))

    def stream_ingest_usage(
        self, requests: Iterator[pb.StreamIngestUsageRequest], call: CallContext
    ) -> pb.IngestUsageResponse:
        results: list[EventResult] = []
        for message in requests:
            results.extend(self._ingest(call, message.events))
        return results_to_pb(results)

    def _ingest(self, call: CallContext, messages: object) -> list[EventResult]:
        events = [event_input_from_pb(m) for m in messages]  # type: ignore[attr-defined]
        check_batch_size(len(events))
        for attempt in range(_ATTEMPTS):
            try:
                with self._uow_factory(write=True) as uow:
                    results = self._usage.ingest(uow, call.tenant_id, events)
                    uow.commit()
                    return results
            except ConcurrentModification:
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def cancel_usage_event(
        self, request: pb.CancelUsageEventRequest, call: CallContext
    ) -> pb.UsageEvent:
        return self._support.mutate(
            call,
            request,
            pb.UsageEvent,
            lambda uow: event_to_pb(
                self._usage.cancel_event(
                    uow, call.tenant_id, request.id, reason=request.reason, actor=_actor(call)
                )
            ),
        )

    def amend_usage_event(
        self, request: pb.AmendUsageEventRequest, call: CallContext
    ) -> pb.UsageEvent:
        return self._support.mutate(
            call,
            request,
            pb.UsageEvent,
            lambda uow: event_to_pb(
                self._usage.amend_event(
                    uow,
                    call.tenant_id,
                    request.id,
                    dict(request.properties),
                    reason=request.reason,
                    actor=_actor(call),
                )
            ),
        )

    def get_customer_usage(
        self, request: pb.GetCustomerUsageRequest, call: CallContext
    ) -> pb.CustomerUsage:
        return self._support.read(
            lambda uow: usage_to_pb(
                self._usage.customer_usage(
                    uow, call.tenant_id, request.customer_id, meter_id=request.meter_id
                )
            )
        )


def _actor(call: CallContext) -> str:
    """Who: the API key, by a prefix of its hash (never the secret itself)."""
    secret = call.metadata.get("authorization", "").partition(" ")[2].strip()
    return f"api_key:{hash_api_key(secret)[:12]}"
