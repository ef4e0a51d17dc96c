"""UsageService handlers: convert, call one use case, convert back.

The use cases own their transactions; nothing here runs inside one.

Ingestion takes no `request_id`: every event carries its own id, which is the
idempotency key (forever, per tenant), so a whole batch can be resent as is.
"""

from __future__ import annotations

from collections.abc import Iterator

from accrue.billing.v1 import usage_pb2 as pb
from accrue.kernel.paging import PageRequest
from accrue.platform.transport.call import CallContext
from accrue.platform.transport.handler_support import HandlerSupport
from accrue.tenancy.model import hash_api_key
from accrue.usage.convert import (
    event_input_from_pb,
    event_to_pb,
    meter_to_pb,
    new_meter_from_pb,
    results_to_pb,
    usage_to_pb,
)
from accrue.usage.model import EventResult
from accrue.usage.use_cases import UsageUseCases


class UsageHandler:
    def __init__(self, support: HandlerSupport, usage: UsageUseCases) -> None:
        self._support = support
        self._usage = usage

    def create_meter(self, request: pb.CreateMeterRequest, call: CallContext) -> pb.Meter:
        new = new_meter_from_pb(request.meter)
        replay = self._support.replay(call, request, meter_to_pb)
        outcome = self._usage.create_meter(call.tenant_id, new, replay)
        return self._support.answer(outcome, pb.Meter, meter_to_pb)

    def get_meter(self, request: pb.GetMeterRequest, call: CallContext) -> pb.Meter:
        return meter_to_pb(self._usage.get_meter(call.tenant_id, request.id))

    def list_meters(
        self, request: pb.ListMetersRequest, call: CallContext
    ) -> pb.ListMetersResponse:
        page = PageRequest.parse(
            page_size=request.page_size, page_token=request.page_token, query={}
        )
        result = self._usage.list_meters(call.tenant_id, page)
        return pb.ListMetersResponse(
            meters=[meter_to_pb(m) for m in result.items],
            next_page_token=result.next_page_token,
        )

    def archive_meter(self, request: pb.ArchiveMeterRequest, call: CallContext) -> pb.Meter:
        replay = self._support.replay(call, request, meter_to_pb)
        outcome = self._usage.archive_meter(call.tenant_id, request.id, replay)
        return self._support.answer(outcome, pb.Meter, meter_to_pb)

    def ingest_usage(
        self, request: pb.IngestUsageRequest, call: CallContext
    ) -> pb.IngestUsageResponse:
        events = [event_input_from_pb(m) for m in request.events]
        return results_to_pb(self._usage.ingest(call.tenant_id, events))

    def stream_ingest_usage(
        self, requests: Iterator[pb.StreamIngestUsageRequest], call: CallContext
    ) -> pb.IngestUsageResponse:
        results: list[EventResult] = []
        for message in requests:
            events = [event_input_from_pb(m) for m in message.events]
            results.extend(self._usage.ingest(call.tenant_id, events))
        return results_to_pb(results)

    def cancel_usage_event(
        self, request: pb.CancelUsageEventRequest, call: CallContext
    ) -> pb.UsageEvent:
        replay = self._support.replay(call, request, event_to_pb)
        outcome = self._usage.cancel_event(
            call.tenant_id, request.id, reason=request.reason, actor=_actor(call), replay=replay
        )
        return self._support.answer(outcome, pb.UsageEvent, event_to_pb)

    def amend_usage_event(
        self, request: pb.AmendUsageEventRequest, call: CallContext
    ) -> pb.UsageEvent:
        replay = self._support.replay(call, request, event_to_pb)
        outcome = self._usage.amend_event(
            call.tenant_id,
            request.id,
            dict(request.properties),
            reason=request.reason,
            actor=_actor(call),
            replay=replay,
        )
        return self._support.answer(outcome, pb.UsageEvent, event_to_pb)

    def get_customer_usage(
        self, request: pb.GetCustomerUsageRequest, call: CallContext
    ) -> pb.CustomerUsage:
        return usage_to_pb(
            self._usage.customer_usage(
                call.tenant_id, request.customer_id, meter_id=request.meter_id
            )
        )


def _actor(call: CallContext) -> str:
    """Who: the API key, by a prefix of its hash (never the secret itself)."""
    secret = call.metadata.get("authorization", "").partition(" ")[2].strip()
    return f"api_key:{hash_api_key(secret)[:12]}"
