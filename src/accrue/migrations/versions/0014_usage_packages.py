"""PACKAGE prices (the units per package of a price) and the record of billed usage.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from accrue.platform.db.tables import UtcDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_ID = sa.String(length=40)


def upgrade() -> None:
    with op.batch_alter_table("prices") as batch:
        batch.add_column(sa.Column("package_size", sa.BigInteger(), nullable=True))
    op.create_table(
        "usage_billings",
        sa.Column("tenant_id", _ID, nullable=False),
        sa.Column("id", _ID, nullable=False),
        sa.Column("subscription_id", _ID, nullable=False),
        sa.Column("price_id", _ID, nullable=False),
        sa.Column("meter_id", _ID, nullable=False),
        sa.Column("group_key", sa.String(length=700), nullable=False),
        sa.Column("period_start", UtcDateTime(), nullable=False),
        sa.Column("period_end", UtcDateTime(), nullable=False),
        sa.Column("quantity_micros", sa.BigInteger(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("invoice_id", sa.String(length=40), nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_usage_billings")),
    )
    op.create_index(
        "ix_usage_billings_tenant_id_subscription_id_period_end",
        "usage_billings",
        ["tenant_id", "subscription_id", "period_end"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_usage_billings_tenant_id_subscription_id_period_end", table_name="usage_billings"
    )
    op.drop_table("usage_billings")
    with op.batch_alter_table("prices") as batch:
        batch.drop_column("package_size")
