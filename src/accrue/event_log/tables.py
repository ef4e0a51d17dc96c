"""The event outbox: per-tenant heads, numbered events, and the queue the sequencer numbers.

On the platform's one metadata; `accrue.schema` gathers every area's tables.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
)

from accrue.platform.db.tables import ID, UtcDateTime, metadata

# --- events -----------------------------------------------------------------
# The event head hands out per-tenant sequences in commit order: on SQLite
# under the writer's lock at commit, on PostgreSQL by the sequencer after
# commit (events wait in `event_queue` until then), so a reader polling
# "after N" can never skip an event that commits later.
event_heads = Table(
    "event_heads",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("last_sequence", BigInteger, nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
)

events = Table(
    "events",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("sequence", BigInteger, primary_key=True),
    Column("id", ID, nullable=False, unique=True),
    Column("type", String(100), nullable=False),
    Column("resource_type", String(100), nullable=False),
    Column("resource_id", String(100), nullable=False),
    Column("occur_time", UtcDateTime(), nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("payload_type", String(200), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    Index("ix_events_tenant_id_type_sequence", "tenant_id", "type", "sequence"),
    Index("ix_events_tenant_id_resource_id_sequence", "tenant_id", "resource_id", "sequence"),
)

# --- sequencing (PostgreSQL) ---------------------------------------------------
# Events committed but not yet numbered: the sequencer moves them into `events`
# in commit order. `writer_xid` is the writing transaction's id, `position` the
# order within it. SQLite numbers events at commit and never uses this table.
event_queue = Table(
    "event_queue",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("writer_xid", BigInteger, nullable=True),
    Column("position", Integer, nullable=False),
    Column("type", String(100), nullable=False),
    Column("resource_type", String(100), nullable=False),
    Column("resource_id", String(100), nullable=False),
    Column("occur_time", UtcDateTime(), nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("payload_type", String(200), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    Index("ix_event_queue_tenant_id_writer_xid_position", "tenant_id", "writer_xid", "position"),
)
