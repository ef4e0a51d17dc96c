"""Reads of one row by (tenant_id, id), built once per table.

Hot-path statements are built once: constructing a SQLAlchemy statement per
call costs more CPU than SQLite takes to run it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, Table, bindparam, select


def by_key(table: Table) -> tuple[Select[Any], Select[Any]]:
    """The plain and the row-locking read of `table` by tenant and id."""
    query = select(table).where(
        table.c.tenant_id == bindparam("tenant_id"), table.c.id == bindparam("id")
    )
    return query, query.with_for_update()


def get_row(
    conn: Connection,
    reads: tuple[Select[Any], Select[Any]],
    tenant_id: str,
    key: str,
    for_update: bool,
) -> Any:
    plain, locking = reads
    # SQLite has no row locks; its writers already hold the database lock.
    query = locking if for_update and conn.dialect.name == "postgresql" else plain
    return conn.execute(query, {"tenant_id": tenant_id, "id": key}).first()
