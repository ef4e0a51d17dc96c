"""Reconciliation runs and their breaks; settlement marks on payments and refunds.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from accrue.platform.db.tables import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reconciliation_runs",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("psp", sa.String(length=64), nullable=False),
        sa.Column("format", sa.String(length=32), nullable=False),
        sa.Column("file_name", sa.String(length=256), nullable=False),
        sa.Column("report_sha256", sa.CHAR(length=64), nullable=False),
        sa.Column("cut_off_time", UtcDateTime(), nullable=False),
        sa.Column("line_count", sa.BigInteger(), nullable=False),
        sa.Column("matched_count", sa.BigInteger(), nullable=False),
        sa.Column("break_count", sa.BigInteger(), nullable=False),
        sa.Column("breaks_by_category", sa.JSON(), nullable=False),
        sa.Column("totals", sa.JSON(), nullable=False),
        sa.Column("payout_count", sa.BigInteger(), nullable=False),
        sa.Column("payouts_tied_out", sa.BigInteger(), nullable=False),
        sa.Column("ledger_transaction_count", sa.BigInteger(), nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_reconciliation_runs_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_reconciliation_runs")),
        sa.UniqueConstraint(
            "tenant_id",
            "psp",
            "report_sha256",
            name=op.f("uq_reconciliation_runs_tenant_id_psp_report_sha256"),
        ),
    )
    op.create_table(
        "reconciliation_breaks",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("line_number", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("payout_id", sa.String(length=128), nullable=False),
        sa.Column("currency_code", sa.String(length=3), nullable=False),
        sa.Column("expected_minor", sa.BigInteger(), nullable=True),
        sa.Column("actual_minor", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("resolution_note", sa.Text(), nullable=False),
        sa.Column("resolved_by", sa.String(length=64), nullable=False),
        sa.Column("resolve_time", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "run_id"],
            ["reconciliation_runs.tenant_id", "reconciliation_runs.id"],
            name=op.f("fk_reconciliation_breaks_tenant_id_run_id_reconciliation_runs"),
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "run_id", "seq", name=op.f("pk_reconciliation_breaks")
        ),
    )
    op.create_index(
        "ix_reconciliation_breaks_tenant_id_run_id_category",
        "reconciliation_breaks",
        ["tenant_id", "run_id", "category"],
        unique=False,
    )
    op.add_column("payments", sa.Column("settlement_run_id", sa.String(length=40), nullable=True))
    op.add_column("refunds", sa.Column("settlement_run_id", sa.String(length=40), nullable=True))


def downgrade() -> None:

    op.drop_column("refunds", "settlement_run_id")
    op.drop_column("payments", "settlement_run_id")
    op.drop_index(
        "ix_reconciliation_breaks_tenant_id_run_id_category", table_name="reconciliation_breaks"
    )
    op.drop_table("reconciliation_breaks")
    op.drop_table("reconciliation_runs")
