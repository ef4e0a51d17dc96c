"""Test clocks.

On the platform's one metadata; `accrue.schema` gathers every area's tables.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKeyConstraint,
    Index,
    String,
    Table,
    Text,
)

from accrue.platform.db.tables import ID, UtcDateTime, metadata

# --- billing ------------------------------------------------------------------
# Ids of other rows that may be absent (test clock, subscription, invoice,
# ledger transaction) are NULL rather than "", so "on real time" is `IS NULL`
# and a partial index can leave simulated-time rows out.
test_clocks = Table(
    "test_clocks",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("display_name", String(256), nullable=False),
    Column("frozen_time", UtcDateTime(), nullable=False),
    Column("work_items_run", BigInteger, nullable=False),
    Column("create_time", UtcDateTime(), nullable=False),
    Column("update_time", UtcDateTime(), nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    # Asynchronous advances (migration 0011): READY, ADVANCING or FAILED, where
    # it is going, its progress, and the failed step's typed error.
    Column("state", String(16), nullable=False, server_default="READY"),
    Column("target_time", UtcDateTime(), nullable=True),
    Column("advance_work_items_run", BigInteger, nullable=False, server_default="0"),
    Column("failure_reason", String(64), nullable=True),
    Column("failure_message", Text, nullable=True),
    Column("failure_time", UtcDateTime(), nullable=True),
    Index("ix_test_clocks_state", "state"),
)
