"""Test clocks advance in the background: state, target, progress and failure.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from accrue.platform.db.tables import UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("test_clocks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("state", sa.String(length=16), nullable=False, server_default="READY")
        )
        batch_op.add_column(sa.Column("target_time", UtcDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("advance_work_items_run", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("failure_reason", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("failure_message", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("failure_time", UtcDateTime(), nullable=True))
        batch_op.create_index("ix_test_clocks_state", ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("test_clocks", schema=None) as batch_op:
        batch_op.drop_index("ix_test_clocks_state")
        for column in (
            "failure_time",
            "failure_message",
            "failure_reason",
            "advance_work_items_run",
            "target_time",
            "state",
        ):
            batch_op.drop_column(column)
