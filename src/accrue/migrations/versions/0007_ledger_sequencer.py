"""Sequencing after commit: unsequenced ledger transactions, the event queue, checkpoints.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from accrue.platform.db.tables import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_transactions", schema=None) as batch_op:
        batch_op.alter_column("sequence", existing_type=sa.BigInteger(), nullable=True)
        batch_op.add_column(sa.Column("writer_xid", sa.BigInteger(), nullable=True))
        batch_op.create_index(
            "ix_ledger_transactions_unsequenced",
            ["tenant_id", "writer_xid"],
            unique=False,
            postgresql_where=sa.text("sequence IS NULL"),
            sqlite_where=sa.text("sequence IS NULL"),
        )
    op.create_table(
        "event_queue",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("writer_xid", sa.BigInteger(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("resource_type", sa.String(length=100), nullable=False),
        sa.Column("resource_id", sa.String(length=100), nullable=False),
        sa.Column("occur_time", UtcDateTime(), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("payload_type", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_event_queue_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_event_queue")),
    )
    op.create_index(
        "ix_event_queue_tenant_id_writer_xid_position",
        "event_queue",
        ["tenant_id", "writer_xid", "position"],
        unique=False,
    )
    op.create_table(
        "ledger_checkpoints",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.CHAR(length=64), nullable=False),
        sa.Column("sign_time", UtcDateTime(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_ledger_checkpoints_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "sequence", name=op.f("pk_ledger_checkpoints")),
    )


def downgrade() -> None:
    op.drop_table("ledger_checkpoints")
    op.drop_index("ix_event_queue_tenant_id_writer_xid_position", table_name="event_queue")
    op.drop_table("event_queue")
    with op.batch_alter_table("ledger_transactions", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_ledger_transactions_unsequenced",
            postgresql_where=sa.text("sequence IS NULL"),
            sqlite_where=sa.text("sequence IS NULL"),
        )
        batch_op.drop_column("writer_xid")
        batch_op.alter_column("sequence", existing_type=sa.BigInteger(), nullable=False)
