"""Settlement marks: which reconciliation run settled a payment or refund, one row each.

An import records the records it settles here, insert-only, instead of rewriting
every settled payment's and refund's row (`settlement_run_id` stays for records
settled before this table existed, and is still read).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "settlement_marks",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("record_id", sa.String(length=40), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "record_id", name=op.f("pk_settlement_marks")),
    )


def downgrade() -> None:
    op.drop_table("settlement_marks")
