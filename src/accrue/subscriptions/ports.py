"""What the subscription use cases and the bill run need from persistence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from accrue.invoicing.ports import InvoicingUnitOfWork
from accrue.kernel.paging import PageRequest
from accrue.subscriptions.model import Subscription, SubscriptionStatus


@dataclass(frozen=True, slots=True)
class DueSubscription:
    """A subscription whose next scheduled action is due."""

    tenant_id: str
    subscription_id: str
    next_action_time: datetime


class SubscriptionRepository(Protocol):
    def add(self, subscription: Subscription) -> None:
        """Insert; `next_action_time` is derived from the subscription's schedule."""
        ...

    def get(
        self, tenant_id: str, subscription_id: str, *, for_update: bool = False
    ) -> Subscription | None: ...
    def update(self, subscription: Subscription, *, expected_version: int) -> None:
        """Replace the stored row whose version is `expected_version`.

        Raises ConcurrentModification when the stored version differs.
        """
        ...

    def list(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        customer_id: str,
        status: SubscriptionStatus | None,
    ) -> Sequence[Subscription]: ...
    def due_on_clock(
        self, tenant_id: str, clock_id: str, *, until: datetime, limit: int
    ) -> Sequence[DueSubscription]:
        """Subscriptions on a test clock due at or before `until`, by (time, id)."""
        ...

    def claim_due(self, *, now: datetime, limit: int) -> Sequence[DueSubscription]:
        """Real-time subscriptions due by `now`, locked for this transaction.

        Rows another transaction has claimed are skipped (SKIP LOCKED on
        PostgreSQL), so several workers share the due set without overlap.
        """
        ...

    def claim_listed(
        self, items: Sequence[DueSubscription], *, now: datetime
    ) -> Sequence[DueSubscription]:
        """Those of `items` still due by `now`, locked for this transaction (SKIP LOCKED)."""
        ...

    def get_many(self, tenant_id: str, subscription_ids: Sequence[str]) -> dict[str, Subscription]:
        """The subscriptions of a batch in one query, by id (already claimed, so not locked)."""
        ...

    def update_many(self, changes: Sequence[tuple[Subscription, int]]) -> None:
        """`update` of many (subscription, expected version) pairs in one statement.

        Raises ConcurrentModification when any stored version differs.
        """
        ...


class SubscriptionsUnitOfWork(InvoicingUnitOfWork, Protocol):
    """One transaction of the subscription use cases: the subscriptions, plus
    everything invoicing needs, because a subscription step issues its invoice
    in the same transaction."""

    @property
    def subscriptions(self) -> SubscriptionRepository: ...


class SubscriptionsUnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool) -> SubscriptionsUnitOfWork: ...
