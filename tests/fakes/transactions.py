"""An in-memory database with real transaction boundaries, for the areas' fakes.

`FakeDatabase` holds the committed rows, table by table. A `FakeTransaction`
works on a private deep copy of them and writes it back only on `commit`, so
a use case that fails half way leaves nothing behind - the property the
platform's `MutationRunner` relies on to answer a retried request from its
stored response. Each area's fake unit of work subclasses `FakeTransaction`
and exposes only the fake repositories of its own narrow port.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from accrue.platform.idempotency import Replay, RequestIdentity
from accrue.platform.ports import StoredResponse

U = TypeVar("U", bound="FakeTransaction")


class DuplicateKey(Exception):
    """What a unique index refuses: the fake's stand-in for an integrity error."""


class FakeDatabase:
    def __init__(self) -> None:
        self.tables: dict[str, dict[Any, Any]] = {}
        self.commits = 0

    def rows(self, table: str) -> dict[Any, Any]:
        """The committed rows of `table` (read-only use in assertions)."""
        return self.tables.get(table, {})


class FakeIdempotency:
    """IdempotencyRepository: one stored response per (tenant, request_id)."""

    def __init__(self, tx: FakeTransaction) -> None:
        self._tx = tx

    def lock(self, tenant_id: str, request_id: str) -> bool:
        return True  # one thread: nobody else can hold the key

    def get(self, tenant_id: str, request_id: str) -> StoredResponse | None:
        stored: StoredResponse | None = self._tx.table("idempotency").get((tenant_id, request_id))
        return stored

    def add(
        self, tenant_id: str, request_id: str, stored: StoredResponse, *, create_time: datetime
    ) -> None:
        rows = self._tx.table("idempotency")
        if (tenant_id, request_id) in rows:
            raise DuplicateKey(f"request_id {request_id!r} is already stored")
        rows[(tenant_id, request_id)] = stored


class FakeTransaction:
    """A unit of work over a `FakeDatabase`; nothing is kept unless committed."""

    def __init__(self, db: FakeDatabase, *, write: bool) -> None:
        self._db = db
        self.write = write
        self._tables: dict[str, dict[Any, Any]] | None = None
        self.idempotency = FakeIdempotency(self)

    def __enter__(self) -> Self:
        self._tables = copy.deepcopy(self._db.tables)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._tables = None  # rolled back unless committed

    def commit(self) -> None:
        if not self.write:
            raise AssertionError("a read-only unit of work was committed")
        assert self._tables is not None, "commit outside the transaction"
        self._db.tables = self._tables
        self._tables = copy.deepcopy(self._tables)
        self._db.commits += 1

    def table(self, name: str) -> dict[Any, Any]:
        assert self._tables is not None, "used outside the transaction"
        return self._tables.setdefault(name, {})


class FakeUnitOfWorkFactory(Generic[U]):
    """`(write=...) -> unit of work`, counting how many of each kind were opened."""

    def __init__(self, db: FakeDatabase, make: Callable[[FakeDatabase, bool], U]) -> None:
        self._db = db
        self._make = make
        self.opened = {"read": 0, "write": 0}

    def __call__(self, *, write: bool) -> U:
        self.opened["write" if write else "read"] += 1
        return self._make(self._db, write)


def replay(
    tenant_id: str, request_id: str = "", *, method: str = "Rpc", request: str = "same"
) -> Replay[Any]:
    """What a handler passes: the request's identity (none without a request_id),
    and an encoder standing in for the protobuf one (the value's repr, which
    like a deterministic serialization changes whenever the value does)."""
    identity = (
        RequestIdentity(tenant_id, request_id, method, fingerprint=request) if request_id else None
    )
    return Replay(identity, lambda value: repr(value).encode())
