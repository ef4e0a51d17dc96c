"""Many rows in one statement on PostgreSQL: the rows travel as one JSON text.

A batch written through SQLAlchemy's executemany costs the driver work per row
(psycopg pipelines one execution per row, adapting every value in Python),
and a multi-row VALUES list costs it a parse of a statement of thousands of
placeholders, different for every batch size. Here the rows are one JSON array
of arrays, encoded in C by orjson, and PostgreSQL unpacks it with
`jsonb_array_elements`: one parameter, one statement text whatever the batch
size (so it is prepared once per connection), and nothing done per value in
Python but for bytes. orjson writes instants itself; the standard library's
encoder called back into Python for each of them, and encoding was a tenth of
a bill-run worker's CPU (orjson takes a sixth of that). Amounts stay exact:
JSON integers are cast to bigint from their text, never through a float; one
beyond 64 bits is refused here, one beyond bigint by the cast. jsonb, not json: a json
value is re-parsed for every `->>` read from it, so a row of n columns was
parsed n times, and the wide rows (invoices, events with their payload) cost
the server more than executemany did.

Used where the bill run writes (invoices, lines, postings, events, accounts)
and by usage ingestion; SQLite keeps its executemany, which costs no round
trip in-process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import JSON, Boolean, Connection, CursorResult, LargeBinary, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeDecorator

_PG = postgresql.dialect()  # type: ignore[no-untyped-call]


def json_value(column: Any, position: int) -> str:
    """The SQL reading position `position` of a row `r` as `column`'s type."""
    type_ = column.type
    if isinstance(type_, TypeDecorator):
        type_ = type_.impl_instance
    if isinstance(type_, JSON):
        return f"r->{position}"
    if isinstance(type_, LargeBinary):
        return f"decode(r->>{position}, 'hex')"
    text = f"r->>{position}"
    if isinstance(type_, Boolean):
        return f"CAST({text} AS boolean)"
    compiled = type_.compile(dialect=_PG)
    if compiled.startswith(("VARCHAR", "TEXT")):
        return text  # text already; the column's length is checked on assignment
    return f"CAST({text} AS {compiled})"


def _encode_other(value: object) -> str:
    """What orjson does not encode itself: bytes, as hex (`decode(..., 'hex')`)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    raise TypeError(f"cannot store {type(value).__name__} as a JSON row value")


# Instants keep their offset, so they are exact. The standard encoder refused a
# naive one; orjson cannot be told to (OPT_PASSTHROUGH_DATETIME would hand every
# instant back to Python, the cost this module avoids), so a naive instant is
# written as UTC, the zone every instant of Accrue is kept in, rather than
# without an offset, which PostgreSQL would read in the session's zone. The
# domain types refuse naive instants where they are made (Period, the ledger's
# post time).
_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_PASSTHROUGH_DATACLASS  # a dataclass is refused


def encode_rows(rows: Sequence[Sequence[Any]]) -> str:
    """The rows as the JSON text a `JsonInsert` takes."""
    return orjson.dumps(rows, default=_encode_other, option=_OPTIONS).decode()


class JsonInsert:
    """`INSERT INTO table (columns...) SELECT ... FROM jsonb_array_elements(rows)`.

    Each row is a sequence of values in the order of `columns`; `fixed` adds
    columns whose value is an SQL expression the same for every row (a writer's
    transaction id), and `suffix` ends the statement (ON CONFLICT, RETURNING).
    Built once, at import: its text never changes.
    """

    def __init__(
        self,
        table: Table,
        columns: Sequence[str],
        *,
        fixed: Mapping[str, str] | None = None,
        suffix: str = "",
    ) -> None:
        fixed = dict(fixed or {})
        names = [*columns, *fixed]
        values = [json_value(table.c[name], i) for i, name in enumerate(columns)]
        values += list(fixed.values())
        quoted = ", ".join(_PG.identifier_preparer.quote(name) for name in names)
        self.columns = tuple(columns)
        self.sql = (
            f"INSERT INTO {table.name} ({quoted})"  # noqa: S608 - names from the table
            f" SELECT {', '.join(values)}"
            " FROM jsonb_array_elements(CAST(%(rows)s AS jsonb)) AS r"
            f"{' ' + suffix if suffix else ''}"
        )

    def execute(
        self, conn: Connection, rows: Sequence[Sequence[Any]], **fixed: Any
    ) -> CursorResult[Any]:
        """Insert `rows` (PostgreSQL only) in one statement; `fixed` binds the
        `%(name)s` parameters a `fixed` expression names."""
        return conn.exec_driver_sql(self.sql, {**fixed, "rows": encode_rows(rows)})

    def as_cte(self, name: str, parameter: str) -> str:
        """This insert as the data-modifying CTE `name` of another statement,
        its rows bound to `%(parameter)s`."""
        return f"{name} AS ({self.sql.replace('%(rows)s', f'%({parameter})s')})"


def execute_together(
    conn: Connection, inserts: Sequence[tuple[JsonInsert, Sequence[Sequence[Any]]]]
) -> None:
    """Several `JsonInsert`s (whose `fixed` expressions bind no parameters) in
    one statement and one round trip (PostgreSQL only): all but the last as
    data-modifying CTEs of the last. They see the same snapshot and succeed or
    fail together. A unit of work uses it for what it writes at commit, where
    every round trip lengthens the hold of the locks taken last."""
    if not inserts:
        return
    *riders, (last, last_rows) = inserts
    if not riders:
        last.execute(conn, last_rows)
        return
    ctes = [insert.as_cte(f"w{i}", f"rows_{i}") for i, (insert, _) in enumerate(riders)]
    params = {f"rows_{i}": encode_rows(rows) for i, (_, rows) in enumerate(riders)}
    params["rows"] = encode_rows(last_rows)
    conn.exec_driver_sql(f"WITH {', '.join(ctes)} {last.sql}", params)
