"""In-memory fakes of the policy area's narrow ports (`accrue.policies.ports`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from accrue.platform.idempotency import MutationRunner
from accrue.policies.model import SubscriptionPolicy
from accrue.policies.service import PolicyService
from accrue.policies.use_cases import PolicyUseCases
from tests.fakes.transactions import (
    FakeClock,
    FakeDatabase,
    FakeIdempotency,
    FakeOutbox,
    FakeUnitOfWorkFactory,
    event_recorder,
)


@dataclass
class FakePolicyStore:
    policy: SubscriptionPolicy | None = None
    changes: list[tuple[str, datetime]] = field(default_factory=list)

    def get_policy(self, tenant_id: str) -> SubscriptionPolicy | None:
        return self.policy

    def put_policy(self, policy: SubscriptionPolicy) -> None:
        self.policy = policy

    def count_changes(self, tenant_id: str, subscription_id: str, *, since: datetime) -> int:
        return sum(1 for sid, at in self.changes if sid == subscription_id and at >= since)

    def record_change(
        self, tenant_id: str, subscription_id: str, *, change_id: str, at: datetime
    ) -> None:
        self.changes.append((subscription_id, at))


def policy_database() -> FakeDatabase:
    """Exactly the repositories of `PolicyUnitOfWork`, plus the runner's idempotency keys."""
    return FakeDatabase(
        policies=FakePolicyStore(), events=FakeOutbox(), idempotency=FakeIdempotency()
    )


def policy_use_cases(db: FakeDatabase, clock: FakeClock) -> PolicyUseCases:
    factory = FakeUnitOfWorkFactory(db)
    return PolicyUseCases(
        factory, MutationRunner(factory, clock), PolicyService(clock, event_recorder(clock))
    )
