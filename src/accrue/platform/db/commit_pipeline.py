"""A unit of work's final writes and its COMMIT in one round trip (PostgreSQL).

What a use case writes last (its events, its stored response, the updates it
deferred) needs no answer from the database but success. Sent one statement at
a time, each is a round trip, and the locks the use case took last (a tenant's
gapless invoice counter, a customer's credit) are held through all of them.
In libpq's pipeline mode they are sent together, followed by COMMIT and one
Sync, and the answers come back together: one round trip however many there
are. If one fails, PostgreSQL skips the rest up to the Sync (the COMMIT too),
the transaction is left aborted, and the error is raised here as SQLAlchemy's
`DBAPIError` subclass, exactly as if the statement had been sent alone.

SQLAlchemy sees each statement executed as usual (its events fire, so
`count_statements` counts them, as sharing the COMMIT's round trip). The
COMMIT goes straight to the driver: SQLAlchemy's own commit that follows finds
the transaction ended and sends nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError


def can_pipeline(engine: Engine) -> bool:
    """Whether `engine` connects through psycopg (PostgreSQL) with a libpq that
    has pipelines; asked once per engine, not per transaction."""
    return engine.dialect.driver == "psycopg" and psycopg.Pipeline.is_supported()


@contextmanager
def commit_after(conn: Connection) -> Iterator[None]:
    """Statements executed on `conn` inside the block are sent with a COMMIT
    at its end, in one round trip; the caller then commits `conn` as usual."""
    driver: Any = conn.connection.driver_connection
    try:
        with driver.pipeline():
            yield
            driver.execute(b"COMMIT")
    except psycopg.Error as error:
        raise DBAPIError.instance(
            "COMMIT (pipelined)", None, error, psycopg.Error, dialect=conn.dialect
        ) from error


def in_pipeline(conn: Connection) -> bool:
    """Whether statements on `conn` are being queued in a pipeline right now."""
    driver: Any = conn.connection.driver_connection
    pgconn = getattr(driver, "pgconn", None)
    return bool(pgconn is not None and pgconn.pipeline_status)
