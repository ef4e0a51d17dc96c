"""Test clock use cases, each owning its transactions.

Creating a clock and starting an advance are mutations run through the
platform's `MutationRunner` (the response stored with the change, replayed
byte for byte on a retry); reads run in a read-only unit of work. Advancing
is three steps, in this order: the advance is committed (the clock becomes
ADVANCING with its target), this process's runner is woken, and - only if the
caller asked to wait - the clock is read again until it has settled. The
work itself runs in the `TestClockRunner`, never in the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from accrue.kernel.paging import Page, PageRequest
from accrue.platform.idempotency import MutationRunner, Outcome, Replay
from accrue.test_clocks.model import TestClock
from accrue.test_clocks.ports import ClocksUnitOfWorkFactory
from accrue.test_clocks.service import WAIT_LIMIT_SECONDS, TestClockService


@dataclass(frozen=True, slots=True)
class ClockAdvance:
    """An advance as started (fresh, or the stored answer of an earlier request)
    and, when the caller waited, the clock as it stood once it settled."""

    started: Outcome[TestClock]
    settled: TestClock | None


class TestClockUseCases:
    __test__ = False  # not a pytest test class, whatever its name

    def __init__(
        self,
        uow_factory: ClocksUnitOfWorkFactory,
        runner: MutationRunner,
        clocks: TestClockService,
    ) -> None:
        self._uow = uow_factory
        self._runner = runner
        self._clocks = clocks

    def create(
        self,
        tenant_id: str,
        *,
        display_name: str,
        frozen_time: datetime,
        replay: Replay[TestClock],
    ) -> Outcome[TestClock]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._clocks.create(
                uow, tenant_id, display_name=display_name, frozen_time=frozen_time
            ),
            replay.encode,
        )

    def get(self, tenant_id: str, clock_id: str) -> TestClock:
        with self._uow(write=False) as uow:
            return self._clocks.get(uow, tenant_id, clock_id)

    def list_clocks(self, tenant_id: str, page: PageRequest) -> Page[TestClock]:
        with self._uow(write=False) as uow:
            return self._clocks.list_clocks(uow, tenant_id, page)

    def advance(
        self,
        tenant_id: str,
        clock_id: str,
        to: datetime,
        replay: Replay[TestClock],
        *,
        wait: bool,
        wait_seconds: float = WAIT_LIMIT_SECONDS,
    ) -> ClockAdvance:
        """Start advancing the clock to `to`; with `wait`, also its settled state.

        A replayed request still wakes the runner (harmless, and it recovers a
        runner that missed the first wake-up) and still waits: waiting is how
        to answer, not what to do.
        """
        started = self._runner.run(
            replay.identity,
            lambda uow: self._clocks.start_advance(uow, tenant_id, clock_id, to),
            replay.encode,
        )
        self._clocks.poke()
        if not wait:
            return ClockAdvance(started, settled=None)
        return ClockAdvance(
            started, settled=self._clocks.wait(tenant_id, clock_id, timeout=wait_seconds)
        )
