"""Reconciliation runs and breaks: domain -> `accrue.billing.v1` reconciliation messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.message import Message

from accrue.billing.v1 import reconciliation_pb2 as pb
from accrue.catalog.convert import money_to_pb
from accrue.events.v1 import events_pb2
from accrue.platform.transport.convert import timestamp
from accrue.reconciliation.matching import BreakCategory
from accrue.reconciliation.runs import ReconciliationRun, StoredBreak
from accrue.reconciliation.settlement import SettlementFormat

FORMAT_TO_PB = {
    SettlementFormat.SIMULATED: pb.SETTLEMENT_FORMAT_SIMULATED,
    SettlementFormat.BALANCE_TRANSACTIONS: pb.SETTLEMENT_FORMAT_BALANCE_TRANSACTIONS,
}
FORMAT_FROM_PB = {v: k for k, v in FORMAT_TO_PB.items()}
CATEGORY_TO_PB: dict[BreakCategory, pb.BreakCategory] = {
    BreakCategory.MISSING_INTERNALLY: pb.BREAK_CATEGORY_MISSING_INTERNALLY,
    BreakCategory.MISSING_AT_PSP: pb.BREAK_CATEGORY_MISSING_AT_PSP,
    BreakCategory.DUPLICATE: pb.BREAK_CATEGORY_DUPLICATE,
    BreakCategory.AMOUNT_MISMATCH: pb.BREAK_CATEGORY_AMOUNT_MISMATCH,
    BreakCategory.CURRENCY_MISMATCH: pb.BREAK_CATEGORY_CURRENCY_MISMATCH,
    BreakCategory.FEE_MISMATCH: pb.BREAK_CATEGORY_FEE_MISMATCH,
    BreakCategory.STATUS_MISMATCH: pb.BREAK_CATEGORY_STATUS_MISMATCH,
    BreakCategory.PENDING_AT_CUTOFF: pb.BREAK_CATEGORY_PENDING_AT_CUTOFF,
    BreakCategory.PAYOUT_MISMATCH: pb.BREAK_CATEGORY_PAYOUT_MISMATCH,
}
CATEGORY_FROM_PB = {v: k for k, v in CATEGORY_TO_PB.items()}


def run_to_pb(run: ReconciliationRun) -> pb.ReconciliationRun:
    return pb.ReconciliationRun(
        id=run.id,
        psp=run.psp,
        format=FORMAT_TO_PB[run.format],
        file_name=run.file_name,
        report_sha256=run.report_sha256,
        cut_off_time=timestamp(run.cut_off_time),
        line_count=run.line_count,
        matched_count=run.matched_count,
        break_count=run.break_count,
        breaks_by_category=[
            pb.BreakCount(category=CATEGORY_TO_PB[BreakCategory[name]], count=count)
            for name, count in sorted(
                run.breaks_by_category.items(),
                key=lambda item: CATEGORY_TO_PB[BreakCategory[item[0]]],
            )
            if count
        ],
        totals=[
            pb.ReconciliationTotals(
                currency_code=t.currency_code,
                line_count=t.line_count,
                matched_count=t.matched_count,
                matched_gross=money_to_pb(t.matched_gross_minor, t.currency_code),
                matched_fees=money_to_pb(t.matched_fees_minor, t.currency_code),
                matched_net=money_to_pb(t.matched_net_minor, t.currency_code),
            )
            for t in run.totals
        ],
        payout_count=run.payout_count,
        payouts_tied_out=run.payouts_tied_out,
        ledger_transaction_count=run.ledger_transaction_count,
        create_time=timestamp(run.create_time),
    )


def break_to_pb(item: StoredBreak) -> pb.ReconciliationBreak:
    found = item.found
    message = pb.ReconciliationBreak(
        id=item.id,
        run_id=item.run_id,
        category=CATEGORY_TO_PB[found.category],
        line_number=found.line_number,
        reference=found.reference,
        record_id=found.record_id,
        payout_id=found.payout_id,
        detail=found.detail,
        resolved=item.resolved,
        resolution_note=item.resolution_note,
        resolved_by=item.resolved_by,
    )
    if found.expected_minor is not None and found.currency_code:
        message.expected.CopyFrom(money_to_pb(found.expected_minor, found.currency_code))
    if found.actual_minor is not None and found.currency_code:
        message.actual.CopyFrom(money_to_pb(found.actual_minor, found.currency_code))
    if item.resolve_time is not None:
        message.resolve_time.CopyFrom(timestamp(item.resolve_time))
    return message


# The event payloads of this area's subjects, gathered by `accrue.payloads`.
EVENT_PAYLOADS: tuple[tuple[type, Callable[[Any], Message]], ...] = (
    (ReconciliationRun, lambda s: events_pb2.ReconciliationRunCompleted(run=run_to_pb(s))),
    (StoredBreak, lambda s: events_pb2.ReconciliationBreakResolved(**{"break": break_to_pb(s)})),
)
