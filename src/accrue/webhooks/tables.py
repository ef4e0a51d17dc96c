"""The webhook area's tables, on the platform's one metadata (so migrations are checked)."""

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
    Text,
)

from accrue.platform.db.tables import ID, UtcDateTime, metadata

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("url", String(2000), nullable=False),
    Column("event_types", JSON, nullable=False),
    Column("description", String(500), nullable=False),
    Column("ordering", String(16), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", String(32), nullable=False),
    Column("secret", String(100), nullable=False),
    Column("previous_secret", String(100), nullable=False),
    Column("previous_secret_expire_time", UtcDateTime(), nullable=True),
    Column("failing_since", UtcDateTime(), nullable=True),
    # Events with a greater sequence are delivered: the tenant's last visible
    # event when the endpoint was created.
    Column("start_after_sequence", BigInteger, nullable=False),
    # One dispatcher at a time sends an endpoint's deliveries (its order).
    Column("lease_until", UtcDateTime(), nullable=True),
    # In sequence order: when the failing oldest delivery is next due; later
    # ones wait for it, so the endpoint is not even looked at before then.
    Column("retry_after", UtcDateTime(), nullable=True),
    Column("create_time", UtcDateTime(), nullable=False),
    Column("update_time", UtcDateTime(), nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("endpoint_id", ID, nullable=False),
    Column("event_id", ID, nullable=False),
    Column("event_sequence", BigInteger, nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_response_code", Integer, nullable=False),
    Column("last_latency_ms", BigInteger, nullable=False),
    Column("last_error", Text, nullable=False),
    Column("last_attempt_time", UtcDateTime(), nullable=True),
    Column("next_attempt_time", UtcDateTime(), nullable=True),
    Column("first_attempt_time", UtcDateTime(), nullable=True),
    Column("manual", Boolean, nullable=False),
    Column("create_time", UtcDateTime(), nullable=False),
    ForeignKeyConstraint(
        ["tenant_id", "endpoint_id"],
        ["webhook_endpoints.tenant_id", "webhook_endpoints.id"],
        ondelete="CASCADE",
    ),
    Index(
        "ix_webhook_deliveries_tenant_endpoint_status_manual_sequence",
        "tenant_id",
        "endpoint_id",
        "status",
        "manual",
        "event_sequence",
    ),
    Index("ix_webhook_deliveries_status_next_attempt_time", "status", "next_attempt_time"),
)

# Per tenant: the last event sequence fanned out into deliveries.
webhook_cursors = Table(
    "webhook_cursors",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("last_sequence", BigInteger, nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
)
