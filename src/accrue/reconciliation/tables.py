"""Reconciliation runs, their breaks, and settlement marks.

On the platform's one metadata; `accrue.schema` gathers every area's tables.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import CHAR

from accrue.platform.db.tables import ID, UtcDateTime, metadata

# One import of a settlement report. The same bytes (per tenant and PSP) are
# one run: a re-import finds it by digest and changes nothing.
reconciliation_runs = Table(
    "reconciliation_runs",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("psp", String(64), nullable=False),
    Column("format", String(32), nullable=False),
    Column("file_name", String(256), nullable=False),
    Column("report_sha256", CHAR(64), nullable=False),
    Column("cut_off_time", UtcDateTime(), nullable=False),
    Column("line_count", BigInteger, nullable=False),
    Column("matched_count", BigInteger, nullable=False),
    Column("break_count", BigInteger, nullable=False),
    Column("breaks_by_category", JSON, nullable=False),
    Column("totals", JSON, nullable=False),
    Column("payout_count", BigInteger, nullable=False),
    Column("payouts_tied_out", BigInteger, nullable=False),
    Column("ledger_transaction_count", BigInteger, nullable=False),
    Column("create_time", UtcDateTime(), nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    UniqueConstraint("tenant_id", "psp", "report_sha256"),
)

reconciliation_breaks = Table(
    "reconciliation_breaks",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("run_id", ID, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("category", String(32), nullable=False),
    Column("line_number", BigInteger, nullable=False),
    Column("reference", String(128), nullable=False),
    Column("record_id", String(64), nullable=False),
    Column("payout_id", String(128), nullable=False),
    Column("currency_code", String(3), nullable=False),
    Column("expected_minor", BigInteger, nullable=True),
    Column("actual_minor", BigInteger, nullable=True),
    Column("detail", Text, nullable=False),
    Column("resolved", Boolean, nullable=False),
    Column("resolution_note", Text, nullable=False),
    Column("resolved_by", String(64), nullable=False),
    Column("resolve_time", UtcDateTime(), nullable=True),
    ForeignKeyConstraint(
        ["tenant_id", "run_id"], ["reconciliation_runs.tenant_id", "reconciliation_runs.id"]
    ),
    Index("ix_reconciliation_breaks_tenant_id_run_id_category", "tenant_id", "run_id", "category"),
)

# The reconciliation run that settled a payment or refund (ids are unique across
# both): written once per record by an import, never updated, so settling a
# million records is a bulk insert rather than a million row rewrites. A record
# is settled when it has a mark or (settled before marks existed) a
# `settlement_run_id`.
settlement_marks = Table(
    "settlement_marks",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("record_id", ID, primary_key=True),
    Column("run_id", ID, nullable=False),
)
