"""ReconciliationService through the generated clients, on SQLite and PostgreSQL.

Each test starts a server on a fresh database, creates a tenant, seeds the
payments and refunds a generated settlement report must be matched against
(`tests.recon_seeding`), uploads the report in odd-sized chunks and holds
the outcome to what the generator injected: exactly the expected breaks
(category, line, reference), counts that agree with them, settlement
postings that balance and add up to the matched lines, settled records
marked, and nothing at all recorded for a malformed report or a re-import.
"""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from connectrpc.errors import ConnectError
from google.protobuf.message import Message
from sqlalchemy import func, select

from accrue import schema as t
from accrue.billing.v1 import event_pb2 as evt
from accrue.billing.v1 import ledger_pb2 as led
from accrue.billing.v1 import reconciliation_pb2 as rpb
from accrue.events.v1 import events_pb2
from accrue.reconciliation.matching import BreakCategory
from accrue.reconciliation.settlement import LineKind, SettlementFormat, parse_settlement
from accrue.tenancy.model import hash_api_key
from tests.recon_seeding import SETTLED_EARLIER, Expectation, Payer, expectation, seed
from tests.reconciliation_files import Expected, GeneratedReport, build_report, major
from tests.support import (
    ConnectClients,
    Failure,
    GrpcClients,
    RunningServer,
    failure_of_connect,
    failure_of_grpc,
    running_server,
    settle,
)

pytestmark = pytest.mark.timeout(180)

RECON = "accrue.billing.v1.ReconciliationService"
LEDGER = "accrue.billing.v1.LedgerService"
EVENTS = "accrue.billing.v1.EventService"

SIM = SettlementFormat.SIMULATED
BAL = SettlementFormat.BALANCE_TRANSACTIONS
FORMAT_PB = {
    SIM: rpb.SETTLEMENT_FORMAT_SIMULATED,
    BAL: rpb.SETTLEMENT_FORMAT_BALANCE_TRANSACTIONS,
}
N = 2_000
# Odd on purpose: chunks end mid-line, mid-field and mid-number.
ODD_CHUNK = 65_537
RUN_ID = re.compile(r"recon_[0-9A-Z]{26}")


def category_pb(category: BreakCategory) -> Any:
    return rpb.BreakCategory.Value(f"BREAK_CATEGORY_{category.name}")


def category_of(item: rpb.ReconciliationBreak) -> BreakCategory:
    return BreakCategory[rpb.BreakCategory.Name(item.category).removeprefix("BREAK_CATEGORY_")]


def key_of(item: rpb.ReconciliationBreak) -> Expected:
    return category_of(item), item.line_number, item.reference


def serialized(messages: Iterable[Message]) -> bytes:
    return b"".join(m.SerializeToString(deterministic=True) for m in messages)


# -- one tenant over one transport --------------------------------------------


class Recon:
    """One tenant of a running server, calling it over gRPC or Connect."""

    def __init__(self, server: RunningServer, api_key: str, transport: str) -> None:
        self.server = server
        self.api_key = api_key
        self.transport = transport
        self.payers: dict[str, Payer] = {}
        self.clients: GrpcClients | ConnectClients = (
            GrpcClients(server.grpc_target, api_key)
            if transport == "grpc"
            else ConnectClients(server.connect_url, api_key)
        )

    def close(self) -> None:
        self.clients.close()

    def call(self, service: str, method: str, request: Message) -> Any:
        return self.clients.call(service, method, request)

    def fail(self, service: str, method: str, request: Message) -> Failure:
        try:
            response = self.call(service, method, request)
        except grpc.RpcError as error:
            return failure_of_grpc(error)
        except ConnectError as error:
            return failure_of_connect(error)
        raise AssertionError(f"{method} succeeded but should have failed: {response}")

    # -- the import stream ----------------------------------------------------

    def upload(
        self,
        chunks: Iterable[bytes],
        fmt: SettlementFormat,
        *,
        cut_off: datetime,
        file_name: str = "settlement.csv",
    ) -> rpb.ReconciliationRun:
        header = rpb.SettlementReportHeader(format=FORMAT_PB[fmt], file_name=file_name)
        header.cut_off_time.FromDatetime(cut_off)

        def messages() -> Iterator[rpb.ImportSettlementReportRequest]:
            yield rpb.ImportSettlementReportRequest(header=header)
            for chunk in chunks:
                yield rpb.ImportSettlementReportRequest(chunk=chunk)

        run: rpb.ReconciliationRun
        if isinstance(self.clients, GrpcClients):
            run = self.clients.reconciliation.ImportSettlementReport(
                messages(), metadata=self.clients.metadata, timeout=120
            )
        else:
            run = self.clients.reconciliation.import_settlement_report(
                messages(), headers=self.clients.headers, timeout_ms=120_000
            )
        return run

    def upload_failure(
        self, chunks: Iterable[bytes], fmt: SettlementFormat, *, cut_off: datetime
    ) -> Failure:
        try:
            run = self.upload(chunks, fmt, cut_off=cut_off)
        except grpc.RpcError as error:
            return failure_of_grpc(error)
        except ConnectError as error:
            return failure_of_connect(error)
        raise AssertionError(f"the import succeeded but should have failed: {run}")

    # -- reading back ---------------------------------------------------------

    def get_run(self, run_id: str) -> rpb.ReconciliationRun:
        run: rpb.ReconciliationRun = self.call(
            RECON, "GetReconciliationRun", rpb.GetReconciliationRunRequest(id=run_id)
        )
        return run

    def runs(self) -> list[rpb.ReconciliationRun]:
        request = rpb.ListReconciliationRunsRequest(page_size=1000)
        return list(self.call(RECON, "ListReconciliationRuns", request).runs)

    def breaks_pages(
        self, run_id: str, *, category: Any = 0, page_size: int = 1000
    ) -> list[list[rpb.ReconciliationBreak]]:
        pages, token = [], ""
        while True:
            page = self.call(
                RECON,
                "ListReconciliationBreaks",
                rpb.ListReconciliationBreaksRequest(
                    run_id=run_id, category=category, page_size=page_size, page_token=token
                ),
            )
            pages.append(list(page.breaks))
            token = page.next_page_token
            if not token:
                return pages
            assert len(pages) < 10_000, "paging does not end"

    def breaks(
        self, run_id: str, *, category: Any = 0, page_size: int = 1000
    ) -> list[rpb.ReconciliationBreak]:
        pages = self.breaks_pages(run_id, category=category, page_size=page_size)
        return [item for page in pages for item in page]

    def transactions(self, **query: Any) -> list[led.LedgerTransaction]:
        settle(self.server.app)  # readers see sequenced records (PostgreSQL: after commit)
        found, token = [], ""
        while True:
            page = self.call(
                LEDGER,
                "ListTransactions",
                led.ListTransactionsRequest(page_size=1000, page_token=token, **query),
            )
            found += page.transactions
            token = page.next_page_token
            if not token:
                return found

    def verify_ledger(self) -> led.VerifyLedgerResponse:
        settle(self.server.app)
        verified: led.VerifyLedgerResponse = self.call(
            LEDGER, "VerifyLedger", led.VerifyLedgerRequest()
        )
        return verified

    def events(self, *types: str) -> list[evt.Event]:
        settle(self.server.app)
        found, token = [], ""
        while True:
            page = self.call(
                EVENTS,
                "ListEvents",
                evt.ListEventsRequest(page_size=1000, page_token=token, types=list(types)),
            )
            found += page.events
            token = page.next_page_token
            if not token:
                return found


@contextmanager
def tenant(server: RunningServer, transport: str, api_key: str = "") -> Iterator[Recon]:
    recon = Recon(server, api_key or server.new_tenant(), transport)
    try:
        yield recon
    finally:
        recon.close()


def seeded(server: RunningServer, report: GeneratedReport, transport: str) -> Recon:
    """A new tenant holding `report`'s records (close it when done)."""
    recon = Recon(server, server.new_tenant(), transport)
    recon.payers = seed(server, recon.api_key, report.records.values())
    return recon


# -- what a correct run must show, worked out from the generator ------------


def settlement_marks(server: RunningServer, tenant_id: str) -> dict[str, str | None]:
    """The run that settled every payment and refund of the tenant, by id: its
    `settlement_marks` row, or (settled before marks existed) `settlement_run_id`."""
    marks: dict[str, str | None] = {}
    with server.app.engine.connect() as conn:
        for table in (t.payments, t.refunds):
            query = select(table.c.id, table.c.settlement_run_id).where(
                table.c.tenant_id == tenant_id
            )
            marks.update({row.id: row.settlement_run_id for row in conn.execute(query)})
        query = select(t.settlement_marks.c.record_id, t.settlement_marks.c.run_id).where(
            t.settlement_marks.c.tenant_id == tenant_id
        )
        for row in conn.execute(query):
            assert marks[row.record_id] is None, f"{row.record_id} was settled twice"
            marks[row.record_id] = row.run_id
    return marks


def row_counts(server: RunningServer, tenant_id: str) -> dict[str, int]:
    counts = {}
    with server.app.engine.connect() as conn:
        for table in (
            t.reconciliation_runs,
            t.reconciliation_breaks,
            t.ledger_transactions,
            t.ledger_entries,
            t.events,
            t.payments,
            t.refunds,
            t.settlement_marks,
        ):
            query = select(func.count()).select_from(table).where(table.c.tenant_id == tenant_id)
            counts[table.name] = conn.execute(query).scalar_one()
    return counts


def expected_marks(
    report: GeneratedReport, payers: dict[str, Payer], run_id: str, matched: set[str]
) -> dict[str, str | None]:
    marks: dict[str, str | None] = {p.parent_payment_id: SETTLED_EARLIER for p in payers.values()}
    for record in report.records.values():
        if record.settled:
            marks[record.record_id] = SETTLED_EARLIER
        else:
            marks[record.record_id] = run_id if record.record_id in matched else None
    return marks


# -- 1. precision and recall, counts, ledger, settlement marks ---------------


@pytest.mark.parametrize(
    ("fmt", "seed_value", "transport"),
    [(SIM, 7, "grpc"), (SIM, 8, "connect"), (BAL, 7, "connect"), (BAL, 8, "grpc")],
)
def test_import_finds_exactly_the_injected_breaks_and_posts_the_matches(
    database_url: str, fmt: SettlementFormat, seed_value: int, transport: str
) -> None:
    report = build_report(seed=seed_value, n=N, fmt=fmt)
    want = expectation(report)
    with running_server(database_url) as server:
        recon = seeded(server, report, transport)
        try:
            tenant_id = server.tenant_of(recon.api_key)
            before = datetime.now(UTC) - timedelta(seconds=5)
            run = recon.upload(
                report.chunks(ODD_CHUNK), fmt, cut_off=report.cut_off, file_name="day.csv"
            )

            # The run itself.
            assert RUN_ID.fullmatch(run.id), run.id
            assert run.psp == "simulated"
            assert run.format == FORMAT_PB[fmt]
            assert run.file_name == "day.csv"
            assert run.report_sha256 == hashlib.sha256(report.data).hexdigest()
            assert run.cut_off_time.ToDatetime(tzinfo=UTC) == report.cut_off
            assert before <= run.create_time.ToDatetime(tzinfo=UTC) <= datetime.now(UTC)
            assert recon.get_run(run.id) == run
            assert recon.runs() == [run]

            # Every injected break, and nothing else: 100% precision and recall.
            listed = recon.breaks(run.id)
            found = [key_of(b) for b in listed]
            assert len(found) == len(set(found)), "a break is listed twice"
            assert set(found) - report.expected == set(), "false positives"
            assert report.expected - set(found) == set(), "missed breaks"
            assert {category for category, _, _ in found} >= (
                set(BreakCategory) - ({BreakCategory.PAYOUT_MISMATCH} if fmt is SIM else set())
            )
            _check_break_fields(listed, run, report)

            # The counts agree with the listed breaks and the report.
            assert run.line_count == report.line_count == want.line_count
            assert run.break_count == len(listed)
            assert run.matched_count == want.matched_count
            by_category = Counter(category_pb(category_of(b)) for b in listed)
            assert [(c.category, c.count) for c in run.breaks_by_category] == sorted(
                by_category.items()
            )
            assert [
                (
                    x.currency_code,
                    x.line_count,
                    (
                        x.matched_count,
                        x.matched_gross.amount_minor,
                        x.matched_fees.amount_minor,
                        x.matched_net.amount_minor,
                    ),
                )
                for x in run.totals
            ] == [
                (c, want.lines_by_currency[c], want.matched_by_currency.get(c, (0, 0, 0, 0)))
                for c in sorted(want.lines_by_currency)
            ]
            for x in run.totals:
                assert {
                    x.matched_gross.currency_code,
                    x.matched_fees.currency_code,
                    x.matched_net.currency_code,
                } == {x.currency_code}
            # Every payout the report names is counted, in either layout (the
            # simulator's lists no payout rows but names each line's payout).
            assert run.payout_count == len(set(report.payouts) | report.broken_payouts) > 0
            assert run.payouts_tied_out == run.payout_count - len(report.broken_payouts) > 0

            # The settlement postings balance and add up to the matched lines.
            _check_settlement_postings(recon, run, want)
            verified = recon.verify_ledger()
            assert verified.intact, verified
            assert verified.transactions_checked == run.ledger_transaction_count

            # Matched records are marked settled by this run; nothing else changed.
            assert settlement_marks(server, tenant_id) == expected_marks(
                report,
                recon.payers,
                run.id,
                want.matched_record_ids,
            )
            completed = recon.events("reconciliation_run.completed")
            assert [e.resource_id for e in completed] == [run.id]
            payload = events_pb2.ReconciliationRunCompleted()
            assert completed[0].payload.Unpack(payload)
            assert payload.run == run
        finally:
            recon.close()


def _check_break_fields(
    listed: list[rpb.ReconciliationBreak], run: rpb.ReconciliationRun, report: GeneratedReport
) -> None:
    # Ids are the run's and positions; file order, record and payout breaks last.
    assert [b.id for b in listed] == [f"{run.id}:{seq:07d}" for seq in range(len(listed))]
    assert {b.run_id for b in listed} == {run.id}
    numbers = [b.line_number for b in listed]
    on_lines = [n for n in numbers if n]
    assert numbers == on_lines + [0] * (len(numbers) - len(on_lines))
    assert on_lines == sorted(on_lines)
    for item in listed:
        category = category_of(item)
        assert not item.resolved and not item.resolved_by and not item.resolution_note
        assert not item.HasField("resolve_time")
        assert item.detail
        record = report.records.get(item.reference)
        if category in (BreakCategory.MISSING_AT_PSP, BreakCategory.PENDING_AT_CUTOFF) and (
            item.line_number == 0
        ):
            assert record is not None
            assert item.record_id == record.record_id
            assert item.expected.amount_minor == record.signed_minor
            assert item.expected.currency_code == record.currency_code
            assert not item.HasField("actual")
        if category is BreakCategory.AMOUNT_MISMATCH:
            assert record is not None and item.record_id == record.record_id
            assert item.expected.amount_minor == record.signed_minor
            assert item.actual.amount_minor != item.expected.amount_minor
        if category is BreakCategory.PAYOUT_MISMATCH:
            assert item.payout_id == item.reference


def _check_settlement_postings(recon: Recon, run: rpb.ReconciliationRun, want: Expectation) -> None:
    postings = recon.transactions(source_type="settlement")
    assert len(postings) == run.ledger_transaction_count > 0
    assert recon.transactions() == postings  # nothing else was posted
    nets: Counter[tuple[str, str]] = Counter()
    for tx in postings:
        assert (tx.resource_type, tx.resource_id) == ("reconciliation_run", run.id)
        assert tx.source_id.startswith(f"{run.id}:")
        balance = 0
        for entry in tx.entries:
            code, currency = entry.account_id.split(":")
            assert code in {"bank", "psp_fees", "psp_clearing"}, entry.account_id
            assert entry.amount.currency_code == currency
            assert entry.amount.amount_minor > 0
            signed = entry.amount.amount_minor
            if entry.direction == led.ENTRY_DIRECTION_CREDIT:
                signed = -signed
            else:
                assert entry.direction == led.ENTRY_DIRECTION_DEBIT
            balance += signed
            nets[code, currency] += signed
        assert balance == 0, tx  # bank + fees debited, clearing credited: nets to zero
    for currency, (_, gross, fees, net) in want.matched_by_currency.items():
        assert nets["psp_clearing", currency] == -gross, currency
        assert nets["bank", currency] == net, currency
        assert nets["psp_fees", currency] == fees, currency
    assert {c for _, c in nets} <= set(want.matched_by_currency)


# -- 2. re-import ------------------------------------------------------------


def _snapshot(recon: Recon, tenant_id: str, run_id: str) -> dict[str, object]:
    return {
        "breaks": serialized(recon.breaks(run_id)),
        "breaks_paged": serialized(recon.breaks(run_id, page_size=7)),
        "runs": serialized(recon.runs()),
        "ledger": serialized(recon.transactions()),
        "events": serialized(recon.events()),
        "marks": settlement_marks(recon.server, tenant_id),
        "rows": row_counts(recon.server, tenant_id),
    }


@pytest.mark.parametrize(("fmt", "transport"), [(BAL, "grpc"), (SIM, "connect")])
def test_reimporting_the_same_bytes_returns_the_first_run_and_changes_nothing(
    database_url: str, fmt: SettlementFormat, transport: str
) -> None:
    report = build_report(seed=21, n=N, fmt=fmt)
    with running_server(database_url) as server:
        recon = seeded(server, report, transport)
        try:
            tenant_id = server.tenant_of(recon.api_key)
            first = recon.upload(report.chunks(ODD_CHUNK), fmt, cut_off=report.cut_off)
            assert first.ledger_transaction_count > 0 and first.break_count > 0
            before = _snapshot(recon, tenant_id, first.id)
            assert serialized(recon.breaks(first.id)) == before["breaks"]  # stable reads

            for chunks, name, cut_off in (
                (report.chunks(ODD_CHUNK), "settlement.csv", report.cut_off),
                (report.chunks(4_093), "renamed.csv", report.cut_off),
                ([report.data], "settlement.csv", report.cut_off + timedelta(days=1)),
                (report.chunks(1 << 20), "settlement.csv", report.cut_off),
            ):
                again = recon.upload(chunks, fmt, cut_off=cut_off, file_name=name)
                assert again == first
                assert _snapshot(recon, tenant_id, first.id) == before
            assert recon.get_run(first.id) == first
        finally:
            recon.close()


def test_a_settled_line_reimported_with_another_amount_reports_both_facts(
    database_url: str,
) -> None:
    """A clean report settles every line and ties out every payout it names; the
    same report again with one charge's amount changed (other bytes, so a new
    run) finds every line settled already, and that charge's amount changed."""
    report = build_report(seed=31, n=200, fmt=SIM, inject=False)
    lines = list(parse_settlement([report.data], SIM))
    changed = next(x for x in lines if x.kind is LineKind.CHARGE)
    fields = report.data.decode().split("\n")[changed.line_number - 1].split(",")
    currency = changed.currency_code
    fields[4] = major(changed.gross_minor + 100, currency)
    fields[6] = major(changed.net_minor + 100, currency)
    rows = report.data.decode().split("\n")
    rows[changed.line_number - 1] = ",".join(fields)
    altered = "\n".join(rows).encode()
    with running_server(database_url) as server:
        recon = seeded(server, report, "grpc")
        try:
            first = recon.upload(report.chunks(ODD_CHUNK), SIM, cut_off=report.cut_off)
            assert (first.break_count, first.matched_count) == (0, len(lines))
            assert first.payout_count == len(report.payouts) > 1
            assert first.payouts_tied_out == first.payout_count  # "tied out N of N", not 0 of 0

            second = recon.upload([altered], SIM, cut_off=report.cut_off)
            assert second.id != first.id and second.matched_count == 0
            found = [(category_of(b), b.line_number) for b in recon.breaks(second.id)]
            want = [(BreakCategory.DUPLICATE, x.line_number) for x in lines]
            at = want.index((BreakCategory.DUPLICATE, changed.line_number)) + 1
            want.insert(at, (BreakCategory.AMOUNT_MISMATCH, changed.line_number))
            assert found == want
            (difference,) = recon.breaks(second.id, category=rpb.BREAK_CATEGORY_AMOUNT_MISMATCH)
            assert (difference.expected.amount_minor, difference.actual.amount_minor) == (
                changed.gross_minor,
                changed.gross_minor + 100,
            )
            assert second.break_count == len(lines) + 1
            assert (second.payout_count, second.payouts_tied_out) == (first.payout_count, 0)
        finally:
            recon.close()


# -- 3. malformed reports ----------------------------------------------------


def _with_field(
    data: bytes, line_number: int, fmt: SettlementFormat, column: str, value: str
) -> bytes:
    lines = data.split(b"\n")
    fields = lines[line_number - 1].split(b",")
    fields[fmt.header.index(column)] = value.encode()
    lines[line_number - 1] = b",".join(fields)
    return b"\n".join(lines)


def _without_last_column(data: bytes, line_number: int) -> bytes:
    lines = data.split(b"\n")
    lines[line_number - 1] = lines[line_number - 1].rsplit(b",", 1)[0]
    return b"\n".join(lines)


def _malformations(report: GeneratedReport) -> list[tuple[str, bytes, str]]:
    fmt, data, last = report.fmt, report.data, report.line_count + 1
    return [
        ("bad amount", _with_field(data, 7, fmt, "gross", "12.3.4"), "lines[7].gross"),
        ("wrong header", _with_field(data, 1, fmt, "gross", "amount"), "lines[1].gross"),
        ("missing column", _without_last_column(data, 30), "lines[30]"),
        ("net on the last line", _with_field(data, last, fmt, "net", "1e3"), f"lines[{last}].net"),
        ("bad currency", _with_field(data, 12, fmt, "currency", "XXX"), "lines[12].currency"),
        ("not UTF-8", data.replace(b"\n", b"\n\xff", 1), "lines[2]"),
    ]


@pytest.mark.parametrize(("fmt", "transport"), [(SIM, "grpc"), (BAL, "connect")])
def test_malformed_report_is_refused_naming_the_line_and_records_nothing(
    database_url: str, fmt: SettlementFormat, transport: str
) -> None:
    report = build_report(seed=3, n=300, fmt=fmt)
    with running_server(database_url) as server:
        recon = seeded(server, report, transport)
        try:
            tenant_id = server.tenant_of(recon.api_key)
            marks = settlement_marks(server, tenant_id)
            rows = row_counts(server, tenant_id)
            events = serialized(recon.events())
            for name, data, field in _malformations(report):
                for size in (ODD_CHUNK, 1_009):
                    failure = recon.upload_failure(
                        (data[i : i + size] for i in range(0, len(data), size)),
                        fmt,
                        cut_off=report.cut_off,
                    )
                    assert (failure.code, failure.reason) == (
                        "INVALID_ARGUMENT",
                        "VALIDATION_FAILED",
                    ), (name, failure)
                    assert failure.field_violations == [field], (name, failure)
                    assert field in failure.message, (name, failure)
                assert recon.runs() == [], name
                assert recon.transactions() == [], name
                assert recon.verify_ledger().transactions_checked == 0
                assert serialized(recon.events()) == events, name
                assert settlement_marks(server, tenant_id) == marks, name
                assert row_counts(server, tenant_id) == rows, name

            # The intact report still imports, as the first and only run.
            run = recon.upload(report.chunks(ODD_CHUNK), fmt, cut_off=report.cut_off)
            assert {key_of(b) for b in recon.breaks(run.id)} == report.expected
            assert [r.id for r in recon.runs()] == [run.id]
        finally:
            recon.close()


# -- 4. filtering and paging -------------------------------------------------


@pytest.mark.parametrize("transport", ["grpc", "connect"])
def test_breaks_filter_by_category_and_page(database_url: str, transport: str) -> None:
    report = build_report(seed=5, n=400, fmt=BAL)
    with running_server(database_url) as server:
        recon = seeded(server, report, transport)
        try:
            run = recon.upload(report.chunks(ODD_CHUNK), BAL, cut_off=report.cut_off)
            everything = recon.breaks(run.id)
            assert {key_of(b) for b in everything} == report.expected

            # Pages of three: full pages but the last, the same breaks in the same order.
            pages = recon.breaks_pages(run.id, page_size=3)
            assert all(len(page) == 3 for page in pages[:-1]) and 1 <= len(pages[-1]) <= 3
            assert [b for page in pages for b in page] == everything
            # A page exactly as long as what is left ends without a token.
            assert len(recon.breaks_pages(run.id, page_size=len(everything))) == 1

            for category in BreakCategory:
                wanted = [b for b in everything if category_of(b) == category]
                assert recon.breaks(run.id, category=category_pb(category)) == wanted
                assert recon.breaks(run.id, category=category_pb(category), page_size=3) == wanted
                assert {key_of(b) for b in wanted} == {
                    e for e in report.expected if e[0] is category
                }

            # A token belongs to its query: another category cannot use it.
            first = recon.call(
                RECON,
                "ListReconciliationBreaks",
                rpb.ListReconciliationBreaksRequest(run_id=run.id, page_size=3),
            )
            assert first.next_page_token
            failure = recon.fail(
                RECON,
                "ListReconciliationBreaks",
                rpb.ListReconciliationBreaksRequest(
                    run_id=run.id,
                    page_size=3,
                    page_token=first.next_page_token,
                    category=rpb.BREAK_CATEGORY_DUPLICATE,
                ),
            )
            assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "INVALID_PAGE_TOKEN")
            failure = recon.fail(
                RECON,
                "ListReconciliationBreaks",
                rpb.ListReconciliationBreaksRequest(run_id=run.id, page_token="garbage"),
            )
            assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "INVALID_PAGE_TOKEN")

            # Unknown runs, and other tenants' runs, are not found.
            with tenant(server, transport) as other:
                for who, run_id in ((recon, "recon_01AAAAAAAAAAAAAAAAAAAAAAAA"), (other, run.id)):
                    for method, request in (
                        ("GetReconciliationRun", rpb.GetReconciliationRunRequest(id=run_id)),
                        (
                            "ListReconciliationBreaks",
                            rpb.ListReconciliationBreaksRequest(run_id=run_id),
                        ),
                    ):
                        failure = who.fail(RECON, method, request)
                        assert (failure.code, failure.reason) == (
                            "NOT_FOUND",
                            "RESOURCE_NOT_FOUND",
                        ), (method, failure)
                assert other.runs() == []
        finally:
            recon.close()


# -- 5. resolving a break ----------------------------------------------------


@pytest.mark.parametrize("transport", ["grpc", "connect"])
def test_resolving_a_break_records_who_when_and_why_once(database_url: str, transport: str) -> None:
    report = build_report(seed=9, n=200, fmt=SIM)
    with running_server(database_url) as server:
        recon = seeded(server, report, transport)
        try:
            run = recon.upload(report.chunks(ODD_CHUNK), SIM, cut_off=report.cut_off)
            listed = recon.breaks(run.id)
            target = next(b for b in listed if category_of(b) is BreakCategory.AMOUNT_MISMATCH)

            # A note is required.
            for note in ("", "x" * 2001):
                failure = recon.fail(
                    RECON,
                    "ResolveReconciliationBreak",
                    rpb.ResolveReconciliationBreakRequest(id=target.id, note=note),
                )
                assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")
                assert failure.field_violations == ["note"]
            assert recon.breaks(run.id) == listed

            # Another tenant cannot see or resolve it; nor can anyone resolve what is not there.
            with tenant(server, transport) as other:
                failure = other.fail(
                    RECON,
                    "ResolveReconciliationBreak",
                    rpb.ResolveReconciliationBreakRequest(id=target.id, note="not mine"),
                )
                assert (failure.code, failure.reason) == ("NOT_FOUND", "RESOURCE_NOT_FOUND")
                assert other.events("reconciliation_break.resolved") == []
            for missing in (f"{run.id}:9999999", "recon_nothing:0000000", "no-colon", f"{run.id}:"):
                failure = recon.fail(
                    RECON,
                    "ResolveReconciliationBreak",
                    rpb.ResolveReconciliationBreakRequest(id=missing, note="nothing to resolve"),
                )
                assert (failure.code, failure.reason) == ("NOT_FOUND", "RESOURCE_NOT_FOUND"), (
                    missing
                )
            assert recon.breaks(run.id) == listed

            before = datetime.now(UTC) - timedelta(seconds=5)
            request_id = str(uuid.uuid4())
            note = "Customer was charged the corrected amount; PSP confirmed by email."
            request = rpb.ResolveReconciliationBreakRequest(
                id=target.id, note=note, request_id=request_id
            )
            resolved = recon.call(RECON, "ResolveReconciliationBreak", request)
            after = datetime.now(UTC) + timedelta(seconds=5)
            assert resolved.resolved
            assert resolved.resolution_note == note
            assert resolved.resolved_by == f"api_key:{hash_api_key(recon.api_key)[:12]}"
            assert re.fullmatch(r"api_key:[0-9a-f]{12}", resolved.resolved_by)
            assert recon.api_key not in resolved.resolved_by
            assert before <= resolved.resolve_time.ToDatetime(tzinfo=UTC) <= after
            unchanged = rpb.ReconciliationBreak()
            unchanged.CopyFrom(resolved)
            for name in ("resolved", "resolution_note", "resolved_by", "resolve_time"):
                unchanged.ClearField(name)
            assert unchanged == target

            # The same request again is a replay; a new one finds it resolved already.
            assert recon.call(RECON, "ResolveReconciliationBreak", request) == resolved
            failure = recon.fail(
                RECON,
                "ResolveReconciliationBreak",
                rpb.ResolveReconciliationBreakRequest(id=target.id, note="again"),
            )
            assert (failure.code, failure.reason) == ("FAILED_PRECONDITION", "INVALID_STATE")

            # Listed resolved, everything else as it was; the run's counts keep it.
            now_listed = recon.breaks(run.id)
            assert now_listed == [resolved if b.id == target.id else b for b in listed]
            assert recon.get_run(run.id) == run

            events = recon.events("reconciliation_break.resolved")
            assert [(e.type, e.resource_id) for e in events] == [
                ("reconciliation_break.resolved", target.id)
            ]
            payload = events_pb2.ReconciliationBreakResolved()
            assert events[0].payload.Unpack(payload)
            assert getattr(payload, "break") == resolved
        finally:
            recon.close()


# -- 6. concurrent imports ---------------------------------------------------


def test_concurrent_imports_settle_each_line_once(database_url: str) -> None:
    """The same bytes uploaded three times at once are one run; the same lines in
    other bytes (trailing empty lines) are runs of their own that find every
    record settled already. Whatever the interleaving, each line is posted once."""
    report = build_report(seed=13, n=N, fmt=SIM)
    want = expectation(report)
    uploads = [report.data] * 3 + [report.data + b"\n", report.data + b"\n\n"]
    with running_server(database_url) as server:
        recon = seeded(server, report, "grpc")
        try:
            tenant_id = server.tenant_of(recon.api_key)
            start = threading.Barrier(len(uploads), timeout=60)
            outcomes: dict[int, rpb.ReconciliationRun | Exception] = {}

            def upload(index: int, data: bytes) -> None:
                def chunks() -> Iterator[bytes]:
                    start.wait()
                    yield from (data[i : i + ODD_CHUNK] for i in range(0, len(data), ODD_CHUNK))

                own = Recon(server, recon.api_key, "grpc")
                try:
                    outcomes[index] = own.upload(chunks(), SIM, cut_off=report.cut_off)
                except Exception as error:  # reported below, with the others
                    outcomes[index] = error
                finally:
                    own.close()

            threads = [
                threading.Thread(target=upload, args=(i, data), daemon=True)
                for i, data in enumerate(uploads)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
                assert not thread.is_alive(), "an import hung"
            runs = [outcomes[i] for i in range(len(uploads))]
            assert all(isinstance(r, rpb.ReconciliationRun) for r in runs), runs
            same = runs[:3]
            assert same[0] == same[1] == same[2]
            distinct = {r.id: r for r in runs if isinstance(r, rpb.ReconciliationRun)}
            assert len(distinct) == 3
            assert sorted(r.id for r in recon.runs()) == sorted(distinct)

            # One run matched the lines; the others found them settled already.
            winners = [r for r in distinct.values() if r.matched_count]
            assert len(winners) == 1, list(distinct.values())
            winner = winners[0]
            assert winner.matched_count == want.matched_count
            for other in distinct.values():
                if other.id != winner.id:
                    assert other.ledger_transaction_count == 0
                    duplicates = {
                        b.line_number
                        for b in recon.breaks(other.id, category=rpb.BREAK_CATEGORY_DUPLICATE)
                    }
                    assert len(duplicates) >= want.matched_count
            postings = recon.transactions(source_type="settlement")
            assert len(postings) == winner.ledger_transaction_count
            assert {tx.resource_id for tx in postings} == {winner.id}
            assert recon.verify_ledger().intact
            assert settlement_marks(server, tenant_id) == expected_marks(
                report, recon.payers, winner.id, want.matched_record_ids
            )
        finally:
            recon.close()
