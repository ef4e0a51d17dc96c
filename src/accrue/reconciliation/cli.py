"""`accrue recon ...`: import settlement reports and export breaks, as a client of a
running server (so the CLI needs an API key, like any other caller).

The upload streams the file in 1 MiB chunks with a progress bar on stderr;
the summary table goes to stdout. Break export pages through
ListReconciliationBreaks and writes CSV, byte-identical for the same run.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

CHUNK_BYTES = 1 << 20
BREAK_COLUMNS = (
    "id",
    "category",
    "line_number",
    "reference",
    "record_id",
    "payout_id",
    "currency_code",
    "expected_minor",
    "actual_minor",
    "detail",
    "resolved",
    "resolved_by",
    "resolve_time",
)


def add_parser(commands: Any) -> None:
    recon = commands.add_parser("recon", help="reconcile PSP settlement reports")
    sub = recon.add_subparsers(dest="recon_command", required=True)

    def client(p: argparse.ArgumentParser) -> None:
        p.add_argument("--target", default="127.0.0.1:50051", help="gRPC address of the server")
        p.add_argument("--api-key", help="API key (env ACCRUE_API_KEY)")

    imp = sub.add_parser("import", help="upload a settlement report and print its summary")
    imp.add_argument("file", type=Path)
    imp.add_argument(
        "--format",
        choices=("simulated", "balance_transactions"),
        default="simulated",
        help="report layout",
    )
    imp.add_argument("--psp", default="simulated", help="the PSP that issued the report")
    imp.add_argument(
        "--cut-off",
        type=_utc,
        help="report cut-off, ISO 8601 UTC (default: now); later records are not expected",
    )
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    client(imp)
    imp.set_defaults(run=_import)

    brk = sub.add_parser("breaks", help="export a run's breaks as CSV")
    brk.add_argument("run_id")
    brk.add_argument("--category", help="only this category, e.g. AMOUNT_MISMATCH")
    brk.add_argument("--output", type=Path, help="file to write (default: stdout)")
    client(brk)
    brk.set_defaults(run=_breaks)


def _utc(text: str) -> datetime:
    """An ISO 8601 time; one without an offset is UTC, never the local time zone."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _metadata(args: argparse.Namespace) -> tuple[tuple[str, str], ...]:
    key = args.api_key or os.environ.get("ACCRUE_API_KEY", "")
    if not key:
        raise SystemExit("an API key is required: --api-key or ACCRUE_API_KEY")
    return (("authorization", f"Bearer {key}"),)


def _import(args: argparse.Namespace) -> int:
    import grpc

    from accrue.billing.v1 import reconciliation_pb2 as pb
    from accrue.billing.v1 import reconciliation_pb2_grpc

    if not args.file.is_file():
        print(f"no such file: {args.file}", file=sys.stderr)
        return 2
    size = args.file.stat().st_size
    from accrue.platform.clock import SystemClock

    cut_off = args.cut_off or SystemClock().now()
    header = pb.SettlementReportHeader(
        format=f"SETTLEMENT_FORMAT_{args.format.upper()}",
        psp=args.psp,
        file_name=args.file.name,
    )
    header.cut_off_time.FromDatetime(cut_off)
    progress = _Progress(size, enabled=not args.quiet)

    def messages() -> Iterator[pb.ImportSettlementReportRequest]:
        yield pb.ImportSettlementReportRequest(header=header)
        with args.file.open("rb") as report:
            while chunk := report.read(CHUNK_BYTES):
                progress.advance(len(chunk))
                yield pb.ImportSettlementReportRequest(chunk=chunk)
        progress.uploaded()

    with grpc.insecure_channel(args.target) as channel:
        stub = reconciliation_pb2_grpc.ReconciliationServiceStub(channel)
        try:
            run = stub.ImportSettlementReport(messages(), metadata=_metadata(args))
        except grpc.RpcError as error:
            progress.done()
            print(f"import failed: {error.code().name}: {error.details()}", file=sys.stderr)
            return 1
    progress.done()
    _summary(run, sys.stdout)
    return 0


def _summary(run: Any, out: IO[str]) -> None:
    from accrue.billing.v1 import reconciliation_pb2 as pb

    rows = [
        ("run", run.id),
        ("report sha256", run.report_sha256),
        ("lines", f"{run.line_count:,}"),
        ("matched", f"{run.matched_count:,}"),
        ("breaks", f"{run.break_count:,}"),
    ]
    rows += [
        (f"  {pb.BreakCategory.Name(c.category).removeprefix('BREAK_CATEGORY_')}", f"{c.count:,}")
        for c in run.breaks_by_category
    ]
    rows.append(("payouts tied out", f"{run.payouts_tied_out:,} of {run.payout_count:,}"))
    rows.append(("ledger postings", f"{run.ledger_transaction_count:,}"))
    for totals in run.totals:
        cur = totals.currency_code
        rows.append(
            (
                f"{cur} matched",
                f"{totals.matched_count:,} lines, gross {totals.matched_gross.amount_minor:,},"
                f" fees {totals.matched_fees.amount_minor:,},"
                f" net {totals.matched_net.amount_minor:,} (minor units)",
            )
        )
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        out.write(f"{name.ljust(width)}  {value}\n")


def _breaks(args: argparse.Namespace) -> int:
    import grpc

    from accrue.billing.v1 import reconciliation_pb2 as pb
    from accrue.billing.v1 import reconciliation_pb2_grpc

    category = f"BREAK_CATEGORY_{args.category.upper()}" if args.category else None
    out = args.output.open("w", newline="") if args.output else sys.stdout
    try:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(BREAK_COLUMNS)
        with grpc.insecure_channel(args.target) as channel:
            stub = reconciliation_pb2_grpc.ReconciliationServiceStub(channel)
            token = ""
            while True:
                page = stub.ListReconciliationBreaks(
                    pb.ListReconciliationBreaksRequest(
                        run_id=args.run_id, category=category, page_size=1000, page_token=token
                    ),
                    metadata=_metadata(args),
                )
                for item in page.breaks:
                    writer.writerow(_break_row(item))
                token = page.next_page_token
                if not token:
                    break
    finally:
        if args.output:
            out.close()
    return 0


def _break_row(item: Any) -> list[str]:
    from accrue.billing.v1 import reconciliation_pb2 as pb

    return [
        item.id,
        pb.BreakCategory.Name(item.category).removeprefix("BREAK_CATEGORY_"),
        str(item.line_number),
        item.reference,
        item.record_id,
        item.payout_id,
        item.expected.currency_code or item.actual.currency_code,
        str(item.expected.amount_minor) if item.HasField("expected") else "",
        str(item.actual.amount_minor) if item.HasField("actual") else "",
        item.detail,
        "true" if item.resolved else "false",
        item.resolved_by,
        item.resolve_time.ToDatetime(tzinfo=UTC).isoformat()
        if item.HasField("resolve_time")
        else "",
    ]


class _Progress:
    """A one-line progress bar on stderr: bytes sent, percentage, rate."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self._total = max(total, 1)
        self._sent = 0
        self._enabled = enabled
        self._started = time.monotonic()
        self._shown = 0.0

    def advance(self, count: int) -> None:
        self._sent += count
        now = time.monotonic()
        if self._enabled and (now - self._shown > 0.1 or self._sent >= self._total):
            self._shown = now
            self._draw("uploading")

    def uploaded(self) -> None:
        if self._enabled:
            self._draw("matching ")

    def done(self) -> None:
        if self._enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()

    def _draw(self, phase: str) -> None:
        share = min(self._sent / self._total, 1.0)
        filled = int(share * 30)
        rate = self._sent / max(time.monotonic() - self._started, 1e-6) / CHUNK_BYTES
        bar = "#" * filled + "-" * (30 - filled)
        sys.stderr.write(f"\r{phase} [{bar}] {share:6.1%}  {rate:6.1f} MiB/s")
        sys.stderr.flush()
