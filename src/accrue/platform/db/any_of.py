"""`column IN (ids...)` for a list bound at execution, as PostgreSQL plans it best.

SQLAlchemy's expanding IN renders one placeholder per value, so a statement
for 500 ids is a text of thousands of characters, different for every list
length: the driver parses it in Python on every execution (it caches only
short texts) and PostgreSQL parses and plans it every time (it cannot be
prepared once). On PostgreSQL the list is bound as one array instead,
`column = ANY(%(ids)s)`: one short text whatever the length, prepared once
per connection, served by the same index. Other databases keep the expanding
IN, which costs nothing in-process.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.sqltypes import NullType
from sqlalchemy.sql.visitors import InternalTraversal


class AnyOf(ColumnElement[Any]):
    """`column` is one of the values of the list parameter `name`."""

    inherit_cache = True
    type: Any = NullType()  # no Boolean: SQLite would render "IN (...) = 1"
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("name", InternalTraversal.dp_string),
    ]

    def __init__(self, column: ColumnElement[Any], name: str) -> None:
        self.column = column
        self.name = name


def any_of(column: Any, name: str) -> AnyOf:
    """`column` in the list bound to parameter `name` at execution."""
    return AnyOf(column, name)


@compiles(AnyOf)
def _expanding_in(element: AnyOf, compiler: Any, **kw: Any) -> str:
    expanding = element.column.in_(bindparam(element.name, expanding=True))
    return str(compiler.process(expanding, **kw))


@compiles(AnyOf, "postgresql")
def _any_array(element: AnyOf, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    values = compiler.process(bindparam(element.name), **kw)
    return f"{column} = ANY({values})"
