"""What reconciliation needs from persistence."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import Protocol, TypeVar

from accrue.event_log.ports import EventRepository
from accrue.kernel.paging import PageRequest
from accrue.platform.ports import Transactional
from accrue.reconciliation.matching import BreakCategory, InternalRecord, RecordRow
from accrue.reconciliation.runs import ReconciliationRun, StoredBreak
from accrue.reconciliation.settlement import LineKind

_Batch = TypeVar("_Batch")
_Result = TypeVar("_Result")


class ReconciliationRepository(Protocol):
    def find_run(
        self, tenant_id: str, psp: str, report_sha256: str
    ) -> ReconciliationRun | None: ...
    def get_run(self, tenant_id: str, run_id: str) -> ReconciliationRun | None: ...
    def list_runs(self, tenant_id: str, page: PageRequest) -> Sequence[ReconciliationRun]: ...
    def add_run(self, run: ReconciliationRun) -> None: ...
    def update_run(self, run: ReconciliationRun) -> None: ...
    def add_breaks(self, items: Sequence[StoredBreak]) -> None: ...
    def list_breaks(
        self,
        tenant_id: str,
        run_id: str,
        page: PageRequest,
        *,
        category: BreakCategory | None,
    ) -> Sequence[StoredBreak]: ...
    def iter_breaks(self, tenant_id: str, run_id: str) -> Iterator[StoredBreak]: ...
    def get_break(
        self, tenant_id: str, run_id: str, seq: int, *, for_update: bool = False
    ) -> StoredBreak | None: ...
    def update_break(self, item: StoredBreak) -> None: ...
    def records(
        self, tenant_id: str, psp: str, references: Sequence[str]
    ) -> dict[str, InternalRecord]:
        """Payments and refunds sent under these PSP references, by reference."""
        ...

    def mark_settled(
        self, tenant_id: str, run_id: str, records: Sequence[InternalRecord]
    ) -> None: ...
    def unsettled_records(
        self, tenant_id: str, psp: str, *, cut_off: datetime
    ) -> Iterator[InternalRecord]:
        """Unsettled succeeded or in-progress records created by `cut_off`, streamed."""
        ...

    def record_rows(
        self, tenant_id: str, psp: str, references: Sequence[str] | Mapping[str, LineKind]
    ) -> dict[str, RecordRow]:
        """`records` as tuples, fetched in bulk; given each reference's kind (a mapping,
        `Reconciler.row_references`), looked up as that kind first and as the other
        only where no record of that kind has it."""
        ...

    def classify_ahead(
        self,
        tenant_id: str,
        psp: str,
        batches: Iterable[_Batch],
        references: Callable[[_Batch], Iterable[str]],
        classify: Callable[[_Batch, dict[str, RecordRow]], _Result],
    ) -> Iterator[tuple[_Batch, dict[str, RecordRow], _Result]]:
        """Each batch with `record_rows` of its `references` and `classify` of both,
        in order; a batch's records may be read before the caller's writes for the
        previous batch (never after them only in part), and no fetch runs while the
        caller holds a batch."""
        ...

    def mark_settled_ids(
        self, tenant_id: str, run_id: str, payment_ids: Sequence[str], refund_ids: Sequence[str]
    ) -> None: ...
    def unsettled_record_rows(
        self,
        tenant_id: str,
        psp: str,
        *,
        cut_off: datetime,
        skip: AbstractSet[str] = frozenset(),
    ) -> Iterator[RecordRow]:
        """`unsettled_records` as tuples, streamed in bulk, in no particular order; those
        whose reference is in `skip` may be left out."""
        ...


class RunsAndBreaks(Protocol):
    """The part of `ReconciliationRepository` that reads runs and resolves breaks."""

    def get_run(self, tenant_id: str, run_id: str) -> ReconciliationRun | None: ...
    def list_runs(self, tenant_id: str, page: PageRequest) -> Sequence[ReconciliationRun]: ...
    def list_breaks(
        self,
        tenant_id: str,
        run_id: str,
        page: PageRequest,
        *,
        category: BreakCategory | None,
    ) -> Sequence[StoredBreak]: ...
    def get_break(
        self, tenant_id: str, run_id: str, seq: int, *, for_update: bool = False
    ) -> StoredBreak | None: ...
    def update_break(self, item: StoredBreak) -> None: ...


class ReconciliationUnitOfWork(Transactional, Protocol):
    """One transaction of the reconciliation reads and of resolving a break (the
    runs, their breaks, and the outbox a resolution is announced in).

    Importing a report is not among them: its run posts to the ledger and
    marks payments settled, in the combined unit of work.
    """

    @property
    def reconciliation(self) -> RunsAndBreaks: ...
    @property
    def events(self) -> EventRepository: ...


class ReconciliationUnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool) -> ReconciliationUnitOfWork: ...
