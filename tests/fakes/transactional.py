"""A transaction over in-memory repositories, for use-case tests without SQL.

`FakeDatabase` holds an area's fake repositories; each unit of work it opens
snapshots them on entry and puts the snapshot back on exit unless it was
committed, so a use case that fails part-way leaves nothing behind, exactly
the property the SQL unit of work gives (and `MutationRunner` relies on when it
answers a repeated request_id from the stored response).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from accrue.event_log.service import EventRecorder
from accrue.kernel.events import DomainEvent
from accrue.kernel.ids import IdGenerator
from accrue.platform.idempotency import Replay, RequestIdentity
from accrue.platform.ports import StoredResponse

TENANT = "ten_1"


class FakeClock:
    def __init__(self, now: datetime | None = None) -> None:
        self.value = now or datetime(2026, 3, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += timedelta(seconds=seconds)


class DuplicateKey(Exception):
    """What the database raises on a second row with the same unique key."""


@dataclass
class FakeIdempotency:
    """IdempotencyRepository in memory: one response per (tenant, request_id)."""

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
            raise DuplicateKey(request_id)
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

    def types(self) -> list[str]:
        return [e.type for e in self.recorded]

    def of_type(self, type: str) -> list[DomainEvent]:
        return [e for e in self.recorded if e.type == type]


def event_recorder(clock: FakeClock) -> EventRecorder:
    """The real recorder, writing to whichever fake outbox the unit of work holds."""
    return EventRecorder(clock, IdGenerator(clock), lambda: "")


class FakeDatabase:
    """Named fake repositories, shared by every unit of work opened on it."""

    def __init__(self, **repositories: Any) -> None:
        self.repositories = repositories
        self.commits = 0
        self.rollbacks = 0

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["repositories"][name]
        except KeyError:
            raise AttributeError(name) from None

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Each repository's stored state; what it names in `outside_transactions`
        (a test's fault script) is not rolled back."""
        return {
            name: {
                key: copy.deepcopy(value)
                for key, value in vars(repo).items()
                if key not in getattr(repo, "outside_transactions", ())
            }
            for name, repo in self.repositories.items()
        }

    def restore(self, snapshot: dict[str, dict[str, Any]]) -> None:
        for name, state in snapshot.items():
            vars(self.repositories[name]).update(state)


class FakeUnitOfWork:
    """One transaction on a `FakeDatabase`: its repositories as attributes."""

    def __init__(self, db: FakeDatabase, *, write: bool) -> None:
        self._db = db
        self.write = write
        self._snapshot: dict[str, dict[str, Any]] | None = None
        self._committed = False
        for name, repository in db.repositories.items():
            setattr(self, name, repository)

    def __enter__(self) -> Self:
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

    def commit(self) -> None:
        if not self.write:
            raise AssertionError("a read-only unit of work never commits")
        self._committed = True
        self._db.commits += 1


class FakeUnitOfWorkFactory:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    def __call__(self, *, write: bool) -> Any:
        return FakeUnitOfWork(self.db, write=write)


def replay(
    request_id: str = "", *, fingerprint: str = "same", method: str = "Method"
) -> Replay[Any]:
    """A use case's `Replay` as a handler builds it, encoding the result's repr:
    a request_id makes the mutation idempotent, none runs it every time."""
    identity = (
        RequestIdentity(
            tenant_id=TENANT, request_id=request_id, method=method, fingerprint=fingerprint
        )
        if request_id
        else None
    )
    return Replay(identity, lambda value: repr(value).encode())
