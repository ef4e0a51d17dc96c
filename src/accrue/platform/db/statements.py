"""Counting what a code path sends to the database, for tests and benchmarks.

A round trip is what costs on a busy database: every statement, and on
PostgreSQL the BEGIN the driver sends before a transaction's first statement
and every COMMIT or ROLLBACK. (SQLite's BEGIN goes through a cursor and is
counted as a statement.) Statements queued in a commit pipeline (see
`commit_pipeline`) are counted as statements but share the COMMIT's round
trip. Performance budgets are asserted on these counts, never on timings, so
the tests are deterministic on a noisy machine.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event

from accrue.platform.db.commit_pipeline import in_pipeline


@dataclass
class StatementCount:
    """Round trips seen while counting; `sql` keeps each statement for a failure message."""

    sql: list[str] = field(default_factory=list)
    transaction_ends: int = 0
    driver_begins: int = 0
    # Positions in `sql` of the statements sent in a pipeline with a COMMIT.
    pipelined: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def statements(self) -> int:
        """SQL statements, without transaction control (BEGIN, COMMIT, ...)."""
        return sum(1 for s in self.sql if not _is_transaction_control(s))

    def touching(self, *fragments: str) -> int:
        """Statements (without transaction control) whose text mentions any fragment."""
        return sum(
            1 for s in self.sql if not _is_transaction_control(s) and any(f in s for f in fragments)
        )

    @property
    def round_trips(self) -> int:
        return len(self.sql) + self.driver_begins + self.transaction_ends - len(self.pipelined)

    def describe(self) -> str:
        lines = [
            ("(with COMMIT) " if i in self.pipelined else "") + " ".join(s.split())[:160]
            for i, s in enumerate(self.sql)
        ]
        extra = f"; +{self.driver_begins} BEGIN, +{self.transaction_ends} COMMIT/ROLLBACK"
        if self.pipelined:
            extra += f", {len(self.pipelined)} sent with a COMMIT"
        return f"{self.round_trips} round trips{extra}:\n  " + "\n  ".join(lines)

    def reset(self) -> None:
        with self._lock:
            self.sql.clear()
            self.pipelined.clear()
            self.transaction_ends = self.driver_begins = 0


@contextmanager
def count_statements(engine: Engine) -> Iterator[StatementCount]:
    """Count every round trip `engine` makes, from any thread, inside the block."""
    counted = StatementCount()
    implicit_begin = engine.dialect.name != "sqlite"

    def on_execute(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        pipelined = in_pipeline(conn)
        with counted._lock:
            if pipelined:
                counted.pipelined.append(len(counted.sql))
            counted.sql.append(statement)

    def on_begin(conn: Any) -> None:
        if implicit_begin and not _autocommit(conn):
            with counted._lock:
                counted.driver_begins += 1

    def on_end(conn: Any) -> None:
        if _autocommit(conn):
            return  # nothing is sent
        with counted._lock:
            counted.transaction_ends += 1

    listeners = (
        ("before_cursor_execute", on_execute),
        ("begin", on_begin),
        ("commit", on_end),
        ("rollback", on_end),
    )
    for name, listener in listeners:
        event.listen(engine, name, listener)
    try:
        yield counted
    finally:
        for name, listener in listeners:
            event.remove(engine, name, listener)


def _autocommit(conn: Any) -> bool:
    return bool(getattr(conn.connection.dbapi_connection, "autocommit", False))


_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def _is_transaction_control(statement: str) -> bool:
    return statement.lstrip().upper().startswith(_TRANSACTION_CONTROL)
