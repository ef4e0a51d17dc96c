"""Engine construction for the embedded SQLite default and for PostgreSQL.

SQLite runs in WAL mode with `BEGIN IMMEDIATE` for writing transactions, so
two writers queue on the database lock instead of failing half way with
SQLITE_BUSY when a read lock is upgraded. Read-only units of work issue no
BEGIN at all: each statement then reads the latest committed state, which is
what PostgreSQL's READ COMMITTED gives too, and saves two statements per read.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url


def build_engine(url: str, *, sqlite_synchronous: str = "FULL", pool_size: int = 16) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, synchronous=sqlite_synchronous, pool_size=pool_size)
    if parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False))
    # No ping per checkout: it is a round trip on every unit of work. A dead
    # connection fails its call instead (as any database outage mid-call does;
    # nothing half-done is committed and the client retries with its
    # request_id), and SQLAlchemy then invalidates the whole pool, so after a
    # database restart one call per process sees it.
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False)


def _sqlite_engine(url: str, *, synchronous: str, pool_size: int) -> Engine:
    if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise ValueError(f"invalid SQLite synchronous setting {synchronous!r}")
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=pool_size,
        max_overflow=pool_size,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event issue BEGIN itself (pysqlite's implicit
        # transactions would start them too late and always DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode != "NONE":
            connection.exec_driver_sql(f"BEGIN {mode}")

    return engine
