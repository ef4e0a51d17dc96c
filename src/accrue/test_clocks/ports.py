"""What the test clock use cases need from persistence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from accrue.event_log.ports import EventRepository
from accrue.kernel.paging import PageRequest
from accrue.platform.ports import Transactional
from accrue.test_clocks.model import TestClock


class TestClockRepository(Protocol):
    def add(self, clock: TestClock) -> None: ...
    def get(
        self, tenant_id: str, clock_id: str, *, for_update: bool = False
    ) -> TestClock | None: ...
    def update(self, clock: TestClock) -> None: ...
    def list(self, tenant_id: str, page: PageRequest) -> Sequence[TestClock]: ...
    def claim_advancing(self, *, limit: int, lock: bool = True) -> Sequence[tuple[str, str]]: ...


class ClocksUnitOfWork(Transactional, Protocol):
    """One transaction of the clock's own use cases (create, read, start an advance).

    Running an advance is not among them: its batches span subscriptions,
    invoices and collections and run in the combined unit of work.
    """

    @property
    def test_clocks(self) -> TestClockRepository: ...
    @property
    def events(self) -> EventRepository: ...


class ClocksUnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool) -> ClocksUnitOfWork: ...
