"""SQL persistence of reconciliation runs, their breaks, and the payment and refund
records a settlement report is matched against.

A record is settled when it has a row in `settlement_marks` (what imports write,
insert-only: a bulk COPY on PostgreSQL) or, settled before marks existed, a
`settlement_run_id` of its own."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from operator import itemgetter
from typing import Any, TypeAlias, TypeVar

from sqlalchemy import Connection, and_, insert, select, text, update

from accrue.kernel.paging import PageRequest
from accrue.payments import tables as payments_tables
from accrue.platform.collector import fewer_young_collections
from accrue.reconciliation import tables as t
from accrue.reconciliation.matching import Break, BreakCategory, InternalRecord, RecordRow
from accrue.reconciliation.runs import CurrencyTotals, ReconciliationRun, StoredBreak
from accrue.reconciliation.settlement import LineKind, SettlementFormat

_run = t.reconciliation_runs.c
_brk = t.reconciliation_breaks.c
_p = payments_tables.payments.c
_r = payments_tables.refunds.c
_m = t.settlement_marks.c
_Batch = TypeVar("_Batch")
# References to look up: plain (as both kinds), or each with the kind to look for first.
References: TypeAlias = Sequence[str] | Mapping[str, LineKind]
_Result = TypeVar("_Result")
_OPEN = ("succeeded", "processing", "unknown", "pending")
# Lookups by reference go in slices this long (bound parameters per statement).
_IN_SLICE = 1000
# Streamed reads, per statement: `Connection.execution_options` would change the
# unit of work's shared connection in place, making every later statement on it
# (the inserts too) use a server-side cursor.
_STREAM = {"yield_per": 5000}
# Rows per round trip when streaming records as tuples on PostgreSQL.
_ITER_SIZE = 20_000


class SqlReconciliationRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # -- runs -------------------------------------------------------------

    def find_run(self, tenant_id: str, psp: str, report_sha256: str) -> ReconciliationRun | None:
        """The run of these bytes, if any. An import calls this first in its transaction,
        so on PostgreSQL it first takes the tenant's import lock (held to the end of the
        transaction): a tenant's imports run one at a time, as every writer does on
        SQLite. A concurrent import of the same bytes then finds the run instead of
        failing on the unique digest, and one of overlapping lines finds their records
        settled (DUPLICATE) instead of posting them a second time."""
        if self._conn.dialect.name == "postgresql":
            digest = hashlib.sha256(f"reconciliation_import\0{tenant_id}".encode()).digest()
            lock_id = int.from_bytes(digest[:8], "big", signed=True)
            self._conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})
        query = select(t.reconciliation_runs).where(
            _run.tenant_id == tenant_id, _run.psp == psp, _run.report_sha256 == report_sha256
        )
        row = self._conn.execute(query).first()
        return None if row is None else _run_of(row)

    def get_run(self, tenant_id: str, run_id: str) -> ReconciliationRun | None:
        query = select(t.reconciliation_runs).where(_run.tenant_id == tenant_id, _run.id == run_id)
        row = self._conn.execute(query).first()
        return None if row is None else _run_of(row)

    def list_runs(self, tenant_id: str, page: PageRequest) -> Sequence[ReconciliationRun]:
        query = (
            select(t.reconciliation_runs)
            .where(_run.tenant_id == tenant_id, _run.id > page.after_id)
            .order_by(_run.id)
            .limit(page.size + 1)
        )
        return [_run_of(row) for row in self._conn.execute(query)]

    def add_run(self, run: ReconciliationRun) -> None:
        self._conn.execute(insert(t.reconciliation_runs), _run_row(run))

    def update_run(self, run: ReconciliationRun) -> None:
        row = _run_row(run)
        for key in ("tenant_id", "id"):
            row.pop(key)
        self._conn.execute(
            update(t.reconciliation_runs)
            .where(_run.tenant_id == run.tenant_id, _run.id == run.id)
            .values(**row)
        )

    # -- breaks -----------------------------------------------------------

    def add_breaks(self, items: Sequence[StoredBreak]) -> None:
        if items:
            self._conn.execute(insert(t.reconciliation_breaks), [_break_row(b) for b in items])

    def list_breaks(
        self,
        tenant_id: str,
        run_id: str,
        page: PageRequest,
        *,
        category: BreakCategory | None,
    ) -> Sequence[StoredBreak]:
        after = int(page.after_id) if page.after_id.isdigit() else -1
        query = select(t.reconciliation_breaks).where(
            _brk.tenant_id == tenant_id, _brk.run_id == run_id, _brk.seq > after
        )
        if category is not None:
            query = query.where(_brk.category == category.name)
        rows = self._conn.execute(query.order_by(_brk.seq).limit(page.size + 1))
        return [_break_of(row) for row in rows]

    def iter_breaks(self, tenant_id: str, run_id: str) -> Iterator[StoredBreak]:
        query = (
            select(t.reconciliation_breaks)
            .where(_brk.tenant_id == tenant_id, _brk.run_id == run_id)
            .order_by(_brk.seq)
        )
        for row in self._conn.execute(query, execution_options=_STREAM):
            yield _break_of(row)

    def get_break(
        self, tenant_id: str, run_id: str, seq: int, *, for_update: bool = False
    ) -> StoredBreak | None:
        query = select(t.reconciliation_breaks).where(
            _brk.tenant_id == tenant_id, _brk.run_id == run_id, _brk.seq == seq
        )
        if for_update and self._conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return None if row is None else _break_of(row)

    def update_break(self, item: StoredBreak) -> None:
        self._conn.execute(
            update(t.reconciliation_breaks)
            .where(
                _brk.tenant_id == item.tenant_id,
                _brk.run_id == item.run_id,
                _brk.seq == item.seq,
            )
            .values(
                resolved=item.resolved,
                resolution_note=item.resolution_note,
                resolved_by=item.resolved_by,
                resolve_time=item.resolve_time,
            )
        )

    # -- the records a report is matched against ---------------------------

    def records(
        self, tenant_id: str, psp: str, references: Sequence[str]
    ) -> dict[str, InternalRecord]:
        found: dict[str, InternalRecord] = {}
        for start in range(0, len(references), _IN_SLICE):
            part = list(references[start : start + _IN_SLICE])
            for kind in (LineKind.CHARGE, LineKind.REFUND):  # a refund wins
                found.update(self._records_of(kind, tenant_id, psp, part))
        return found

    def _records_of(
        self, kind: LineKind, tenant_id: str, psp: str, references: Sequence[str]
    ) -> dict[str, InternalRecord]:
        """The records of one kind among at most `_IN_SLICE` references."""
        if kind is LineKind.CHARGE:
            query = (
                select(*_CHARGE_COLUMNS)
                .select_from(_CHARGES_WITH_MARK)
                .where(
                    _p.tenant_id == tenant_id,
                    _p.psp == psp,
                    _p.psp_idempotency_key.in_(references),
                )
            )
        else:
            query = (
                select(*_REFUND_COLUMNS)
                .select_from(_REFUNDS_WITH_MARK)
                .where(
                    _r.tenant_id == tenant_id,
                    _p.psp == psp,
                    _r.psp_idempotency_key.in_(references),
                )
            )
        return {row.reference: _record_of(row, kind) for row in self._conn.execute(query)}

    def mark_settled(self, tenant_id: str, run_id: str, records: Sequence[InternalRecord]) -> None:
        ids = [r.record_id for r in records]
        self.mark_settled_ids(tenant_id, run_id, ids, [])

    def unsettled_records(
        self, tenant_id: str, psp: str, *, cut_off: datetime
    ) -> Iterator[InternalRecord]:
        """Records a report up to `cut_off` should have settled, streamed in id order."""
        charges = (
            select(*_CHARGE_COLUMNS)
            .select_from(_CHARGES_WITH_MARK)
            .where(
                _p.tenant_id == tenant_id,
                _p.psp == psp,
                _p.settlement_run_id.is_(None),
                _m.run_id.is_(None),
                _p.create_time <= cut_off,
                _p.status.in_(_OPEN),
            )
            .order_by(_p.id)
        )
        refunds = (
            select(*_REFUND_COLUMNS)
            .select_from(_REFUNDS_WITH_MARK)
            .where(
                _r.tenant_id == tenant_id,
                _p.psp == psp,
                _r.settlement_run_id.is_(None),
                _m.run_id.is_(None),
                _r.create_time <= cut_off,
                _r.status.in_(_OPEN),
            )
            .order_by(_r.id)
        )
        for row in self._conn.execute(charges, execution_options=_STREAM):
            yield _record_of(row, LineKind.CHARGE)
        for row in self._conn.execute(refunds, execution_options=_STREAM):
            yield _record_of(row, LineKind.REFUND)

    # -- the same, as tuples in bulk (the import's hot path) -------------------
    #
    # On PostgreSQL these go through the driver's own cursor on the unit of work's
    # connection (so inside its transaction): one statement per batch with the
    # references or ids as one array parameter, rows as plain tuples. SQLite takes
    # the statements above, converted.

    def record_rows(self, tenant_id: str, psp: str, references: References) -> dict[str, RecordRow]:
        """`records` as `RecordRow` tuples. Given the kind to look for first (a
        mapping, `Reconciler.row_references`), each reference is looked up among
        the records of that kind, and among the other kind's only if none has it:
        one index probe per reference, where looking every reference up as both
        kinds took two. (Where both a payment and a refund had one reference, the
        kind named first would win; Accrue's keys, `accrue_` and the record's id,
        never coincide.)"""
        if self._conn.dialect.name == "postgresql":
            return _pg_record_rows(self._driver(), tenant_id, psp, references)

        def fetch(kind: LineKind, wanted: Sequence[str]) -> dict[str, RecordRow]:
            rows: dict[str, RecordRow] = {}
            ordered = sorted(wanted)
            for start in range(0, len(ordered), _IN_SLICE):
                part = ordered[start : start + _IN_SLICE]
                found = self._records_of(kind, tenant_id, psp, part)
                rows.update({reference: record.row() for reference, record in found.items()})
            return rows

        return _own_kind_first(fetch, references)

    def classify_ahead(
        self,
        tenant_id: str,
        psp: str,
        batches: Iterable[_Batch],
        references: Callable[[_Batch], Iterable[str]],
        classify: Callable[[_Batch, dict[str, RecordRow]], _Result],
    ) -> Iterator[tuple[_Batch, dict[str, RecordRow], _Result]]:
        """Each batch, in order, with `record_rows` of its `references` and what
        `classify` made of the two.

        On PostgreSQL the next batch's records are fetched on a worker thread while
        this one is classified and the batch after it is read, so the database's time
        overlaps this process's instead of adding to it. A batch is handed over only
        once that fetch has finished: nothing the caller does with it (its statements
        on the same connection) runs beside the worker. Hence a batch's records are
        always read before the caller's writes for the previous batch, on PostgreSQL
        as on SQLite (which fetches each batch when it is reached, after them) if
        `classify` makes up for those writes (settlement marks) as the service does.

        The rows of a batch or two are alive at any time and freed as the loop moves
        on, so the cyclic collector is told to wait for more of them meanwhile
        (`fewer_young_collections`) instead of walking the process over and over."""
        with fewer_young_collections():
            if self._conn.dialect.name != "postgresql":
                for batch in batches:
                    records = self.record_rows(tenant_id, psp, _wanted(references(batch)))
                    yield batch, records, classify(batch, records)
                return
            yield from self._classify_ahead_pg(tenant_id, psp, batches, references, classify)

    def _classify_ahead_pg(
        self,
        tenant_id: str,
        psp: str,
        batches: Iterable[_Batch],
        references: Callable[[_Batch], Iterable[str]],
        classify: Callable[[_Batch, dict[str, RecordRow]], _Result],
    ) -> Iterator[tuple[_Batch, dict[str, RecordRow], _Result]]:
        driver = self._driver()
        items = iter(batches)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="record-rows") as worker:

            def fetch(batch: _Batch | None) -> Future[dict[str, RecordRow]] | None:
                if batch is None:
                    return None
                wanted = _wanted(references(batch))
                return worker.submit(_pg_record_rows, driver, tenant_id, psp, wanted)

            current = next(items, None)
            fetching = fetch(current)
            following = next(items, None)
            while current is not None and fetching is not None:
                records = fetching.result()
                fetching = fetch(following)  # runs while `current` is classified
                result = classify(current, records)
                after = next(items, None)
                if fetching is not None:
                    fetching.exception()  # finished (its error, if any, comes with its batch)
                yield current, records, result
                current, following = following, after

    def mark_settled_ids(
        self, tenant_id: str, run_id: str, payment_ids: Sequence[str], refund_ids: Sequence[str]
    ) -> None:
        """Record that `run_id` settled these payments and refunds (a record is marked
        once: marking one twice fails, so a settlement is never counted twice)."""
        ids = [*payment_ids, *refund_ids]
        if not ids:
            return
        if self._conn.dialect.name != "postgresql":
            rows = [{"tenant_id": tenant_id, "record_id": i, "run_id": run_id} for i in ids]
            self._conn.execute(insert(t.settlement_marks), rows)
            return
        with (
            self._driver().cursor() as cursor,
            cursor.copy("COPY settlement_marks (tenant_id, record_id, run_id) FROM STDIN") as copy,
        ):
            for record_id in ids:
                copy.write_row((tenant_id, record_id, run_id))

    def unsettled_record_rows(
        self,
        tenant_id: str,
        psp: str,
        *,
        cut_off: datetime,
        skip: AbstractSet[str] = frozenset(),
    ) -> Iterator[RecordRow]:
        """`unsettled_records` as `RecordRow` tuples, in no particular order, less those
        whose reference is in `skip` (the ones a report named, which `finish` passes over
        anyway).

        On PostgreSQL only the references stream in first, a slice at a time, and are
        taken out of `skip` as sets (no row object each); whole rows are read only for
        what is left. After a complete report that is a handful, while every record of
        the period, named or not, still crosses the wire once as a short string."""
        if self._conn.dialect.name != "postgresql":
            for record in self.unsettled_records(tenant_id, psp, cut_off=cut_off):
                if record.reference not in skip:
                    yield record.row()
            return
        params = (tenant_id, psp, cut_off, list(_OPEN))
        driver = self._driver()
        for kind in (LineKind.CHARGE, LineKind.REFUND):
            # A server-side cursor: references come _ITER_SIZE at a time, never all at
            # once. Outside a transaction (a reading unit of work runs in autocommit)
            # only a cursor WITH HOLD outlives its DECLARE.
            cursor = driver.cursor(name=f"unsettled_{kind.value}", withhold=driver.autocommit)
            try:
                cursor.execute(_PG_UNSETTLED_REFERENCES[kind], params)
                while fetched := cursor.fetchmany(_ITER_SIZE):
                    left = set(map(itemgetter(0), fetched)).difference(skip)
                    if left:
                        yield from self._unsettled_rows_of(kind, params, sorted(left))
            finally:
                cursor.close()

    def _unsettled_rows_of(
        self, kind: LineKind, params: tuple[Any, ...], references: list[str]
    ) -> list[RecordRow]:
        with self._driver().cursor() as cursor:
            cursor.execute(_PG_UNSETTLED_BY_REFERENCE[kind], (*params, references))
            return [(kind, *row) for row in cursor.fetchall()]

    def _driver(self) -> Any:
        """The DB-API connection under the unit of work's, in its transaction."""
        return self._conn.connection.driver_connection


def _wanted(references: Iterable[str]) -> References:
    return references if isinstance(references, Mapping) else list(references)


def _own_kind_first(
    fetch: Callable[[LineKind, Sequence[str]], dict[str, RecordRow]], references: References
) -> dict[str, RecordRow]:
    """`record_rows` from `fetch` (the rows of one kind among some references)."""
    if not isinstance(references, Mapping):  # kinds unknown: both, a refund wins
        rows = fetch(LineKind.CHARGE, references)
        rows.update(fetch(LineKind.REFUND, references))
        return rows
    charges = [reference for reference, kind in references.items() if kind is LineKind.CHARGE]
    refunds = [reference for reference, kind in references.items() if kind is LineKind.REFUND]
    rows = fetch(LineKind.CHARGE, charges) if charges else {}
    found = fetch(LineKind.REFUND, refunds) if refunds else {}
    missing = {
        LineKind.REFUND: [reference for reference in charges if reference not in rows],
        LineKind.CHARGE: [reference for reference in refunds if reference not in found],
    }
    rows.update(found)
    for kind, wanted in missing.items():
        if wanted:
            rows.update(fetch(kind, wanted))
    return rows


def _pg_record_rows(
    driver: Any, tenant_id: str, psp: str, references: References
) -> dict[str, RecordRow]:
    with driver.cursor(binary=True) as cursor:

        def fetch(kind: LineKind, wanted: Sequence[str]) -> dict[str, RecordRow]:
            # One text parameter, split by the server: references never hold a line end.
            cursor.execute(_PG_BY_REFERENCE[kind], (tenant_id, psp, "\n".join(wanted)))
            return {row[1]: (kind, *row) for row in cursor.fetchall()}

        return _own_kind_first(fetch, references)


_PG_RECORD_COLUMNS = (
    "SELECT {a}.id, {a}.psp_idempotency_key, {a}.amount_minor, {a}.currency_code, {a}.status,"
    " {a}.create_time, {a}.settlement_run_id IS NOT NULL OR m.run_id IS NOT NULL"
)
_PG_CHARGES_FROM = (
    " FROM payments p"
    " LEFT JOIN settlement_marks m ON m.tenant_id = p.tenant_id AND m.record_id = p.id"
    " WHERE p.tenant_id = %s AND p.psp = %s"
)
_PG_REFUNDS_FROM = (
    " FROM refunds r JOIN payments p ON p.tenant_id = r.tenant_id AND p.id = r.payment_id"
    " LEFT JOIN settlement_marks m ON m.tenant_id = r.tenant_id AND m.record_id = r.id"
    " WHERE r.tenant_id = %s AND p.psp = %s"
)
_PG_FROM = {LineKind.CHARGE: ("p", _PG_CHARGES_FROM), LineKind.REFUND: ("r", _PG_REFUNDS_FROM)}
_PG_BY_REFERENCE = {
    kind: _PG_RECORD_COLUMNS.format(a=alias)
    + source
    + f" AND {alias}.psp_idempotency_key = ANY(string_to_array(%s, chr(10)))"
    for kind, (alias, source) in _PG_FROM.items()
}
_PG_UNSETTLED_WHERE = {
    kind: source + f" AND {alias}.settlement_run_id IS NULL AND m.run_id IS NULL"
    f" AND {alias}.create_time <= %s AND {alias}.status = ANY(%s)"
    for kind, (alias, source) in _PG_FROM.items()
}
_PG_UNSETTLED_REFERENCES = {
    kind: f"SELECT {_PG_FROM[kind][0]}.psp_idempotency_key" + where
    for kind, where in _PG_UNSETTLED_WHERE.items()
}
_PG_UNSETTLED_BY_REFERENCE = {
    kind: _PG_RECORD_COLUMNS.format(a=_PG_FROM[kind][0])
    + where
    + f" AND {_PG_FROM[kind][0]}.psp_idempotency_key = ANY(%s)"
    for kind, where in _PG_UNSETTLED_WHERE.items()
}


_CHARGE_COLUMNS = (
    _p.id.label("record_id"),
    _p.psp_idempotency_key.label("reference"),
    _p.amount_minor,
    _p.currency_code,
    _p.status,
    _p.create_time,
    _p.settlement_run_id,
    _m.run_id.label("mark_run_id"),
)
_CHARGES_WITH_MARK = payments_tables.payments.outerjoin(
    t.settlement_marks, and_(_m.tenant_id == _p.tenant_id, _m.record_id == _p.id)
)
# A refund goes through its payment's PSP.
_REFUNDS_WITH_MARK = payments_tables.refunds.join(
    payments_tables.payments, and_(_p.tenant_id == _r.tenant_id, _p.id == _r.payment_id)
).outerjoin(t.settlement_marks, and_(_m.tenant_id == _r.tenant_id, _m.record_id == _r.id))
_REFUND_COLUMNS = (
    _r.id.label("record_id"),
    _r.psp_idempotency_key.label("reference"),
    _r.amount_minor,
    _r.currency_code,
    _r.status,
    _r.create_time,
    _r.settlement_run_id,
    _m.run_id.label("mark_run_id"),
)


def _record_of(row: Any, kind: LineKind) -> InternalRecord:
    return InternalRecord(
        kind=kind,
        record_id=row.record_id,
        reference=row.reference,
        amount_minor=row.amount_minor,
        currency_code=row.currency_code,
        status=row.status,
        create_time=row.create_time,
        settled=row.settlement_run_id is not None or row.mark_run_id is not None,
    )


def _run_row(run: ReconciliationRun) -> dict[str, Any]:
    return {
        "tenant_id": run.tenant_id,
        "id": run.id,
        "psp": run.psp,
        "format": run.format.value,
        "file_name": run.file_name,
        "report_sha256": run.report_sha256,
        "cut_off_time": run.cut_off_time,
        "line_count": run.line_count,
        "matched_count": run.matched_count,
        "break_count": run.break_count,
        "breaks_by_category": dict(run.breaks_by_category),
        "totals": [
            {
                "currency_code": x.currency_code,
                "line_count": x.line_count,
                "matched_count": x.matched_count,
                "matched_gross_minor": x.matched_gross_minor,
                "matched_fees_minor": x.matched_fees_minor,
                "matched_net_minor": x.matched_net_minor,
            }
            for x in run.totals
        ],
        "payout_count": run.payout_count,
        "payouts_tied_out": run.payouts_tied_out,
        "ledger_transaction_count": run.ledger_transaction_count,
        "create_time": run.create_time,
    }


def _run_of(row: Any) -> ReconciliationRun:
    return ReconciliationRun(
        id=row.id,
        tenant_id=row.tenant_id,
        psp=row.psp,
        format=SettlementFormat(row.format),
        file_name=row.file_name,
        report_sha256=row.report_sha256,
        cut_off_time=row.cut_off_time,
        create_time=row.create_time,
        line_count=row.line_count,
        matched_count=row.matched_count,
        break_count=row.break_count,
        breaks_by_category={str(k): int(v) for k, v in row.breaks_by_category.items()},
        totals=tuple(CurrencyTotals(**x) for x in row.totals),
        payout_count=row.payout_count,
        payouts_tied_out=row.payouts_tied_out,
        ledger_transaction_count=row.ledger_transaction_count,
    )


def _break_row(item: StoredBreak) -> dict[str, Any]:
    found = item.found
    return {
        "tenant_id": item.tenant_id,
        "run_id": item.run_id,
        "seq": item.seq,
        "category": found.category.name,
        "line_number": found.line_number,
        "reference": found.reference,
        "record_id": found.record_id,
        "payout_id": found.payout_id,
        "currency_code": found.currency_code,
        "expected_minor": found.expected_minor,
        "actual_minor": found.actual_minor,
        "detail": found.detail,
        "resolved": item.resolved,
        "resolution_note": item.resolution_note,
        "resolved_by": item.resolved_by,
        "resolve_time": item.resolve_time,
    }


def _break_of(row: Any) -> StoredBreak:
    return StoredBreak(
        tenant_id=row.tenant_id,
        run_id=row.run_id,
        seq=row.seq,
        found=Break(
            category=BreakCategory[row.category],
            line_number=row.line_number,
            reference=row.reference,
            record_id=row.record_id,
            payout_id=row.payout_id,
            currency_code=row.currency_code,
            expected_minor=row.expected_minor,
            actual_minor=row.actual_minor,
            detail=row.detail,
        ),
        resolved=bool(row.resolved),
        resolution_note=row.resolution_note,
        resolved_by=row.resolved_by,
        resolve_time=row.resolve_time,
    )
