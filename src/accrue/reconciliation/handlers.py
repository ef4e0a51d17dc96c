"""ReconciliationService handlers.

Each converts the request, calls one use case and converts back; the use
cases own their transactions. ImportSettlementReport is client-streaming: the
handler pulls the upload message by message and hands the use case an
iterator of byte chunks, so the report is never held in memory. It is
idempotent by the report's digest, not by a request id.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC

from accrue.billing.v1 import reconciliation_pb2 as pb
from accrue.kernel.errors import ValidationFailed
from accrue.kernel.paging import PageRequest
from accrue.platform.transport.call import CallContext
from accrue.platform.transport.handler_support import HandlerSupport
from accrue.reconciliation.convert import CATEGORY_FROM_PB, FORMAT_FROM_PB, break_to_pb, run_to_pb
from accrue.reconciliation.service import ReportHeader
from accrue.reconciliation.use_cases import ReconciliationUseCases
from accrue.tenancy.model import hash_api_key

DEFAULT_PSP = "simulated"


class ReconciliationHandler:
    def __init__(self, support: HandlerSupport, reconciliation: ReconciliationUseCases) -> None:
        self._support = support
        self._reconciliation = reconciliation

    def import_settlement_report(
        self, requests: Iterator[pb.ImportSettlementReportRequest], call: CallContext
    ) -> pb.ReconciliationRun:
        first = next(requests, None)
        if first is None or not first.HasField("header"):
            raise ValidationFailed.on("header", "the first message must carry the header")
        header = first.header
        report = ReportHeader(
            format=FORMAT_FROM_PB[header.format],
            psp=header.psp or DEFAULT_PSP,
            cut_off_time=header.cut_off_time.ToDatetime(tzinfo=UTC),
            file_name=header.file_name,
        )
        run = self._reconciliation.import_report(call.tenant_id, report, _chunks(requests))
        return run_to_pb(run)

    def get_reconciliation_run(
        self, request: pb.GetReconciliationRunRequest, call: CallContext
    ) -> pb.ReconciliationRun:
        return run_to_pb(self._reconciliation.get_run(call.tenant_id, request.id))

    def list_reconciliation_runs(
        self, request: pb.ListReconciliationRunsRequest, call: CallContext
    ) -> pb.ListReconciliationRunsResponse:
        page = PageRequest.parse(
            page_size=request.page_size, page_token=request.page_token, query={}
        )
        result = self._reconciliation.list_runs(call.tenant_id, page)
        return pb.ListReconciliationRunsResponse(
            runs=[run_to_pb(r) for r in result.items], next_page_token=result.next_page_token
        )

    def list_reconciliation_breaks(
        self, request: pb.ListReconciliationBreaksRequest, call: CallContext
    ) -> pb.ListReconciliationBreaksResponse:
        page = PageRequest.parse(
            page_size=request.page_size,
            page_token=request.page_token,
            query={"run_id": request.run_id, "category": request.category},
        )
        items, token = self._reconciliation.list_breaks(
            call.tenant_id,
            request.run_id,
            page,
            category=CATEGORY_FROM_PB.get(request.category),
        )
        return pb.ListReconciliationBreaksResponse(
            breaks=[break_to_pb(b) for b in items], next_page_token=token
        )

    def resolve_reconciliation_break(
        self, request: pb.ResolveReconciliationBreakRequest, call: CallContext
    ) -> pb.ReconciliationBreak:
        replay = self._support.replay(call, request, break_to_pb)
        outcome = self._reconciliation.resolve_break(
            call.tenant_id, request.id, replay, note=request.note, actor=_actor(call)
        )
        return self._support.answer(outcome, pb.ReconciliationBreak, break_to_pb)


def _chunks(requests: Iterator[pb.ImportSettlementReportRequest]) -> Iterator[bytes]:
    for index, message in enumerate(requests, start=1):
        if message.HasField("header"):
            raise ValidationFailed.on(f"messages[{index}]", "only the first message is a header")
        yield message.chunk


def _actor(call: CallContext) -> str:
    """Who: the API key, by a prefix of its hash (never the secret itself)."""
    secret = call.metadata.get("authorization", "").partition(" ")[2].strip()
    return f"api_key:{hash_api_key(secret)[:12]}"
