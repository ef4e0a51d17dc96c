"""Tenants and their API keys.

On the platform's one metadata; `accrue.schema` gathers every area's tables.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ForeignKeyConstraint,
    String,
    Table,
)
from sqlalchemy.types import CHAR

from accrue.platform.db.tables import ID, UtcDateTime, metadata

tenants = Table(
    "tenants",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(256), nullable=False),
    Column("create_time", UtcDateTime(), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, nullable=False, index=True),
    Column("key_hash", CHAR(64), nullable=False, unique=True),
    Column("create_time", UtcDateTime(), nullable=False),
    Column("revoke_time", UtcDateTime(), nullable=True),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    # The first characters of the secret, shown to tell keys apart (never enough to use one).
    Column("prefix", String(16), nullable=True),
)
