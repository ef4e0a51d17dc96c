"""Usage: meters, usage events, running aggregates, corrections; prices name a meter.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from accrue.platform.db.tables import UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ID = sa.String(length=40)


def upgrade() -> None:
    with op.batch_alter_table("prices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("meter_id", ID, nullable=True))
    op.create_table(
        "meters",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("id", ID, nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("aggregation", sa.String(length=16), nullable=False),
        sa.Column("value_property", sa.String(length=100), nullable=False),
        sa.Column("dimension_keys", sa.JSON(), nullable=False),
        sa.Column("grace_seconds", sa.BigInteger(), nullable=False),
        sa.Column("allow_negative", sa.Boolean(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.Column("update_time", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_meters_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_meters")),
    )
    op.create_table(
        "usage_events",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("meter_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("timestamp", UtcDateTime(), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("value_micros", sa.BigInteger(), nullable=False),
        sa.Column("unique_value", sa.String(length=200), nullable=False),
        sa.Column("group_key", sa.String(length=700), nullable=False),
        sa.Column("canceled", sa.Boolean(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_usage_events")),
    )
    op.create_index(
        "ix_usage_events_tenant_id_customer_id_meter_id_timestamp",
        "usage_events",
        ["tenant_id", "customer_id", "meter_id", "timestamp"],
        unique=False,
    )
    op.create_table(
        "usage_rollups",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("meter_id", ID, nullable=False),
        sa.Column("bucket_start", UtcDateTime(), nullable=False),
        sa.Column("group_key", sa.String(length=700), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("event_count", sa.BigInteger(), nullable=False),
        sa.Column("sum_micros", sa.BigInteger(), nullable=False),
        sa.Column("max_micros", sa.BigInteger(), nullable=False),
        sa.Column("last_time", UtcDateTime(), nullable=False),
        sa.Column("last_event_id", sa.String(length=200), nullable=False),
        sa.Column("last_micros", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "customer_id",
            "meter_id",
            "bucket_start",
            "group_key",
            "late",
            name=op.f("pk_usage_rollups"),
        ),
    )
    op.create_table(
        "usage_unique_values",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("meter_id", ID, nullable=False),
        sa.Column("bucket_start", UtcDateTime(), nullable=False),
        sa.Column("group_key", sa.String(length=700), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("event_count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "customer_id",
            "meter_id",
            "bucket_start",
            "group_key",
            "late",
            "value",
            name=op.f("pk_usage_unique_values"),
        ),
    )
    op.create_table(
        "usage_event_corrections",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("previous_properties", sa.JSON(), nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "event_id", "revision", name=op.f("pk_usage_event_corrections")
        ),
    )


def downgrade() -> None:
    op.drop_table("usage_event_corrections")
    op.drop_table("usage_unique_values")
    op.drop_table("usage_rollups")
    op.drop_index(
        "ix_usage_events_tenant_id_customer_id_meter_id_timestamp", table_name="usage_events"
    )
    op.drop_table("usage_events")
    op.drop_table("meters")
    with op.batch_alter_table("prices", schema=None) as batch_op:
        batch_op.drop_column("meter_id")
