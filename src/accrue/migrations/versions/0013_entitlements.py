"""Entitlements (features, attachments, catalog versions, threshold crossings)
and subscription-change policies.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from accrue.platform.db.tables import UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_ID = sa.String(length=40)


def upgrade() -> None:
    op.create_table(
        "features",
        sa.Column("tenant_id", _ID, nullable=False),
        sa.Column("id", _ID, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=256), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("per_unit", sa.Boolean(), nullable=False),
        sa.Column("meter_id", sa.String(length=64), nullable=False),
        sa.Column("threshold_percents", sa.JSON(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.Column("update_time", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_features_tenant_id_tenants"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_features"),
        sa.UniqueConstraint("tenant_id", "key", name="uq_features_tenant_id_key"),
    )
    op.create_table(
        "feature_attachments",
        sa.Column("tenant_id", _ID, nullable=False),
        sa.Column("feature_id", _ID, nullable=False),
        sa.Column("target_kind", sa.String(length=8), nullable=False),
        sa.Column("target_id", _ID, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("limit_value", sa.String(length=32), nullable=True),
        sa.Column("update_time", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "feature_id"],
            ["features.tenant_id", "features.id"],
            name="fk_feature_attachments_tenant_id_feature_id_features",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "feature_id", "target_kind", "target_id", name="pk_feature_attachments"
        ),
    )
    op.create_table(
        "entitlement_catalog_versions",
        sa.Column("tenant_id", _ID, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_entitlement_catalog_versions_tenant_id_tenants"
        ),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_entitlement_catalog_versions"),
    )
    op.create_table(
        "usage_threshold_crossings",
        sa.Column("tenant_id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("feature_id", _ID, nullable=False),
        sa.Column("percent", sa.Integer(), nullable=False),
        sa.Column("period_start", UtcDateTime(), nullable=False),
        sa.Column("usage", sa.String(length=40), nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_usage_threshold_crossings_tenant_id_tenants"
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "customer_id",
            "feature_id",
            "percent",
            "period_start",
            name="pk_usage_threshold_crossings",
        ),
    )
    op.create_index(
        "ix_usage_threshold_crossings_tenant_id_feature_id",
        "usage_threshold_crossings",
        ["tenant_id", "feature_id"],
    )
    op.create_table(
        "subscription_policies",
        sa.Column("tenant_id", _ID, nullable=False),
        sa.Column("downgrade_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("max_changes_per_period", sa.Integer(), nullable=False),
        sa.Column("no_limit_below_usage", sa.Boolean(), nullable=False),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("update_actor", sa.String(length=64), nullable=False),
        sa.Column("update_time", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_subscription_policies_tenant_id_tenants"
        ),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_subscription_policies"),
    )
    op.create_table(
        "subscription_changes",
        sa.Column("tenant_id", _ID, nullable=False),
        sa.Column("id", _ID, nullable=False),
        sa.Column("subscription_id", _ID, nullable=False),
        sa.Column("change_time", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_subscription_changes_tenant_id_tenants"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_subscription_changes"),
    )
    op.create_index(
        "ix_subscription_changes_tenant_id_subscription_id_change_time",
        "subscription_changes",
        ["tenant_id", "subscription_id", "change_time"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_subscription_changes_tenant_id_subscription_id_change_time",
        table_name="subscription_changes",
    )
    op.drop_table("subscription_changes")
    op.drop_table("subscription_policies")
    op.drop_index(
        "ix_usage_threshold_crossings_tenant_id_feature_id", table_name="usage_threshold_crossings"
    )
    op.drop_table("usage_threshold_crossings")
    op.drop_table("entitlement_catalog_versions")
    op.drop_table("feature_attachments")
    op.drop_table("features")
