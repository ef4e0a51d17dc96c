"""An in-memory database with real transaction boundaries, for use-case tests without SQL.

`FakeDatabase` holds the committed state: named fake repositories (objects
whose attributes are their rows) and plain named tables for the fakes that
keep their rows there. A unit of work snapshots all of it on entry and puts
the snapshot back on exit unless it was committed, so a use case that fails
half way leaves nothing behind - the property the SQL unit of work gives and
the platform's `MutationRunner` relies on to answer a retried request from its
stored response.

A bare `FakeUnitOfWork` exposes the database's repositories as attributes; an
area's fake unit of work subclasses it and exposes only the fake repositories
of its own narrow port, built over `table(name)`.
"""

from __future__ import annotations

import builtins
import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Generic, Self, TypeVar, overload

from accrue.event_log.service import EventRecorder
from accrue.kernel.events import DomainEvent
from accrue.kernel.ids import IdGenerator
from accrue.platform.idempotency import Replay, RequestIdentity
from accrue.platform.ports import StoredResponse

TENANT = "ten_1"

U = TypeVar("U", bound="FakeUnitOfWork")


class FakeClock:
    def __init__(self, now: datetime | None = None) -> None:
        self.value = now or datetime(2026, 3, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += timedelta(seconds=seconds)


class DuplicateKey(Exception):
    """What a unique index refuses: the fake's stand-in for an integrity error."""


@dataclass
class FakeIdempotency:
    """IdempotencyRepository in memory: one stored response per (tenant, request_id)."""

    rows: dict[tuple[str, str], StoredResponse] = field(default_factory=dict)
    held: set[tuple[str, str]] = field(default_factory=set)

    def lock(self, tenant_id: str, request_id: str) -> bool:
        return (tenant_id, request_id) not in self.held

    def get(self, tenant_id: str, request_id: str) -> StoredResponse | None:
        return self.rows.get((tenant_id, request_id))

    def add(
        self, tenant_id: str, request_id: str, stored: StoredResponse, *, create_time: datetime
    ) -> None:
        if (tenant_id, request_id) in self.rows:
            raise DuplicateKey(f"request_id {request_id!r} is already stored")
        self.rows[(tenant_id, request_id)] = stored


@dataclass
class FakeOutbox:
    """EventRepository in memory: the events queued by committed transactions."""

    recorded: list[DomainEvent] = field(default_factory=list)

    def create_head(self, tenant_id: str) -> None:
        return None

    def record(self, tenant_id: str, event: DomainEvent) -> None:
        self.recorded.append(event)

    def list(self, tenant_id: str, query: Any) -> list[Any]:
        raise NotImplementedError("use cases under test never read the outbox")

    def types(self) -> builtins.list[str]:
        return [e.type for e in self.recorded]

    def of_type(self, type: str) -> builtins.list[DomainEvent]:
        return [e for e in self.recorded if e.type == type]


def event_recorder(clock: FakeClock) -> EventRecorder:
    """The real recorder, writing to whichever fake outbox the unit of work holds."""
    return EventRecorder(clock, IdGenerator(clock), lambda: "")


class FakeDatabase:
    """The committed state shared by every unit of work opened on it: named
    repositories (an `idempotency` one unless given) and named tables."""

    def __init__(self, **repositories: Any) -> None:
        repositories.setdefault("idempotency", FakeIdempotency())
        self.repositories = repositories
        self.tables: dict[str, dict[Any, Any]] = {}
        self.commits = 0
        self.rollbacks = 0

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["repositories"][name]
        except KeyError:
            raise AttributeError(name) from None

    def rows(self, table: str) -> dict[Any, Any]:
        """The committed rows of `table` (read-only use in assertions)."""
        return self.tables.get(table, {})

    def snapshot(self) -> tuple[dict[str, dict[Any, Any]], dict[str, dict[str, Any]]]:
        """The tables and each repository's stored state; what a repository names
        in `outside_transactions` (a test's fault script) is not rolled back."""
        return copy.deepcopy(self.tables), {
            name: {
                key: copy.deepcopy(value)
                for key, value in vars(repo).items()
                if key not in getattr(repo, "outside_transactions", ())
            }
            for name, repo in self.repositories.items()
        }

    def restore(
        self, snapshot: tuple[dict[str, dict[Any, Any]], dict[str, dict[str, Any]]]
    ) -> None:
        tables, repositories = snapshot
        self.tables = tables
        for name, state in repositories.items():
            vars(self.repositories[name]).update(state)


class FakeUnitOfWork:
    """One transaction on a `FakeDatabase`; nothing is kept unless committed.

    Its attributes are the database's repositories; subclasses add (or replace
    them with) fakes over `table(name)`."""

    def __init__(self, db: FakeDatabase, write: bool) -> None:
        self._db = db
        self.write = write
        self._snapshot: Any = None
        self._committed = False
        for name, repository in db.repositories.items():
            setattr(self, name, repository)

    def __enter__(self) -> Self:
        assert self._snapshot is None, "unit of work entered twice"
        self._snapshot = self._db.snapshot()
        self._committed = False
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._committed and self._snapshot is not None:
            self._db.restore(self._snapshot)
            self._db.rollbacks += 1
        self._snapshot = None

    def commit(self) -> None:
        if not self.write:
            raise AssertionError("a read-only unit of work was committed")
        assert self._snapshot is not None, "commit outside the transaction"
        self._committed = True
        self._db.commits += 1

    def table(self, name: str) -> dict[Any, Any]:
        assert self._snapshot is not None, "used outside the transaction"
        return self._db.tables.setdefault(name, {})


class FakeUnitOfWorkFactory(Generic[U]):
    """`(write=...) -> unit of work`, counting how many of each kind were opened;
    `make(db, write)` builds an area's unit of work (a bare one by default)."""

    @overload
    def __init__(self: FakeUnitOfWorkFactory[Any], db: FakeDatabase) -> None:
        # a bare unit of work: its repositories are attributes set at run time
        ...

    @overload
    def __init__(self, db: FakeDatabase, make: Callable[[FakeDatabase, bool], U]) -> None: ...

    def __init__(
        self, db: FakeDatabase, make: Callable[[FakeDatabase, bool], Any] = FakeUnitOfWork
    ) -> None:
        self.db = db
        self._make: Callable[[FakeDatabase, bool], U] = make
        self.opened = {"read": 0, "write": 0}

    def __call__(self, *, write: bool) -> U:
        self.opened["write" if write else "read"] += 1
        return self._make(self.db, write)


def replay(
    tenant_id: str, request_id: str = "", *, method: str = "Rpc", request: str = "same"
) -> Replay[Any]:
    """What a handler passes: the request's identity (none without a request_id,
    so the mutation runs every time), and an encoder standing in for the
    protobuf one (the value's repr, which like a deterministic serialization
    changes whenever the value does)."""
    identity = (
        RequestIdentity(tenant_id, request_id, method, fingerprint=request) if request_id else None
    )
    return Replay(identity, lambda value: repr(value).encode())
