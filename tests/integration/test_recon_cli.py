"""`accrue recon import` and `accrue recon breaks` against `accrue serve`, all as processes.

The way an operator runs it: a server process, a tenant made with
`accrue tenant create`, a settlement report on disk. The tenant's payments
and refunds are seeded straight into the server's database (customers
through its API), then the CLI uploads the report and exports the breaks.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest

from accrue.billing.v1 import reconciliation_pb2 as rpb
from accrue.platform.db.engine import build_engine
from accrue.reconciliation.cli import BREAK_COLUMNS
from accrue.reconciliation.settlement import SettlementFormat
from tests.recon_seeding import create_payers, expectation, insert_records
from tests.reconciliation_files import build_report
from tests.reliability.processes import start_server
from tests.support import GrpcClients

pytestmark = pytest.mark.timeout(240)

# The generator's cut-off (2026-11-30T00:00:00Z), written without an offset:
# the CLI documents its cut-off as UTC, whatever the local time zone.
CUT_OFF = "2026-11-30T00:00:00"
# Far from UTC on that date, so reading the cut-off as local time would show.
LOCAL_ZONE = "America/New_York"


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "accrue.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture
def server_env(database_url: str) -> Iterator[tuple[dict[str, str], str]]:
    """The environment of `accrue` commands, and the address of a running server."""
    env = {
        **{k: v for k, v in os.environ.items() if k != "ACCRUE_API_KEY"},
        "ACCRUE_DATABASE_URL": database_url,
        "ACCRUE_LOG_LEVEL": "WARNING",
        "ACCRUE_SHUTDOWN_GRACE_SECONDS": "5",
        "TZ": LOCAL_ZONE,
    }
    process, port = start_server(env)
    try:
        yield env, f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def summary_of(stdout: str) -> dict[str, str]:
    """The summary table's rows: name -> value (category rows by category name)."""
    rows = {}
    for line in stdout.splitlines():
        match = re.fullmatch(r"\s*(\S.*?)\s{2,}(\S.*)", line)
        assert match, line
        rows[match.group(1)] = match.group(2)
    return rows


def count(text: str) -> int:
    return int(text.replace(",", ""))


def test_recon_cli_imports_a_report_and_exports_its_breaks(
    server_env: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    env, target = server_env
    created = cli("tenant", "create", "recon", env=env)
    assert created.returncode == 0, created.stderr
    tenant_id = re.search(r"tenant\s+(\S+)", created.stdout).group(1)  # type: ignore[union-attr]
    key = re.search(r"api key (\S+)", created.stdout).group(1)  # type: ignore[union-attr]

    report = build_report(seed=31, n=2_000, fmt=SettlementFormat.SIMULATED)
    want = expectation(report)
    clients = GrpcClients(target, key)
    try:
        payers = create_payers(clients, {r.currency_code for r in report.records.values()})
        engine = build_engine(env["ACCRUE_DATABASE_URL"])
        try:
            with engine.begin() as conn:
                insert_records(conn, tenant_id, payers, report.records.values())
        finally:
            engine.dispose()
        path = tmp_path / "settlement-2026-11-29.csv"
        path.write_bytes(report.data)
        client = ("--target", target, "--api-key", key)

        # Import: exit 0 and a summary of what was found.
        imported = cli(
            "recon", "import", str(path), "--format", "simulated", "--cut-off", CUT_OFF, *client,
            env=env,
        )  # fmt: skip
        assert imported.returncode == 0, imported.stderr
        summary = summary_of(imported.stdout)
        run_id = summary["run"]
        assert re.fullmatch(r"recon_[0-9A-Z]{26}", run_id)
        assert count(summary["lines"]) == report.line_count
        assert count(summary["matched"]) == want.matched_count
        assert count(summary["breaks"]) == len(report.expected)
        categories = {c.name for c, _, _ in report.expected}
        for category in categories:
            wanted = sum(1 for c, _, _ in report.expected if c.name == category)
            assert count(summary[category]) == wanted, category
        assert "uploading" in imported.stderr  # the progress bar

        run = clients.reconciliation.GetReconciliationRun(
            rpb.GetReconciliationRunRequest(id=run_id), metadata=clients.metadata, timeout=30
        )
        assert (run.line_count, run.matched_count, run.break_count) == (
            report.line_count,
            want.matched_count,
            len(report.expected),
        )
        assert run.file_name == path.name
        assert run.cut_off_time.ToDatetime(tzinfo=UTC) == report.cut_off

        # The same file again is the same run.
        again = cli("recon", "import", str(path), "--cut-off", CUT_OFF, "--quiet", *client, env=env)
        assert again.returncode == 0, again.stderr
        assert summary_of(again.stdout) == summary
        assert again.stderr == ""

        # Breaks export: the expected rows, byte-identical every time.
        exports = []
        for name in ("breaks.csv", "breaks-again.csv"):
            out = tmp_path / name
            exported = cli("recon", "breaks", run_id, "--output", str(out), *client, env=env)
            assert exported.returncode == 0, exported.stderr
            exports.append(out.read_bytes())
        assert exports[0] == exports[1]
        rows = list(csv.reader(io.StringIO(exports[0].decode(), newline="")))
        assert tuple(rows[0]) == BREAK_COLUMNS
        assert len(rows) == len(report.expected) + 1
        column = {name: i for i, name in enumerate(BREAK_COLUMNS)}
        assert {
            (row[column["category"]], int(row[column["line_number"]]), row[column["reference"]])
            for row in rows[1:]
        } == {(c.name, line, reference) for c, line, reference in report.expected}
        assert {row[column["resolved"]] for row in rows[1:]} == {"false"}

        # To stdout, one category only.
        amounts = cli("recon", "breaks", run_id, "--category", "amount_mismatch", *client, env=env)
        assert amounts.returncode == 0, amounts.stderr
        only = list(csv.reader(io.StringIO(amounts.stdout, newline="")))
        assert only[0] == rows[0]
        assert only[1:] == [row for row in rows[1:] if row[column["category"]] == "AMOUNT_MISMATCH"]
        assert len(only) > 1

        # A malformed report: a non-zero exit naming the line, and no new run.
        lines = report.data.split(b"\n")
        fields = lines[6].split(b",")
        fields[SettlementFormat.SIMULATED.header.index("gross")] = b"12.3.4"
        lines[6] = b",".join(fields)
        broken = tmp_path / "broken.csv"
        broken.write_bytes(b"\n".join(lines))
        failed = cli(
            "recon", "import", str(broken), "--cut-off", CUT_OFF, "--quiet", *client, env=env
        )
        assert failed.returncode != 0
        assert "lines[7].gross" in failed.stderr, failed.stderr
        assert "INVALID_ARGUMENT" in failed.stderr, failed.stderr
        assert failed.stdout == ""
        runs = clients.reconciliation.ListReconciliationRuns(
            rpb.ListReconciliationRunsRequest(), metadata=clients.metadata, timeout=30
        ).runs
        assert [r.id for r in runs] == [run_id]

        # A cut-off that is not a time: a usage error.
        bad_time = cli("recon", "import", str(path), "--cut-off", "yesterday", *client, env=env)
        assert bad_time.returncode == 2
        assert "not an ISO 8601 time" in bad_time.stderr

        # No API key: refused before anything is sent.
        keyless = cli("recon", "breaks", run_id, "--target", target, env=env)
        assert keyless.returncode != 0
        assert "API key" in keyless.stderr
    finally:
        clients.close()
