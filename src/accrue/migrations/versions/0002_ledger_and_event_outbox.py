"""Ledger (accounts, transactions, entries, chain heads) and the event outbox.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from accrue.platform.db.tables import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_heads",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_event_heads_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_event_heads")),
    )
    op.create_table(
        "events",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("resource_type", sa.String(length=100), nullable=False),
        sa.Column("resource_id", sa.String(length=100), nullable=False),
        sa.Column("occur_time", UtcDateTime(), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("payload_type", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_events_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "sequence", name=op.f("pk_events")),
        sa.UniqueConstraint("id", name=op.f("uq_events_id")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_tenant_id_resource_id_sequence",
            ["tenant_id", "resource_id", "sequence"],
            unique=False,
        )
        batch_op.create_index(
            "ix_events_tenant_id_type_sequence", ["tenant_id", "type", "sequence"], unique=False
        )

    op.create_table(
        "ledger_accounts",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("currency_code", sa.CHAR(length=3), nullable=False),
        sa.Column("customer_id", sa.String(length=100), nullable=False),
        sa.Column("net_minor", sa.BigInteger(), nullable=False),
        sa.Column("debits_minor", sa.BigInteger(), nullable=False),
        sa.Column("credits_minor", sa.BigInteger(), nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.Column("update_time", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_ledger_accounts_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ledger_accounts")),
    )
    with op.batch_alter_table("ledger_accounts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_accounts_tenant_id_customer_id", ["tenant_id", "customer_id"], unique=False
        )

    op.create_table(
        "ledger_heads",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.CHAR(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_ledger_heads_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_ledger_heads")),
    )
    op.create_table(
        "ledger_transactions",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("source_type", sa.String(length=100), nullable=False),
        sa.Column("source_id", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("resource_type", sa.String(length=100), nullable=False),
        sa.Column("resource_id", sa.String(length=100), nullable=False),
        sa.Column("reverses_transaction_id", sa.String(length=100), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("post_time", UtcDateTime(), nullable=False),
        sa.Column("previous_hash", sa.CHAR(length=64), nullable=False),
        sa.Column("hash", sa.CHAR(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_ledger_transactions_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ledger_transactions")),
        sa.UniqueConstraint(
            "tenant_id", "sequence", name=op.f("uq_ledger_transactions_tenant_id_sequence")
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "source_type",
            "source_id",
            name=op.f("uq_ledger_transactions_tenant_id_source_type_source_id"),
        ),
    )
    with op.batch_alter_table("ledger_transactions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_transactions_tenant_id_post_time", ["tenant_id", "post_time"], unique=False
        )

    op.create_table(
        "ledger_entries",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("transaction_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("currency_code", sa.CHAR(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_minor <> 0", name=op.f("ck_ledger_entries_nonzero")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "transaction_id"],
            ["ledger_transactions.tenant_id", "ledger_transactions.id"],
            name=op.f("fk_ledger_entries_tenant_id_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "transaction_id", "position", name=op.f("pk_ledger_entries")
        ),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_entries_tenant_id_account_id", ["tenant_id", "account_id"], unique=False
        )

    # Tenants that exist already get their chain and event heads here; new
    # tenants get them when they are created.
    op.execute(
        "INSERT INTO ledger_heads (tenant_id, last_sequence, last_hash) "
        "SELECT id, 0, '" + "0" * 64 + "' FROM tenants"
    )
    op.execute("INSERT INTO event_heads (tenant_id, last_sequence) SELECT id, 0 FROM tenants")


def downgrade() -> None:
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_entries_tenant_id_account_id")

    op.drop_table("ledger_entries")
    with op.batch_alter_table("ledger_transactions", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_transactions_tenant_id_post_time")

    op.drop_table("ledger_transactions")
    op.drop_table("ledger_heads")
    with op.batch_alter_table("ledger_accounts", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_accounts_tenant_id_customer_id")

    op.drop_table("ledger_accounts")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_tenant_id_type_sequence")
        batch_op.drop_index("ix_events_tenant_id_resource_id_sequence")

    op.drop_table("events")
    op.drop_table("event_heads")
