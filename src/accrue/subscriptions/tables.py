"""Subscriptions.

On the platform's one metadata; `accrue.schema` gathers every area's tables.
"""

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
    text,
)
from sqlalchemy.types import CHAR

from accrue.platform.db.tables import ID, UtcDateTime, metadata

# Items, anchor and pending lines are stored whole as JSON: they are only ever
# read and written with the subscription, never queried. `next_action_time`
# is derived from the rest on every write, so the scheduler needs no JSON.
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("customer_id", ID, nullable=False),
    Column("test_clock_id", ID, nullable=True),
    Column("status", String(16), nullable=False),
    Column("currency_code", CHAR(3), nullable=False),
    Column("items", JSON, nullable=False),
    Column("anchor", JSON, nullable=False),
    Column("interval_unit", String(8), nullable=False),
    Column("interval_count", Integer, nullable=False),
    Column("period_start", UtcDateTime(), nullable=False),
    Column("period_end", UtcDateTime(), nullable=False),
    Column("trial_end", UtcDateTime(), nullable=True),
    Column("cancel_at_period_end", Boolean, nullable=False),
    Column("canceled_at", UtcDateTime(), nullable=True),
    Column("pause_start", UtcDateTime(), nullable=True),
    Column("pause_resume_at", UtcDateTime(), nullable=True),
    Column("pending_lines", JSON, nullable=False),
    Column("latest_invoice_id", ID, nullable=True),
    Column("metadata", JSON, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("create_time", UtcDateTime(), nullable=False),
    Column("update_time", UtcDateTime(), nullable=True),
    Column("next_action_time", UtcDateTime(), nullable=True),
    Column("collection_method", String(24), nullable=False, server_default="send_invoice"),
    # Until when billed usage may still change (see `Subscription.usage_open_until`).
    Column("usage_open_until", UtcDateTime(), nullable=True),
    ForeignKeyConstraint(["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"]),
    ForeignKeyConstraint(
        ["tenant_id", "test_clock_id"], ["test_clocks.tenant_id", "test_clocks.id"]
    ),
    Index("ix_subscriptions_tenant_id_customer_id", "tenant_id", "customer_id"),
    # The real-time scheduler's queue: only rows with work due on real time,
    # in the order it claims them, so a claim reads the head of the index.
    Index(
        "ix_subscriptions_next_action_time_tenant_id_id",
        "next_action_time",
        "tenant_id",
        "id",
        postgresql_where=text("test_clock_id IS NULL AND next_action_time IS NOT NULL"),
        sqlite_where=text("test_clock_id IS NULL AND next_action_time IS NOT NULL"),
    ),
    # Advancing a test clock walks its subscriptions in (time, id) order.
    Index(
        "ix_subscriptions_tenant_id_test_clock_id_next_action_time_id",
        "tenant_id",
        "test_clock_id",
        "next_action_time",
        "id",
    ),
)
