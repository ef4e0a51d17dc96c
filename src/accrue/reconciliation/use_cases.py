"""Reconciliation use cases, each owning its transaction.

Resolving a break is a mutation run through the platform's `MutationRunner`
(the encoded response stored with the resolution, replayed byte for byte on a
retry); reads run in a read-only unit of work. Importing a report is
idempotent by the report's digest rather than a request id, and its run is
one transaction of its own that `ReconciliationService.import_report` opens
once the upload has been spooled and checked (never while the client is
still sending).
"""

from __future__ import annotations

from collections.abc import Iterable

from accrue.kernel.paging import Page, PageRequest
from accrue.platform.idempotency import MutationRunner, Outcome, Replay
from accrue.reconciliation.matching import BreakCategory
from accrue.reconciliation.ports import ReconciliationUnitOfWorkFactory
from accrue.reconciliation.runs import ReconciliationRun, StoredBreak
from accrue.reconciliation.service import ReconciliationService, ReportHeader


class ReconciliationUseCases:
    def __init__(
        self,
        uow_factory: ReconciliationUnitOfWorkFactory,
        runner: MutationRunner,
        service: ReconciliationService,
    ) -> None:
        self._uow = uow_factory
        self._runner = runner
        self._service = service

    def import_report(
        self, tenant_id: str, header: ReportHeader, chunks: Iterable[bytes]
    ) -> ReconciliationRun:
        """The run of this report: a new one, or the earlier run of the same bytes."""
        return self._service.import_report(tenant_id, header, chunks)

    def get_run(self, tenant_id: str, run_id: str) -> ReconciliationRun:
        with self._uow(write=False) as uow:
            return self._service.get_run(uow, tenant_id, run_id)

    def list_runs(self, tenant_id: str, page: PageRequest) -> Page[ReconciliationRun]:
        with self._uow(write=False) as uow:
            return self._service.list_runs(uow, tenant_id, page)

    def list_breaks(
        self,
        tenant_id: str,
        run_id: str,
        page: PageRequest,
        *,
        category: BreakCategory | None,
    ) -> tuple[list[StoredBreak], str]:
        """A page of the run's breaks and the next page token."""
        with self._uow(write=False) as uow:
            return self._service.list_breaks(uow, tenant_id, run_id, page, category=category)

    def resolve_break(
        self,
        tenant_id: str,
        break_id: str,
        replay: Replay[StoredBreak],
        *,
        note: str,
        actor: str,
    ) -> Outcome[StoredBreak]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._service.resolve_break(
                uow, tenant_id, break_id, note=note, actor=actor
            ),
            replay.encode,
        )
