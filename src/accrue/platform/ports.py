"""What the platform's machinery needs from persistence: stored idempotent responses,
and the due-work rows the schedulers claim."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The outcome of an earlier request with the same idempotency key."""

    method: str
    fingerprint: str
    response: bytes


class IdempotencyRepository(Protocol):
    def lock(self, tenant_id: str, request_id: str) -> bool:
        """Take the per-key lock for this transaction; False if another holds it."""
        ...

    def get(self, tenant_id: str, request_id: str) -> StoredResponse | None: ...
    def add(
        self,
        tenant_id: str,
        request_id: str,
        stored: StoredResponse,
        *,
        create_time: datetime,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class DueItem:
    """A row with work due at `due_time`: an invoice to collect, a payment to resolve."""

    tenant_id: str
    id: str
    due_time: datetime


class Transactional(Protocol):
    """A unit of work's transaction: entered, committed explicitly, rolled back on
    exit unless committed. Every area's narrow unit of work extends it."""

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def commit(self) -> None: ...


class IdempotentTransaction(Transactional, Protocol):
    """What the platform's mutation runner needs of a unit of work.

    The combined unit of work (`accrue.ports.UnitOfWork`) satisfies it; the
    platform never sees any area's repositories, so work it runs receives
    the unit of work as the caller's own type.
    """

    @property
    def idempotency(self) -> IdempotencyRepository: ...


class TransactionFactory(Protocol):
    def __call__(self, *, write: bool) -> IdempotentTransaction:
        """A new unit of work; `write=True` takes the write lock up front on SQLite."""
        ...
