"""What the policy use cases need from the outside world, as protocols."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from accrue.event_log.ports import EventRepository
from accrue.platform.ports import Transactional
from accrue.policies.model import SubscriptionPolicy


class PolicyStore(Protocol):
    def get_policy(self, tenant_id: str) -> SubscriptionPolicy | None: ...
    def put_policy(self, policy: SubscriptionPolicy) -> None: ...
    def count_changes(self, tenant_id: str, subscription_id: str, *, since: datetime) -> int: ...
    def record_change(
        self, tenant_id: str, subscription_id: str, *, change_id: str, at: datetime
    ) -> None: ...


class PolicyUnitOfWork(Transactional, Protocol):
    """One transaction of the policy use cases: the policy store and the outbox
    the event recorder writes to; nothing of any other area."""

    @property
    def policies(self) -> PolicyStore: ...
    @property
    def events(self) -> EventRepository: ...


class PolicyUnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool) -> PolicyUnitOfWork: ...
