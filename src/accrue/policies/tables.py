"""The policy area's tables, on the platform's one metadata (so migrations are checked)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKeyConstraint, Index, Integer, String, Table

from accrue.platform.db.tables import ID, UtcDateTime, metadata

subscription_policies = Table(
    "subscription_policies",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("downgrade_at_period_end", Boolean, nullable=False),
    Column("max_changes_per_period", Integer, nullable=False),
    Column("no_limit_below_usage", Boolean, nullable=False),
    Column("cancel_at_period_end", Boolean, nullable=False),
    Column("update_actor", String(64), nullable=False),
    Column("update_time", UtcDateTime(), nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
)

# Each committed ChangeSubscription, counted per subscription and period.
subscription_changes = Table(
    "subscription_changes",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("subscription_id", ID, nullable=False),
    Column("change_time", UtcDateTime(), nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    Index(
        "ix_subscription_changes_tenant_id_subscription_id_change_time",
        "tenant_id",
        "subscription_id",
        "change_time",
    ),
)
