"""The schema, as SQLAlchemy Core tables that run on SQLite and PostgreSQL.

Every business table has `tenant_id` as the first primary-key column, so a
row can only ever be addressed together with its tenant and the data can be
partitioned by tenant later. Money is BigInteger minor units + CHAR(3).
Alembic migrations must match this module; a test compares them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Dialect,
    ForeignKeyConstraint,
    LargeBinary,
    MetaData,
    String,
    Table,
)
from sqlalchemy.types import CHAR, TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps stored as UTC and always read back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

ID = String(40)


idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("request_id", String(128), primary_key=True),
    Column("method", String(200), nullable=False),
    Column("fingerprint", CHAR(64), nullable=False),
    Column("response", LargeBinary, nullable=False),
    Column("create_time", UtcDateTime(), nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
)


# Secrets the servers of one deployment share (the page-token key), generated
# once by whichever process needs one first; a configured secret overrides.
server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("secret", String(128), nullable=False),
    Column("create_time", UtcDateTime(), nullable=False),
)
