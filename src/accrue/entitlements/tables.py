"""The entitlement area's tables, on the platform's one metadata (so migrations are checked)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from accrue.platform.db.tables import ID, UtcDateTime, metadata

features = Table(
    "features",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("key", String(64), nullable=False),
    Column("display_name", String(256), nullable=False),
    Column("type", String(16), nullable=False),
    Column("unit", String(32), nullable=False),
    Column("per_unit", Boolean, nullable=False),
    Column("meter_id", String(64), nullable=False),
    Column("threshold_percents", JSON, nullable=False),
    Column("archived", Boolean, nullable=False),
    Column("create_time", UtcDateTime(), nullable=False),
    Column("update_time", UtcDateTime(), nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    UniqueConstraint("tenant_id", "key", name="uq_features_tenant_id_key"),
)

# A feature's value on a product or a price. Limits are decimal text (exact
# on both databases, no float on the way).
feature_attachments = Table(
    "feature_attachments",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("feature_id", ID, primary_key=True),
    Column("target_kind", String(8), primary_key=True),
    Column("target_id", ID, primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("limit_value", String(32), nullable=True),
    Column("update_time", UtcDateTime(), nullable=False),
    ForeignKeyConstraint(
        ["tenant_id", "feature_id"], ["features.tenant_id", "features.id"], ondelete="CASCADE"
    ),
)

# Per tenant: bumped by every feature or attachment change, so a cached
# resolution anywhere knows it is stale after one indexed read.
entitlement_catalog_versions = Table(
    "entitlement_catalog_versions",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("version", BigInteger, nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
)

# Each usage threshold announced once per customer, feature, percentage and period.
usage_threshold_crossings = Table(
    "usage_threshold_crossings",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("customer_id", ID, primary_key=True),
    Column("feature_id", ID, primary_key=True),
    Column("percent", Integer, primary_key=True),
    Column("period_start", UtcDateTime(), primary_key=True),
    Column("usage", String(40), nullable=False),
    Column("create_time", UtcDateTime(), nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    Index("ix_usage_threshold_crossings_tenant_id_feature_id", "tenant_id", "feature_id"),
)
