"""Test clocks, subscriptions, invoices and their lines, credit notes, document counters.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from accrue.platform.db.tables import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The real-time scheduler's partial index covers only rows it can claim.
_DUE_ON_REAL_TIME = "test_clock_id IS NULL AND next_action_time IS NOT NULL"


def upgrade() -> None:
    # A plain ADD COLUMN (no batch copy of the table): SQLite can do it in place.
    op.add_column("customers", sa.Column("test_clock_id", sa.String(length=40), nullable=True))
    op.create_table(
        "document_counters",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("series", sa.String(length=32), nullable=False),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_document_counters_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "series", name=op.f("pk_document_counters")),
    )
    op.create_table(
        "test_clocks",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("display_name", sa.String(length=256), nullable=False),
        sa.Column("frozen_time", UtcDateTime(), nullable=False),
        sa.Column("work_items_run", sa.BigInteger(), nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.Column("update_time", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_test_clocks_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_test_clocks")),
    )
    op.create_table(
        "invoices",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=True),
        sa.Column("test_clock_id", sa.String(length=40), nullable=True),
        sa.Column("number", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("billing_reason", sa.String(length=32), nullable=False),
        sa.Column("currency_code", sa.CHAR(length=3), nullable=False),
        sa.Column("subtotal_minor", sa.BigInteger(), nullable=False),
        sa.Column("tax_minor", sa.BigInteger(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("credit_applied_minor", sa.BigInteger(), nullable=False),
        sa.Column("credited_minor", sa.BigInteger(), nullable=False),
        sa.Column("credited_to_due_minor", sa.BigInteger(), nullable=False),
        sa.Column("amount_paid_minor", sa.BigInteger(), nullable=False),
        sa.Column("amount_due_minor", sa.BigInteger(), nullable=False),
        sa.Column("period_start", UtcDateTime(), nullable=True),
        sa.Column("period_end", UtcDateTime(), nullable=True),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.Column("finalize_time", UtcDateTime(), nullable=True),
        sa.Column("close_time", UtcDateTime(), nullable=True),
        sa.Column("ledger_transaction_id", sa.String(length=40), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["customers.tenant_id", "customers.id"],
            name=op.f("fk_invoices_tenant_id_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "test_clock_id"],
            ["test_clocks.tenant_id", "test_clocks.id"],
            name=op.f("fk_invoices_tenant_id_test_clock_id_test_clocks"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("tenant_id", "number", name=op.f("uq_invoices_tenant_id_number")),
    )
    op.create_index(
        "ix_invoices_tenant_id_customer_id", "invoices", ["tenant_id", "customer_id"], unique=False
    )
    op.create_index(
        "ix_invoices_tenant_id_subscription_id",
        "invoices",
        ["tenant_id", "subscription_id"],
        unique=False,
    )
    op.create_table(
        "subscriptions",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("test_clock_id", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("currency_code", sa.CHAR(length=3), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("anchor", sa.JSON(), nullable=False),
        sa.Column("interval_unit", sa.String(length=8), nullable=False),
        sa.Column("interval_count", sa.Integer(), nullable=False),
        sa.Column("period_start", UtcDateTime(), nullable=False),
        sa.Column("period_end", UtcDateTime(), nullable=False),
        sa.Column("trial_end", UtcDateTime(), nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("canceled_at", UtcDateTime(), nullable=True),
        sa.Column("pause_start", UtcDateTime(), nullable=True),
        sa.Column("pause_resume_at", UtcDateTime(), nullable=True),
        sa.Column("pending_lines", sa.JSON(), nullable=False),
        sa.Column("latest_invoice_id", sa.String(length=40), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.Column("update_time", UtcDateTime(), nullable=True),
        sa.Column("next_action_time", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["customers.tenant_id", "customers.id"],
            name=op.f("fk_subscriptions_tenant_id_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "test_clock_id"],
            ["test_clocks.tenant_id", "test_clocks.id"],
            name=op.f("fk_subscriptions_tenant_id_test_clock_id_test_clocks"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_subscriptions")),
    )
    op.create_index(
        "ix_subscriptions_next_action_time_tenant_id_id",
        "subscriptions",
        ["next_action_time", "tenant_id", "id"],
        unique=False,
        postgresql_where=sa.text(_DUE_ON_REAL_TIME),
        sqlite_where=sa.text(_DUE_ON_REAL_TIME),
    )
    op.create_index(
        "ix_subscriptions_tenant_id_customer_id",
        "subscriptions",
        ["tenant_id", "customer_id"],
        unique=False,
    )
    op.create_index(
        "ix_subscriptions_tenant_id_test_clock_id_next_action_time_id",
        "subscriptions",
        ["tenant_id", "test_clock_id", "next_action_time", "id"],
        unique=False,
    )
    op.create_table(
        "credit_notes",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("invoice_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("currency_code", sa.CHAR(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("tax_minor", sa.BigInteger(), nullable=False),
        sa.Column("applied_to_invoice_minor", sa.BigInteger(), nullable=False),
        sa.Column("credit_balance_added_minor", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.Column("ledger_transaction_id", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_id"],
            ["invoices.tenant_id", "invoices.id"],
            name=op.f("fk_credit_notes_tenant_id_invoice_id_invoices"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_credit_notes")),
        sa.UniqueConstraint("tenant_id", "number", name=op.f("uq_credit_notes_tenant_id_number")),
    )
    op.create_index(
        "ix_credit_notes_tenant_id_invoice_id",
        "credit_notes",
        ["tenant_id", "invoice_id"],
        unique=False,
    )
    op.create_table(
        "invoice_lines",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("invoice_id", sa.String(length=40), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("price_id", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("unit_amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("tax_behavior", sa.String(length=16), nullable=False),
        sa.Column("net_minor", sa.BigInteger(), nullable=False),
        sa.Column("tax_minor", sa.BigInteger(), nullable=False),
        sa.Column("tax_jurisdiction", sa.Text(), nullable=True),
        sa.Column("tax_name", sa.Text(), nullable=True),
        sa.Column("tax_rate", sa.Text(), nullable=True),
        sa.Column("unrounded_tax", sa.Text(), nullable=False),
        sa.Column("period_start", UtcDateTime(), nullable=True),
        sa.Column("period_end", UtcDateTime(), nullable=True),
        sa.Column("proration", sa.Boolean(), nullable=False),
        sa.Column("fraction", sa.Text(), nullable=False),
        sa.Column("full_period_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("unrounded", sa.Text(), nullable=False),
        sa.Column("rounding", sa.String(length=32), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_id"],
            ["invoices.tenant_id", "invoices.id"],
            name=op.f("fk_invoice_lines_tenant_id_invoice_id_invoices"),
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "invoice_id", "line_number", name=op.f("pk_invoice_lines")
        ),
    )


def downgrade() -> None:
    op.drop_table("invoice_lines")
    op.drop_index("ix_credit_notes_tenant_id_invoice_id", table_name="credit_notes")
    op.drop_table("credit_notes")
    op.drop_index(
        "ix_subscriptions_tenant_id_test_clock_id_next_action_time_id", table_name="subscriptions"
    )
    op.drop_index("ix_subscriptions_tenant_id_customer_id", table_name="subscriptions")
    op.drop_index("ix_subscriptions_next_action_time_tenant_id_id", table_name="subscriptions")
    op.drop_table("subscriptions")
    op.drop_index("ix_invoices_tenant_id_subscription_id", table_name="invoices")
    op.drop_index("ix_invoices_tenant_id_customer_id", table_name="invoices")
    op.drop_table("invoices")
    op.drop_table("test_clocks")
    op.drop_table("document_counters")
    # SQLite >= 3.35 drops a column in place, so the customers table (which
    # payment methods reference) is never copied and re-created.
    op.drop_column("customers", "test_clock_id")
