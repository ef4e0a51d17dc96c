"""Importing PSP settlement reports and matching them to the books.

Two passes over the upload, neither holding the file in memory: the first
hashes and fully parses the bytes, spooling the parsed rows batch by batch
to a temporary file (a malformed report is refused before anything is
recorded; a report already imported is recognised by its digest and
returned as it was); the second reads the spooled batches back - the report
is parsed once - and streams them through the `Reconciler`. Each batch
loads only the records its lines reference, marks the matched ones settled
and stores its breaks; every `POSTING_LINES` lines and at the end the
matched sums are posted (debit bank for the net, debit PSP fees, credit PSP
clearing for the gross), one posting per currency - all in the one
transaction of the run, so the ledger, the settlement marks and the breaks
agree whatever happens.

Both passes work on tuples (`parse_settlement_rows`, `Reconciler.feed_rows`):
a batch's records are fetched and its matches marked settled with one
statement each, and objects are built only for lines that break.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import IO

from accrue.event_log.service import EventRecorder
from accrue.kernel.clock import Clock
from accrue.kernel.errors import NotFound
from accrue.kernel.ids import IdGenerator
from accrue.kernel.paging import Page, PageRequest, paginate
from accrue.ledger.service import LedgerService
from accrue.payments.postings import settlement_posting
from accrue.platform.collector import fewer_young_collections
from accrue.ports import UnitOfWork, UnitOfWorkFactory
from accrue.reconciliation.matching import (
    Break,
    BreakCategory,
    FeeSchedule,
    Reconciler,
    RecordRow,
    RowBatchResult,
)
from accrue.reconciliation.ports import ReconciliationUnitOfWork
from accrue.reconciliation.runs import (
    CurrencyTotals,
    ReconciliationRun,
    StoredBreak,
    parse_break_id,
    resolve,
)
from accrue.reconciliation.settlement import (
    LineKind,
    ReportDigest,
    SettlementFormat,
    SettlementRow,
    parse_settlement_rows,
)

# Matched lines summed into one settlement posting per currency.
POSTING_LINES = 100_000


@dataclass(frozen=True, slots=True)
class ReportHeader:
    format: SettlementFormat
    psp: str
    cut_off_time: datetime
    file_name: str


class ReconciliationService:
    def __init__(
        self,
        *,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        events: EventRecorder,
        ledger: LedgerService,
        fee_schedule: FeeSchedule,
        batch_size: int = 5000,
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._ids = ids
        self._events = events
        self._ledger = ledger
        self._fees = fee_schedule
        self._batch_size = batch_size

    def import_report(
        self, tenant_id: str, header: ReportHeader, chunks: Iterable[bytes]
    ) -> ReconciliationRun:
        with tempfile.TemporaryFile() as spool:
            digest = _spool_and_check(chunks, spool, header.format, self._batch_size)
            with self._uow(write=True) as uow:
                existing = uow.reconciliation.find_run(tenant_id, header.psp, digest)
                if existing is not None:
                    return existing  # the same bytes: nothing changes
                run = self._run(uow, tenant_id, header, digest, spool)
                uow.commit()
        return run

    def get_run(
        self, uow: ReconciliationUnitOfWork, tenant_id: str, run_id: str
    ) -> ReconciliationRun:
        run = uow.reconciliation.get_run(tenant_id, run_id)
        if run is None:
            raise NotFound("reconciliation_run", run_id)
        return run

    def list_runs(
        self, uow: ReconciliationUnitOfWork, tenant_id: str, page: PageRequest
    ) -> Page[ReconciliationRun]:
        return paginate(uow.reconciliation.list_runs(tenant_id, page), page)

    def list_breaks(
        self,
        uow: ReconciliationUnitOfWork,
        tenant_id: str,
        run_id: str,
        page: PageRequest,
        *,
        category: BreakCategory | None,
    ) -> tuple[list[StoredBreak], str]:
        """A page of breaks and the next page token (breaks page by position)."""
        self.get_run(uow, tenant_id, run_id)
        fetched = list(uow.reconciliation.list_breaks(tenant_id, run_id, page, category=category))
        items = fetched[: page.size]
        more = len(fetched) > page.size
        return items, page.token_after(str(items[-1].seq)) if more and items else ""

    def resolve_break(
        self, uow: ReconciliationUnitOfWork, tenant_id: str, break_id: str, *, note: str, actor: str
    ) -> StoredBreak:
        key = parse_break_id(break_id)
        item = (
            None if key is None else uow.reconciliation.get_break(tenant_id, *key, for_update=True)
        )
        if item is None:
            raise NotFound("reconciliation_break", break_id)
        resolved = resolve(item, note=note, actor=actor, now=self._clock.now())
        uow.reconciliation.update_break(resolved)
        self._events.record(
            uow,
            tenant_id,
            type="reconciliation_break.resolved",
            resource_id=resolved.id,
            subject=resolved,
        )
        return resolved

    # -- the matching pass ---------------------------------------------------

    def _run(
        self,
        uow: UnitOfWork,
        tenant_id: str,
        header: ReportHeader,
        digest: str,
        spool: IO[bytes],
    ) -> ReconciliationRun:
        run = ReconciliationRun(
            id=self._ids.new("recon"),
            tenant_id=tenant_id,
            psp=header.psp,
            format=header.format,
            file_name=header.file_name,
            report_sha256=digest,
            cut_off_time=header.cut_off_time,
            create_time=self._clock.now(),
        )
        uow.reconciliation.add_run(run)
        reconciler = Reconciler(
            fee_schedule=self._fees,
            cut_off=header.cut_off_time,
            payout_rows=header.format.lists_payouts,
        )
        spool.seek(0)
        repository = uow.reconciliation
        seq = postings = 0
        window = _PostingWindow()
        marked: dict[str, str] = {}  # reference -> record id, of the previous batch

        def classify(batch: list[SettlementRow], records: dict[str, RecordRow]) -> RowBatchResult:
            # Records are read before the previous batch's marks are written (on
            # PostgreSQL while it is classified): those marks are applied here, so
            # every batch sees every earlier batch's, as if read afterwards.
            for reference in marked.keys() & records.keys():
                row = records[reference]
                if row[1] == marked[reference] and not row[7]:
                    records[reference] = (*row[:7], True)
            return reconciler.feed_rows(batch, records)

        batches = repository.classify_ahead(
            tenant_id, header.psp, _spooled(spool), reconciler.row_references, classify
        )
        for batch, records, result in batches:
            settled: dict[LineKind, list[str]] = {LineKind.CHARGE: [], LineKind.REFUND: []}
            marked = {}
            for i in result.matched:
                reference = batch[i][3]
                record = records[reference]
                settled[record[0]].append(record[1])
                marked[reference] = record[1]
            repository.mark_settled_ids(
                tenant_id, run.id, settled[LineKind.CHARGE], settled[LineKind.REFUND]
            )
            if result.matched:
                window.add(batch[result.matched[0]][0], len(batch), result.matched_sums)
            if window.lines >= POSTING_LINES:
                postings += self._post_settlement(uow, run, window)
                window = _PostingWindow()
            seq = self._store_breaks(uow, run, result.breaks, seq)
        postings += self._post_settlement(uow, run, window)
        unseen = repository.unsettled_record_rows(
            tenant_id, header.psp, cut_off=header.cut_off_time, skip=reconciler.seen_references()
        )
        seq = self._store_breaks(uow, run, reconciler.finish_rows(unseen), seq)
        done = _with_totals(run, reconciler, breaks=seq, postings=postings)
        uow.reconciliation.update_run(done)
        self._events.record(
            uow, tenant_id, type="reconciliation_run.completed", resource_id=done.id, subject=done
        )
        return done

    def _post_settlement(
        self, uow: UnitOfWork, run: ReconciliationRun, window: _PostingWindow
    ) -> int:
        """One posting per currency for the window's matched lines: their sums,
        exact; labelled with the window's first matched line."""
        posted = 0
        for currency, (gross, fee, net) in sorted(window.sums.items()):
            request = settlement_posting(
                run_id=run.id,
                currency_code=currency,
                gross_minor=gross,
                fee_minor=fee,
                net_minor=net,
                label=str(window.first),
            )
            if request is not None:
                self._ledger.post(uow, run.tenant_id, request)
                posted += 1
        return posted

    @staticmethod
    def _store_breaks(
        uow: UnitOfWork, run: ReconciliationRun, found: Sequence[Break], seq: int
    ) -> int:
        stored = [
            StoredBreak(tenant_id=run.tenant_id, run_id=run.id, seq=seq + i, found=item)
            for i, item in enumerate(found)
        ]
        uow.reconciliation.add_breaks(stored)
        return seq + len(stored)


def _spool_and_check(
    chunks: Iterable[bytes], spool: IO[bytes], fmt: SettlementFormat, batch_size: int
) -> str:
    """Hash and parse every line of the upload, spooling the parsed rows to `spool`
    a batch at a time, so the matching pass does not parse the report again."""
    digest = ReportDigest()
    with fewer_young_collections():
        for batch in parse_settlement_rows(digest.tee(chunks), fmt, batch_size):
            pickle.dump(batch, spool, protocol=pickle.HIGHEST_PROTOCOL)
    return digest.hexdigest()


def _spooled(spool: IO[bytes]) -> Iterator[list[SettlementRow]]:
    """The batches `_spool_and_check` wrote (this process's own temporary file)."""
    while True:
        try:
            batch: list[SettlementRow] = pickle.load(spool)  # noqa: S301 - written just now, by us
        except EOFError:
            return
        yield batch


@dataclass(slots=True)
class _PostingWindow:
    """Matched sums (gross, fee, net) by currency, since the last posting."""

    first: int = 0
    lines: int = 0
    sums: dict[str, list[int]] = field(default_factory=dict)

    def add(self, first: int, lines: int, sums: dict[str, list[int]]) -> None:
        self.first = self.first or first
        self.lines += lines
        for currency, (gross, fee, net) in sums.items():
            total = self.sums.setdefault(currency, [0, 0, 0])
            total[0] += gross
            total[1] += fee
            total[2] += net


def _with_totals(
    run: ReconciliationRun, reconciler: Reconciler, *, breaks: int, postings: int
) -> ReconciliationRun:
    summary = reconciler.totals()
    return replace(
        run,
        line_count=summary.line_count,
        matched_count=summary.matched_count,
        break_count=breaks,
        breaks_by_category={
            c.name: n
            for c, n in sorted(summary.breaks_by_category.items(), key=lambda item: item[0].name)
        },
        totals=tuple(
            CurrencyTotals(
                currency_code=code,
                line_count=t.line_count,
                matched_count=t.matched_count,
                matched_gross_minor=t.matched_gross_minor,
                matched_fees_minor=t.matched_fees_minor,
                matched_net_minor=t.matched_net_minor,
            )
            for code, t in sorted(summary.by_currency.items())
        ),
        payout_count=summary.payout_count,
        payouts_tied_out=summary.payouts_tied_out,
        ledger_transaction_count=postings,
    )
