"""Usage use cases, each owning its transaction.

A meter or event correction runs in one unit of work through the platform's
`MutationRunner`, which stores the encoded response with the change, so a
retry with the same request_id is answered with the same bytes; reads run in a
read-only unit of work. Ingestion takes no request_id: every event carries its
own id, the idempotency key (forever, per tenant), so a batch that lost a race
is simply run again. The caller converts the returned value itself, outside
the transaction. `UsageService` holds the steps.
"""

from __future__ import annotations

from collections.abc import Sequence

from accrue.kernel.errors import ConcurrentModification
from accrue.kernel.paging import Page, PageRequest
from accrue.platform.idempotency import MutationRunner, Outcome, Replay
from accrue.usage.model import EventInput, EventResult, Meter, StoredEvent, check_batch_size
from accrue.usage.ports import UsageUnitOfWorkFactory
from accrue.usage.service import CustomerUsage, NewMeter, UsageService

# A batch that lost a race (deadlock, serialization) is run again: its event
# ids make the second run harmless.
INGEST_ATTEMPTS = 3


class UsageUseCases:
    def __init__(
        self, uow_factory: UsageUnitOfWorkFactory, runner: MutationRunner, usage: UsageService
    ) -> None:
        self._uow = uow_factory
        self._runner = runner
        self._usage = usage

    def create_meter(self, tenant_id: str, new: NewMeter, replay: Replay[Meter]) -> Outcome[Meter]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._usage.create_meter(uow, tenant_id, new),
            replay.encode,
        )

    def get_meter(self, tenant_id: str, meter_id: str) -> Meter:
        with self._uow(write=False) as uow:
            return self._usage.get_meter(uow, tenant_id, meter_id)

    def list_meters(self, tenant_id: str, page: PageRequest) -> Page[Meter]:
        with self._uow(write=False) as uow:
            return self._usage.list_meters(uow, tenant_id, page)

    def archive_meter(self, tenant_id: str, meter_id: str, replay: Replay[Meter]) -> Outcome[Meter]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._usage.archive_meter(uow, tenant_id, meter_id),
            replay.encode,
        )

    def ingest(self, tenant_id: str, events: Sequence[EventInput]) -> list[EventResult]:
        """One batch in one transaction: each event's outcome (accepted, duplicate,
        refused). A stream calls this once per message, each committing on its own."""
        check_batch_size(len(events))
        for attempt in range(INGEST_ATTEMPTS):
            try:
                with self._uow(write=True) as uow:
                    results = self._usage.ingest(uow, tenant_id, events)
                    uow.commit()
                    return results
            except ConcurrentModification:
                if attempt == INGEST_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def cancel_event(
        self,
        tenant_id: str,
        event_id: str,
        *,
        reason: str,
        actor: str,
        replay: Replay[StoredEvent],
    ) -> Outcome[StoredEvent]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._usage.cancel_event(
                uow, tenant_id, event_id, reason=reason, actor=actor
            ),
            replay.encode,
        )

    def amend_event(
        self,
        tenant_id: str,
        event_id: str,
        properties: dict[str, str],
        *,
        reason: str,
        actor: str,
        replay: Replay[StoredEvent],
    ) -> Outcome[StoredEvent]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._usage.amend_event(
                uow, tenant_id, event_id, properties, reason=reason, actor=actor
            ),
            replay.encode,
        )

    def customer_usage(self, tenant_id: str, customer_id: str, *, meter_id: str) -> CustomerUsage:
        with self._uow(write=False) as uow:
            return self._usage.customer_usage(uow, tenant_id, customer_id, meter_id=meter_id)
