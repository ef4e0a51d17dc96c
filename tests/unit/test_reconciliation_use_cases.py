"""Reading reconciliation runs and resolving breaks on in-memory fakes of their port.

What finance relies on: runs and their breaks read back, paged and filtered
by category; resolving a break records who, when and why and announces it;
a retried resolution is answered from its stored response, a second one is
refused (the first resolution stands); unknown runs and breaks are NotFound.
Importing and matching reports are exercised against SQL in the contract tests.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accrue.event_log.service import EventRecorder
from accrue.kernel.errors import InvalidState, NotFound
from accrue.kernel.ids import IdGenerator
from accrue.kernel.paging import PageRequest
from accrue.ledger.service import LedgerService
from accrue.platform.clock import FixedClock
from accrue.platform.idempotency import MutationRunner
from accrue.reconciliation.breaks import BreakCategory
from accrue.reconciliation.matching import FeeSchedule
from accrue.reconciliation.runs import ReconciliationRun, StoredBreak
from accrue.reconciliation.service import ReconciliationService
from accrue.reconciliation.settlement import SettlementFormat
from accrue.reconciliation.use_cases import ReconciliationUseCases
from tests.fakes.event_log import event_types
from tests.fakes.reconciliation import FakeReconciliationUnitOfWork, a_break
from tests.fakes.transactions import FakeDatabase, FakeUnitOfWorkFactory, replay

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TENANT = "ten_a"
CATEGORIES = [
    BreakCategory.MISSING_INTERNALLY,
    BreakCategory.AMOUNT_MISMATCH,
    BreakCategory.MISSING_INTERNALLY,
]


class World:
    def __init__(self) -> None:
        self.db = FakeDatabase()
        self.clock = FixedClock(NOW)
        ids = IdGenerator(self.clock)
        events = EventRecorder(self.clock, ids, lambda: "t")
        self.factory = FakeUnitOfWorkFactory(self.db, FakeReconciliationUnitOfWork)
        service = ReconciliationService(
            uow_factory=self.factory,  # type: ignore[arg-type]  # imports are not run here
            clock=self.clock,
            ids=ids,
            events=events,
            ledger=LedgerService(self.clock, ids, events, lambda: "t"),
            fee_schedule=FeeSchedule(),
        )
        self.recon = ReconciliationUseCases(
            self.factory, MutationRunner(self.factory, self.clock), service
        )
        self.run = self._seed_run()

    def _seed_run(self) -> ReconciliationRun:
        """A run as an import leaves it: three breaks, none resolved."""
        run = ReconciliationRun(
            id="recon_1",
            tenant_id=TENANT,
            psp="simulated",
            format=SettlementFormat.SIMULATED,
            file_name="day1.csv",
            report_sha256="ab" * 32,
            cut_off_time=NOW - timedelta(days=1),
            create_time=NOW,
            break_count=len(CATEGORIES),
        )
        with self.factory(write=True) as uow:
            uow.reconciliation.add_run(run)
            uow.reconciliation.add_breaks(
                [
                    StoredBreak(tenant_id=TENANT, run_id=run.id, seq=i, found=a_break(c, i + 1))
                    for i, c in enumerate(CATEGORIES)
                ]
            )
            uow.commit()
        return run


@pytest.fixture
def world() -> World:
    return World()


def test_a_run_and_its_breaks_read_back_paged_and_by_category(world: World) -> None:
    assert world.recon.get_run(TENANT, world.run.id) == world.run
    assert world.recon.list_runs(TENANT, PageRequest(10, "", "q")).items == [world.run]

    first, token = world.recon.list_breaks(
        TENANT, world.run.id, PageRequest(2, "", "q"), category=None
    )
    assert [b.seq for b in first] == [0, 1] and token
    rest, end = world.recon.list_breaks(
        TENANT, world.run.id, PageRequest(2, "1", "q"), category=None
    )
    assert [b.seq for b in rest] == [2] and end == ""
    missing, _ = world.recon.list_breaks(
        TENANT,
        world.run.id,
        PageRequest(10, "", "q"),
        category=BreakCategory.MISSING_INTERNALLY,
    )
    assert [b.seq for b in missing] == [0, 2]


def test_resolving_a_break_records_who_when_and_why_and_announces_it(world: World) -> None:
    break_id = f"{world.run.id}:0000001"

    resolved = world.recon.resolve_break(
        TENANT, break_id, replay(TENANT), note="refunded by hand", actor="api_key:abc"
    ).value

    assert resolved is not None and resolved.id == break_id
    assert (resolved.resolved, resolved.resolved_by, resolved.resolve_time) == (
        True,
        "api_key:abc",
        NOW,
    )
    (stored,), _ = world.recon.list_breaks(
        TENANT, world.run.id, PageRequest(10, "", "q"), category=BreakCategory.AMOUNT_MISMATCH
    )
    assert stored == resolved
    assert event_types(world.db, TENANT) == ["reconciliation_break.resolved"]


def test_a_retried_resolution_is_replayed_and_a_second_one_refused(world: World) -> None:
    break_id = f"{world.run.id}:0000000"
    first = world.recon.resolve_break(
        TENANT, break_id, replay(TENANT, "req-1"), note="ok", actor="api_key:abc"
    )

    again = world.recon.resolve_break(
        TENANT, break_id, replay(TENANT, "req-1"), note="ok", actor="api_key:abc"
    )
    assert again.value is None and again.replayed == repr(first.value).encode()

    with pytest.raises(InvalidState):
        world.recon.resolve_break(
            TENANT, break_id, replay(TENANT, "req-2"), note="other", actor="api_key:def"
        )
    (stored, *_), _ = world.recon.list_breaks(
        TENANT, world.run.id, PageRequest(10, "", "q"), category=None
    )
    assert stored.resolution_note == "ok" and stored.resolved_by == "api_key:abc"
    assert event_types(world.db, TENANT) == ["reconciliation_break.resolved"]


@pytest.mark.parametrize("break_id", ["recon_1:0000009", "recon_2:0000000", "garbage", ""])
def test_unknown_or_malformed_breaks_are_not_found(world: World, break_id: str) -> None:
    with pytest.raises(NotFound):
        world.recon.resolve_break(TENANT, break_id, replay(TENANT), note="", actor="a")


def test_unknown_and_foreign_runs_are_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        world.recon.get_run(TENANT, "recon_missing")
    with pytest.raises(NotFound):
        world.recon.get_run("ten_b", world.run.id)
    with pytest.raises(NotFound):
        world.recon.list_breaks("ten_b", world.run.id, PageRequest(10, "", "q"), category=None)
