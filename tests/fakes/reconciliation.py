"""Reconciliation's read and resolve ports in memory: runs and their breaks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from accrue.kernel.paging import PageRequest
from accrue.reconciliation.breaks import Break, BreakCategory
from accrue.reconciliation.runs import ReconciliationRun, StoredBreak
from tests.fakes.event_log import FakeEvents
from tests.fakes.transactions import FakeDatabase, FakeUnitOfWork


class FakeReconciliationStore:
    """The runs-and-breaks half of ReconciliationRepository (what reads and
    resolutions use); matching a report runs against SQL elsewhere."""

    def __init__(self, tx: FakeUnitOfWork) -> None:
        self._tx = tx

    @property
    def _runs(self) -> dict[str, ReconciliationRun]:
        return self._tx.table("reconciliation_runs")

    @property
    def _breaks(self) -> dict[tuple[str, int], StoredBreak]:
        return self._tx.table("reconciliation_breaks")

    def add_run(self, run: ReconciliationRun) -> None:
        self._runs[run.id] = run

    def get_run(self, tenant_id: str, run_id: str) -> ReconciliationRun | None:
        found = self._runs.get(run_id)
        return found if found is not None and found.tenant_id == tenant_id else None

    def list_runs(self, tenant_id: str, page: PageRequest) -> Sequence[ReconciliationRun]:
        found = [
            r
            for r in sorted(self._runs.values(), key=lambda r: r.id)
            if r.tenant_id == tenant_id and r.id > page.after_id
        ]
        return found[: page.size + 1]

    def add_breaks(self, items: Sequence[StoredBreak]) -> None:
        for item in items:
            self._breaks[(item.run_id, item.seq)] = item

    def list_breaks(
        self, tenant_id: str, run_id: str, page: PageRequest, *, category: BreakCategory | None
    ) -> Sequence[StoredBreak]:
        after = int(page.after_id) if page.after_id else -1
        found = [
            b
            for (run, seq), b in sorted(self._breaks.items())
            if run == run_id
            and b.tenant_id == tenant_id
            and seq > after
            and (category is None or b.found.category is category)
        ]
        return found[: page.size + 1]

    def iter_breaks(self, tenant_id: str, run_id: str) -> Iterator[StoredBreak]:
        return iter(self.list_breaks(tenant_id, run_id, PageRequest(10**9, "", ""), category=None))

    def get_break(
        self, tenant_id: str, run_id: str, seq: int, *, for_update: bool = False
    ) -> StoredBreak | None:
        found = self._breaks.get((run_id, seq))
        return found if found is not None and found.tenant_id == tenant_id else None

    def update_break(self, item: StoredBreak) -> None:
        assert (item.run_id, item.seq) in self._breaks, "update of a break never added"
        self._breaks[(item.run_id, item.seq)] = item


class FakeReconciliationUnitOfWork(FakeUnitOfWork):
    """ReconciliationUnitOfWork: runs and breaks, and the outbox resolutions go to."""

    def __init__(self, db: FakeDatabase, write: bool) -> None:
        super().__init__(db, write=write)
        self.reconciliation = FakeReconciliationStore(self)
        self.events = FakeEvents(self)


def a_break(category: BreakCategory, line: int) -> Break:
    return Break(
        category=category,
        line_number=line,
        reference=f"ref_{line}",
        record_id="",
        payout_id="",
        currency_code="EUR",
        expected_minor=None,
        actual_minor=1000,
        detail="",
    )
