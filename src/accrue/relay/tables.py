"""The relay's cursor table, on the platform's one metadata."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKeyConstraint, String, Table

from accrue.platform.db.tables import ID, UtcDateTime, metadata

# Per stream and tenant: the last event sequence the stream acknowledged.
relay_cursors = Table(
    "relay_cursors",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("stream", String(64), primary_key=True),
    Column("last_sequence", BigInteger, nullable=False),
    Column("update_time", UtcDateTime(), nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
)
