"""Payments, refunds, their status history, PSP webhook de-duplication, and
automatic collection on invoices and subscriptions.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from accrue.platform.db.tables import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_transitions",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=False),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("cause", sa.String(length=32), nullable=False),
        sa.Column("time", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "subject_id", "seq", name=op.f("pk_payment_transitions")
        ),
    )
    op.create_table(
        "psp_webhook_events",
        sa.Column("psp", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("receive_time", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("psp", "event_id", name=op.f("pk_psp_webhook_events")),
    )
    op.create_table(
        "payments",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("invoice_id", sa.String(length=40), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency_code", sa.CHAR(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("payment_method_id", sa.String(length=40), nullable=False),
        sa.Column("psp", sa.String(length=64), nullable=False),
        sa.Column("psp_idempotency_key", sa.String(length=80), nullable=False),
        sa.Column("psp_charge_id", sa.String(length=128), nullable=True),
        sa.Column("failure_code", sa.String(length=64), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("amount_refunded_minor", sa.BigInteger(), nullable=False),
        sa.Column("refund_reserved_minor", sa.BigInteger(), nullable=False),
        sa.Column("psp_request_count", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("ledger_transaction_id", sa.String(length=40), nullable=True),
        sa.Column("next_inquiry_time", UtcDateTime(), nullable=True),
        sa.Column("collection_attempt", sa.Integer(), nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.Column("update_time", UtcDateTime(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["customers.tenant_id", "customers.id"],
            name=op.f("fk_payments_tenant_id_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_id"],
            ["invoices.tenant_id", "invoices.id"],
            name=op.f("fk_payments_tenant_id_invoice_id_invoices"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_payments")),
        sa.UniqueConstraint("psp_idempotency_key", name=op.f("uq_payments_psp_idempotency_key")),
        sa.UniqueConstraint(
            "tenant_id", "request_id", name=op.f("uq_payments_tenant_id_request_id")
        ),
    )
    op.create_index(
        "ix_payments_next_inquiry_time_tenant_id_id",
        "payments",
        ["next_inquiry_time", "tenant_id", "id"],
        unique=False,
        postgresql_where=sa.text("next_inquiry_time IS NOT NULL"),
        sqlite_where=sa.text("next_inquiry_time IS NOT NULL"),
    )
    op.create_index(
        "ix_payments_tenant_id_customer_id", "payments", ["tenant_id", "customer_id"], unique=False
    )
    op.create_index(
        "ix_payments_tenant_id_invoice_id", "payments", ["tenant_id", "invoice_id"], unique=False
    )
    op.create_table(
        "refunds",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency_code", sa.CHAR(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("psp_idempotency_key", sa.String(length=80), nullable=False),
        sa.Column("psp_refund_id", sa.String(length=128), nullable=True),
        sa.Column("failure_code", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("ledger_transaction_id", sa.String(length=40), nullable=True),
        sa.Column("next_inquiry_time", UtcDateTime(), nullable=True),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.Column("update_time", UtcDateTime(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "payment_id"],
            ["payments.tenant_id", "payments.id"],
            name=op.f("fk_refunds_tenant_id_payment_id_payments"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("psp_idempotency_key", name=op.f("uq_refunds_psp_idempotency_key")),
        sa.UniqueConstraint(
            "tenant_id", "request_id", name=op.f("uq_refunds_tenant_id_request_id")
        ),
    )
    op.create_index(
        "ix_refunds_next_inquiry_time_tenant_id_id",
        "refunds",
        ["next_inquiry_time", "tenant_id", "id"],
        unique=False,
        postgresql_where=sa.text("next_inquiry_time IS NOT NULL"),
        sqlite_where=sa.text("next_inquiry_time IS NOT NULL"),
    )
    op.create_index(
        "ix_refunds_tenant_id_payment_id", "refunds", ["tenant_id", "payment_id"], unique=False
    )
    op.add_column(
        "invoices",
        sa.Column(
            "collection_method", sa.String(length=24), server_default="send_invoice", nullable=False
        ),
    )
    op.add_column(
        "invoices", sa.Column("attempt_count", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("invoices", sa.Column("next_payment_attempt_time", UtcDateTime(), nullable=True))
    op.create_index(
        "ix_invoices_next_payment_attempt_time_tenant_id_id",
        "invoices",
        ["next_payment_attempt_time", "tenant_id", "id"],
        unique=False,
        postgresql_where=sa.text("next_payment_attempt_time IS NOT NULL"),
        sqlite_where=sa.text("next_payment_attempt_time IS NOT NULL"),
    )
    op.add_column(
        "subscriptions",
        sa.Column(
            "collection_method", sa.String(length=24), server_default="send_invoice", nullable=False
        ),
    )


def downgrade() -> None:

    op.drop_column("subscriptions", "collection_method")
    op.drop_index(
        "ix_invoices_next_payment_attempt_time_tenant_id_id",
        table_name="invoices",
        postgresql_where=sa.text("next_payment_attempt_time IS NOT NULL"),
        sqlite_where=sa.text("next_payment_attempt_time IS NOT NULL"),
    )
    op.drop_column("invoices", "next_payment_attempt_time")
    op.drop_column("invoices", "attempt_count")
    op.drop_column("invoices", "collection_method")
    op.drop_index("ix_refunds_tenant_id_payment_id", table_name="refunds")
    op.drop_index(
        "ix_refunds_next_inquiry_time_tenant_id_id",
        table_name="refunds",
        postgresql_where=sa.text("next_inquiry_time IS NOT NULL"),
        sqlite_where=sa.text("next_inquiry_time IS NOT NULL"),
    )
    op.drop_table("refunds")
    op.drop_index("ix_payments_tenant_id_invoice_id", table_name="payments")
    op.drop_index("ix_payments_tenant_id_customer_id", table_name="payments")
    op.drop_index(
        "ix_payments_next_inquiry_time_tenant_id_id",
        table_name="payments",
        postgresql_where=sa.text("next_inquiry_time IS NOT NULL"),
        sqlite_where=sa.text("next_inquiry_time IS NOT NULL"),
    )
    op.drop_table("payments")
    op.drop_table("psp_webhook_events")
    op.drop_table("payment_transitions")
