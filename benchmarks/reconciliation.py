"""Reconciliation throughput: N settlement lines matched against the payments they settle,
ledger postings included, next to the notebook approach (pandas) on the same data.

See benchmarks/README.md (reconciliation.py) for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/reconciliation_files.py builds the reports

from harness import postgres_database, process_cpu  # noqa: E402
from sqlalchemy import event, insert  # noqa: E402

from accrue import schema as t  # noqa: E402
from accrue.bootstrap import build_application  # noqa: E402
from accrue.config import Settings  # noqa: E402
from accrue.customers.mapping import customer_row  # noqa: E402
from accrue.customers.model import Customer  # noqa: E402
from accrue.kernel.lifecycle import LifecycleState  # noqa: E402
from accrue.reconciliation.settlement import LineKind, SettlementFormat  # noqa: E402

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
GOAL_LINES, GOAL_SECONDS, GOAL_RSS_MIB = 1_000_000, 60.0, 1024
SEED_BATCH = 5000
PSP = "simulated"


# --- the parent: data, seeding, the three measured children ----------------------------


def seed_database(database_url: str, report: Any) -> str:
    """The report's internal records as payment and refund rows; returns the tenant id."""
    app = build_application(Settings(database_url=database_url, log_level="WARNING"))
    try:
        tenant_id = app.tenants.create_tenant("recon-bench").tenant.id
        now = datetime.now(UTC)
        currencies = sorted({r.currency_code for r in report.records.values()})
        customers = {c: f"cus_bench_{c.lower()}" for c in currencies}
        with app.engine.begin() as conn:
            conn.execute(
                insert(t.customers),
                [customer_row(_customer(tenant_id, cid, c, now)) for c, cid in customers.items()],
            )
            # Refunds hang off one parent payment per currency, settled long ago.
            conn.execute(
                insert(t.payments),
                [
                    _payment_row(tenant_id, f"pay_parent_{c.lower()}", cid, c, now, settled=True)
                    for c, cid in customers.items()
                ],
            )
        rows: dict[str, list[dict[str, Any]]] = {"payments": [], "refunds": []}
        for record in report.records.values():
            customer = customers[record.currency_code]
            if record.kind is LineKind.CHARGE:
                rows["payments"].append(_record_payment(tenant_id, customer, record))
            else:
                rows["refunds"].append(_record_refund(tenant_id, customer, record))
            if len(rows["payments"]) + len(rows["refunds"]) >= SEED_BATCH:
                _flush(app.engine, rows)
        _flush(app.engine, rows)
        if app.engine.dialect.name == "postgresql":
            with app.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
        return str(tenant_id)
    finally:
        app.close()


def _flush(engine: Any, rows: dict[str, list[dict[str, Any]]]) -> None:
    with engine.begin() as conn:
        for name in ("payments", "refunds"):
            if rows[name]:
                conn.execute(insert(getattr(t, name)), rows[name])
                rows[name].clear()


def _customer(tenant_id: str, customer_id: str, currency: str, now: datetime) -> Customer:
    return Customer(
        id=customer_id,
        tenant_id=tenant_id,
        display_name=f"Bench {currency}",
        email="",
        currency_code=currency,
        billing_address=None,
        tax_location=None,
        time_zone="UTC",
        metadata={},
        payment_methods=(),
        default_payment_method_id="",
        state=LifecycleState.ACTIVE,
        create_time=now,
        update_time=now,
    )


def _payment_row(
    tenant_id: str, payment_id: str, customer_id: str, currency: str, at: datetime, *, settled: bool
) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "id": payment_id,
        "customer_id": customer_id,
        "invoice_id": None,
        "amount_minor": 10**9,
        "currency_code": currency,
        "status": "succeeded",
        "payment_method_id": "pm_bench",
        "psp": PSP,
        "psp_idempotency_key": f"accrue_{payment_id}",
        "psp_charge_id": None,
        "failure_code": "",
        "fee_minor": 0,
        "amount_refunded_minor": 0,
        "refund_reserved_minor": 0,
        "psp_request_count": 1,
        "description": "",
        "metadata": {},
        "request_id": payment_id,
        "request_fingerprint": "",
        "ledger_transaction_id": None,
        "next_inquiry_time": None,
        "collection_attempt": 0,
        "settlement_run_id": "recon_earlier" if settled else None,
        "create_time": at,
        "update_time": at,
        "version": 1,
    }


def _record_payment(tenant_id: str, customer_id: str, record: Any) -> dict[str, Any]:
    row = _payment_row(
        tenant_id,
        record.record_id,
        customer_id,
        record.currency_code,
        record.create_time,
        settled=record.settled,
    )
    row.update(
        amount_minor=record.amount_minor,
        status=record.status,
        psp_idempotency_key=record.reference,
    )
    return row


def _record_refund(tenant_id: str, customer_id: str, record: Any) -> dict[str, Any]:
    del customer_id
    return {
        "tenant_id": tenant_id,
        "id": record.record_id,
        "payment_id": f"pay_parent_{record.currency_code.lower()}",
        "customer_id": f"cus_bench_{record.currency_code.lower()}",
        "amount_minor": record.amount_minor,
        "currency_code": record.currency_code,
        "status": record.status,
        "reason": "",
        "psp_idempotency_key": record.reference,
        "psp_refund_id": None,
        "failure_code": "",
        "request_id": record.record_id,
        "request_fingerprint": "",
        "ledger_transaction_id": None,
        "next_inquiry_time": None,
        "settlement_run_id": "recon_earlier" if record.settled else None,
        "create_time": record.create_time,
        "update_time": record.create_time,
        "version": 1,
    }


def child(phase: str, database_url: str, tenant_id: str, path: str, cut_off: str) -> dict[str, Any]:
    """Run one measured phase in a fresh process, so its peak RSS is its own."""
    completed = subprocess.run(
        [sys.executable, __file__, "--child", phase, database_url, tenant_id, path, cut_off],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{phase} failed:\n{completed.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


# --- the children ---------------------------------------------------------------------


def _chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as report:
        while chunk := report.read(1 << 20):
            yield chunk


def _peak_rss_mib() -> float:
    """This process's own high-water mark (VmHWM). Not ru_maxrss: Linux carries that
    over from the parent through fork and exec, so a child would report the parent's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _machine_jiffies() -> tuple[int, int, int]:
    """(busy, idle, iowait) CPU time of the whole machine, all cores, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    return user + nice + system + irq + softirq + steal, idle, iowait


class CpuMeter:
    """Where the wall time went: this process's CPU, that of the PostgreSQL backends
    serving `engine` (same machine: /proc), and how busy the machine was (every
    process, the other users of the machine included)."""

    def __init__(self, engine: Any = None) -> None:
        self._backends: dict[int, float] = {}
        self._frozen: float | None = None
        if engine is not None:
            self.watch(engine)
        self._wall = time.perf_counter()
        self._own = _own_cpu()
        self._machine = _machine_jiffies()

    def watch(self, engine: Any) -> None:
        """Count the CPU of the backends of the connections `engine` checks out."""
        if engine.dialect.name == "postgresql":
            event.listen(engine, "checkout", self._checkout)

    def _checkout(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        pid = dbapi_connection.info.backend_pid
        if pid not in self._backends:
            self._backends[pid] = process_cpu(pid)

    def freeze_database(self) -> None:
        """Take the backends' CPU now (before their connections are closed)."""
        self._frozen = self._database_cpu()

    def _database_cpu(self) -> float:
        return sum(process_cpu(pid) - start for pid, start in self._backends.items())

    def read(self) -> dict[str, float]:
        wall = time.perf_counter() - self._wall
        busy, idle, iowait = (b - a for a, b in zip(self._machine, _machine_jiffies(), strict=True))
        total = max(busy + idle + iowait, 1)
        return {
            "own_cpu_seconds": _own_cpu() - self._own,
            "database_cpu_seconds": self._frozen
            if self._frozen is not None
            else self._database_cpu(),
            "wall_seconds": wall,
            "machine_busy": busy / total,
            "machine_iowait": iowait / total,
            "cores": float(os.cpu_count() or 1),
        }


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cpu_line(cpu: dict[str, float]) -> str:
    share = cpu["own_cpu_seconds"] / max(cpu["wall_seconds"], 1e-9)
    database = cpu.get("database_cpu_seconds", 0.0)
    return (
        f"this process {cpu['own_cpu_seconds']:.1f} s CPU in {cpu['wall_seconds']:.1f} s"
        f" ({share:.0%} of one core), its PostgreSQL backends {database:.1f} s CPU;"
        f" machine {cpu['machine_busy']:.0%} busy over {cpu['cores']:.0f} cores,"
        f" {cpu['machine_iowait']:.0%} iowait"
    )


def run_import(database_url: str, tenant_id: str, path: str, cut_off: datetime) -> dict[str, Any]:
    """The real thing: ReconciliationService.import_report, postings and breaks included."""
    from accrue.reconciliation.service import ReportHeader

    app = build_application(Settings(database_url=database_url, log_level="WARNING"))
    service = app.reconciliation
    header = ReportHeader(SettlementFormat.SIMULATED, PSP, cut_off, Path(path).name)
    meter = CpuMeter(app.engine)
    started = time.perf_counter()
    run = service.import_report(tenant_id, header, _chunks(path))
    seconds = time.perf_counter() - started
    cpu = meter.read()
    again = time.perf_counter()
    rerun = service.import_report(tenant_id, header, _chunks(path))
    reimport = time.perf_counter() - again
    app.close()
    return {
        "seconds": seconds,
        "lines": run.line_count,
        "matched": run.matched_count,
        "breaks": run.break_count,
        "postings": run.ledger_transaction_count,
        "payouts": run.payout_count,
        "payouts_tied_out": run.payouts_tied_out,
        "reimport_same_run": rerun.id == run.id,
        "reimport_seconds": reimport,
        "rss_mib": _peak_rss_mib(),
        "cpu": cpu,
    }


def run_matching(database_url: str, tenant_id: str, path: str, cut_off: datetime) -> dict[str, Any]:
    """Matching and classification alone, as the import does them: parse, load the
    referenced records, classify, then the records the report never mentioned."""
    from accrue.reconciliation.matching import FeeSchedule, Reconciler
    from accrue.reconciliation.settlement import parse_settlement_rows

    app = build_application(Settings(database_url=database_url, log_level="WARNING"))
    reconciler = Reconciler(fee_schedule=FeeSchedule(), cut_off=cut_off, payout_rows=False)
    meter = CpuMeter(app.engine)
    started = time.perf_counter()
    breaks = 0
    with app.uow_factory(write=False) as uow:
        repository = uow.reconciliation
        batches = parse_settlement_rows(_chunks(path), SettlementFormat.SIMULATED, SEED_BATCH)
        for _, _, result in repository.classify_ahead(
            tenant_id, PSP, batches, reconciler.row_references, reconciler.feed_rows
        ):
            breaks += len(result.breaks)
        unseen = repository.unsettled_record_rows(
            tenant_id, PSP, cut_off=cut_off, skip=reconciler.seen_references()
        )
        breaks += len(reconciler.finish_rows(unseen))
    seconds = time.perf_counter() - started
    cpu = meter.read()
    app.close()
    return {"seconds": seconds, "breaks": breaks, "rss_mib": _peak_rss_mib(), "cpu": cpu}


def run_pandas(database_url: str, tenant_id: str, path: str, cut_off: datetime) -> dict[str, Any]:
    """The notebook a finance engineer would write: read, read_sql, merge, classify."""
    import numpy as np
    import pandas as pd
    from sqlalchemy import create_engine

    from accrue.kernel.money import CURRENCY_EXPONENTS

    meter = CpuMeter()
    started = time.perf_counter()
    report = pd.read_csv(path, dtype={"psp_id": str, "reference": str, "payout_id": str})
    engine = create_engine(database_url)
    meter.watch(engine)
    with engine.connect() as conn:
        ours = pd.concat(
            [
                pd.read_sql(
                    "SELECT psp_idempotency_key AS reference, amount_minor, currency_code,"
                    " status, create_time, settlement_run_id FROM payments WHERE tenant_id = %(t)s"
                    if engine.dialect.name == "postgresql"
                    else "SELECT psp_idempotency_key AS reference, amount_minor, currency_code,"
                    " status, create_time, settlement_run_id FROM payments WHERE tenant_id = :t",
                    conn,
                    params={"t": tenant_id},
                ).assign(kind="charge"),
                pd.read_sql(
                    "SELECT psp_idempotency_key AS reference, amount_minor, currency_code,"
                    " status, create_time, settlement_run_id FROM refunds WHERE tenant_id = %(t)s"
                    if engine.dialect.name == "postgresql"
                    else "SELECT psp_idempotency_key AS reference, amount_minor, currency_code,"
                    " status, create_time, settlement_run_id FROM refunds WHERE tenant_id = :t",
                    conn,
                    params={"t": tenant_id},
                ).assign(kind="refund"),
            ]
        )
    meter.freeze_database()
    engine.dispose()
    scale = report["currency"].map(lambda c: 10 ** CURRENCY_EXPONENTS[c])
    report["gross_minor"] = (report["gross"] * scale).round().astype("int64")
    report["fee_minor"] = (report["fee"] * scale).round().astype("int64")
    merged = report.merge(ours, on="reference", how="outer", indicator=True)
    category = pd.Series("", index=merged.index, dtype=object)
    both = merged["_merge"] == "both"
    category[merged["_merge"] == "left_only"] = "MISSING_INTERNALLY"
    unseen = (merged["_merge"] == "right_only") & merged["settlement_run_id"].isna()
    created = pd.to_datetime(merged["create_time"], utc=True)
    category[unseen & (created <= cut_off) & (merged["status"] == "succeeded")] = "MISSING_AT_PSP"
    category[unseen & (created <= cut_off) & merged["status"].isin(["processing", "unknown"])] = (
        "PENDING_AT_CUTOFF"
    )
    category[both & (merged["status"] == "failed")] = "STATUS_MISMATCH"
    category[both & (merged["currency"] != merged["currency_code"])] = "CURRENCY_MISMATCH"
    signed = np.where(merged["kind"] == "refund", -merged["amount_minor"], merged["amount_minor"])
    category[both & (category == "") & (merged["gross_minor"] != signed)] = "AMOUNT_MISMATCH"
    expected_fee = np.where(
        merged["kind"] == "charge",
        (merged["amount_minor"].fillna(0) * 290 + 5000) // 10000
        + np.where(merged["currency_code"].map(CURRENCY_EXPONENTS) == 2, 30, 0),
        0,
    )
    category[both & (category == "") & (merged["fee_minor"] != expected_fee)] = "FEE_MISMATCH"
    duplicated = merged["reference"].duplicated(keep="first") & merged["_merge"].ne("right_only")
    category[duplicated] = "DUPLICATE"
    category[both & merged["settlement_run_id"].notna()] = "DUPLICATE"
    breaks = int((category != "").sum())
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "breaks": breaks, "rss_mib": _peak_rss_mib(), "cpu": meter.read()}


# --- main -------------------------------------------------------------------------------


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        phase, database_url, tenant_id, path, cut_off = sys.argv[2:7]
        when = datetime.fromisoformat(cut_off)
        run = {"import": run_import, "matching": run_matching, "pandas": run_pandas}[phase]
        print(json.dumps(run(database_url, tenant_id, path, when)))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=GOAL_LINES, help="settlement lines")
    parser.add_argument("--quick", action="store_true", help="CI smoke: 20,000 lines on SQLite")
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    args = parser.parse_args()
    lines = 20_000 if args.quick else args.lines
    from tests.reconciliation_files import build_report

    started = time.perf_counter()
    report = build_report(seed=7, n=lines, fmt=SettlementFormat.SIMULATED)
    print(
        f"setup: {report.line_count:,} lines ({len(report.data) / 2**20:.0f} MiB),"
        f" {len(report.records):,} internal records, {len(report.expected)} injected breaks,"
        f" built in {time.perf_counter() - started:.1f} s; load {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as work:
        path = str(Path(work) / "settlement.csv")
        Path(path).write_bytes(report.data)
        cut_off = report.cut_off.isoformat()
        if args.quick or args.sqlite:
            _measure(f"sqlite:///{work}/recon.db", report, path, cut_off, "SQLite")
        else:
            admin = os.environ.get("ACCRUE_BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL)
            with postgres_database(admin) as url:
                if url is not None:
                    _measure(url, report, path, cut_off, "PostgreSQL")
    return 0


def _measure(database_url: str, report: Any, path: str, cut_off: str, name: str) -> None:
    started = time.perf_counter()
    tenant_id = seed_database(database_url, report)
    print(f"  {name}: seeded in {time.perf_counter() - started:.1f} s", flush=True)
    matching = child("matching", database_url, tenant_id, path, cut_off)
    baseline = child("pandas", database_url, tenant_id, path, cut_off)
    full = child("import", database_url, tenant_id, path, cut_off)
    expected = len(report.expected)
    rate = full["lines"] / full["seconds"]
    print(
        f"  {name}: import end to end {full['seconds']:.1f} s = {rate:,.0f} lines/s,"
        f" peak RSS {full['rss_mib']:.0f} MiB; {full['matched']:,} matched,"
        f" {full['breaks']} breaks (injected {expected}), {full['postings']} ledger postings"
    )
    print(
        f"  {name}: re-import {full['reimport_seconds']:.1f} s, same run:"
        f" {full['reimport_same_run']}; payouts tied out {full['payouts_tied_out']}"
        f" of {full['payouts']}"
    )
    ratio = matching["seconds"] / baseline["seconds"]
    print(
        f"  {name}: matching + classification {matching['seconds']:.1f} s"
        f" (RSS {matching['rss_mib']:.0f} MiB) vs pandas {baseline['seconds']:.1f} s"
        f" (RSS {baseline['rss_mib']:.0f} MiB, {baseline['breaks']} breaks): ratio {ratio:.2f}"
    )
    if full["lines"] >= GOAL_LINES:
        met = full["seconds"] <= GOAL_SECONDS and full["rss_mib"] <= GOAL_RSS_MIB and ratio <= 1
        print(
            f"  goal (<= {GOAL_SECONDS:.0f} s, <= {GOAL_RSS_MIB} MiB, matching <= pandas):"
            f" {'MET' if met else 'NOT MET'}"
        )
    for phase, measured in (("import", full), ("matching", matching), ("pandas", baseline)):
        print(f"  {name}: {phase} CPU: {_cpu_line(measured['cpu'])}")
    print(f"  load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if full["breaks"] != expected or not full["reimport_same_run"]:
        raise SystemExit("reconciliation did not find exactly the injected breaks")
    payouts = len(set(report.payouts) | report.broken_payouts)
    tied_out = payouts - len(report.broken_payouts)
    if (full["payouts"], full["payouts_tied_out"]) != (payouts, tied_out):
        raise SystemExit(f"payouts: expected {tied_out} of {payouts} tied out")


if __name__ == "__main__":
    sys.exit(main())
