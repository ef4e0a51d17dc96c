"""The import fetching the next batch's records while it classifies this one
(`classify_ahead`) gives exactly what fetching each batch after the previous
batch's writes gives: the same breaks, sentences, totals and settlement marks,
on SQLite and PostgreSQL, with small batches so that repeated references fall
in different batches (a repeat of a reference matched in the batch before is
the case the look-ahead has to make up for)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from accrue import schema as t
from accrue.bootstrap import build_application
from accrue.config import Settings
from accrue.customers.mapping import customer_row
from accrue.customers.model import Customer
from accrue.kernel.lifecycle import LifecycleState
from accrue.reconciliation.matching import RecordRow
from accrue.reconciliation.repository import SqlReconciliationRepository
from accrue.reconciliation.service import ReportHeader
from accrue.reconciliation.settlement import SettlementFormat
from tests.recon_seeding import PSP, Payer, insert_records
from tests.reconciliation_files import GeneratedReport, build_report
from tests.support import fresh_postgres_database

pytestmark = pytest.mark.timeout(300)


def _one_batch_at_a_time(
    self: SqlReconciliationRepository,
    tenant_id: str,
    psp: str,
    batches: Iterable[Any],
    references: Callable[[Any], Iterable[str]],
    classify: Callable[[Any, dict[str, RecordRow]], Any],
) -> Iterator[tuple[Any, dict[str, RecordRow], Any]]:
    """The plain loop: each batch's records read after the previous batch's writes."""
    for batch in batches:
        records = self.record_rows(tenant_id, psp, list(references(batch)))
        yield batch, records, classify(batch, records)


@contextmanager
def _second_database(first: str, tmp_path: Path) -> Iterator[str]:
    if first.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'second.db'}"
        return
    with fresh_postgres_database() as url:
        yield url


def _with_a_repeat(report: GeneratedReport) -> bytes:
    """The report with its first clean line repeated on the line after it: with one
    line per batch, a reference matched (and marked) in the batch just before."""
    lines = report.data.split(b"\n")
    broken = {line for _, line, _ in report.expected}
    clean = next(n for n in range(2, len(lines) + 1) if n not in broken)
    return b"\n".join([*lines[:clean], lines[clean - 1], *lines[clean:]])


def _import(url: str, report: GeneratedReport, data: bytes, batch_size: int) -> dict[str, Any]:
    app = build_application(Settings(database_url=url, log_level="WARNING"))
    try:
        tenant_id = app.tenants.create_tenant("lookahead").tenant.id
        now = datetime.now(UTC)
        payers = {}
        with app.engine.begin() as conn:
            for currency in sorted({r.currency_code for r in report.records.values()}):
                customer_id = f"cus_{currency.lower()}"
                conn.execute(
                    insert(t.customers),
                    [customer_row(_customer(tenant_id, customer_id, currency, now))],
                )
                code = currency.lower()
                payers[currency] = Payer(customer_id, f"pm_{code}", f"pay_parent_{code}")
            insert_records(conn, tenant_id, payers, report.records.values())
        app.reconciliation._batch_size = batch_size
        header = ReportHeader(SettlementFormat.SIMULATED, PSP, report.cut_off, "report.csv")
        run = app.reconciliation.import_report(tenant_id, header, [data])
        with app.uow_factory(write=True) as uow:  # a streamed read needs a transaction
            breaks = [(b.seq, b.found) for b in uow.reconciliation.iter_breaks(tenant_id, run.id)]
        with app.engine.connect() as conn:
            marks = sorted(conn.execute(select(t.settlement_marks.c.record_id)).scalars())
        summary = {
            name: getattr(run, name)
            for name in ("line_count", "matched_count", "break_count", "breaks_by_category")
        }
        return {"run": summary, "totals": run.totals, "breaks": breaks, "marks": marks}
    finally:
        app.close()


def _customer(tenant_id: str, customer_id: str, currency: str, now: datetime) -> Customer:
    return Customer(
        id=customer_id,
        tenant_id=tenant_id,
        display_name=f"Payer {currency}",
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


@pytest.mark.parametrize(("seed", "batch_size"), [(11, 1), (12, 7), (13, 64)])
def test_fetching_ahead_gives_what_fetching_after_each_batch_gives(
    database_url: str, tmp_path: Path, seed: int, batch_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = build_report(seed=seed, n=400, fmt=SettlementFormat.SIMULATED)
    data = _with_a_repeat(report)
    ahead = _import(database_url, report, data, batch_size)
    monkeypatch.setattr(SqlReconciliationRepository, "classify_ahead", _one_batch_at_a_time)
    with _second_database(database_url, tmp_path) as other:
        plain = _import(other, report, data, batch_size)
    assert ahead["breaks"], "the report has breaks to compare"
    assert ahead == plain
