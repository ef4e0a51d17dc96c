"""The subscription-policy use cases on in-memory fakes of their narrow ports.

Each use case owns its transaction: an update commits the policy with its audit
event and its idempotency record together, or nothing at all.
"""

from __future__ import annotations

import pytest

from accrue.kernel.errors import IdempotencyKeyReused, ValidationFailed
from accrue.policies.model import SubscriptionPolicy
from accrue.policies.service import PolicyChanges
from tests.fakes.policies import policy_database, policy_use_cases
from tests.fakes.transactions import TENANT, FakeClock, replay


def test_a_tenant_without_a_policy_reads_the_defaults_and_nothing_is_written() -> None:
    db = policy_database()
    policy = policy_use_cases(db, FakeClock()).get_policy(TENANT)
    assert policy == SubscriptionPolicy(TENANT)
    assert (db.commits, db.policies.policy, db.events.recorded) == (0, None, [])


def test_an_update_stores_who_changed_what_and_when_with_its_audit_event() -> None:
    db, clock = policy_database(), FakeClock()
    use_cases = policy_use_cases(db, clock)
    outcome = use_cases.update_policy(
        TENANT,
        PolicyChanges(max_changes_per_period=2, cancel_at_period_end=True),
        actor="api_key:abc",
        replay=replay(TENANT),
    )
    assert outcome.value is not None and outcome.replayed is None
    stored = use_cases.get_policy(TENANT)
    assert (stored.max_changes_per_period, stored.cancel_at_period_end) == (2, True)
    assert not stored.downgrade_at_period_end  # fields left out keep their value
    assert (stored.update_actor, stored.update_time) == ("api_key:abc", clock.now())
    assert db.events.types() == ["subscription_policy.updated"]
    assert db.commits == 1


def test_a_refused_update_changes_nothing() -> None:
    db = policy_database()
    use_cases = policy_use_cases(db, FakeClock())
    with pytest.raises(ValidationFailed):
        use_cases.update_policy(
            TENANT,
            PolicyChanges(max_changes_per_period=-1),
            actor="a",
            replay=replay(TENANT, "r-1"),
        )
    assert db.policies.policy is None
    assert db.events.recorded == [] and db.idempotency.rows == {}
    assert db.commits == 0


def test_a_retried_update_is_answered_with_the_first_response_and_applied_once() -> None:
    db, clock = policy_database(), FakeClock()
    use_cases = policy_use_cases(db, clock)
    changes = PolicyChanges(downgrade_at_period_end=True)
    first = use_cases.update_policy(TENANT, changes, actor="a", replay=replay(TENANT, "r-1"))
    clock.advance(60)
    again = use_cases.update_policy(TENANT, changes, actor="a", replay=replay(TENANT, "r-1"))
    assert again.value is None and again.replayed == repr(first.value).encode()
    assert db.events.types() == ["subscription_policy.updated"]
    assert use_cases.get_policy(TENANT).update_time == first.value.update_time  # type: ignore[union-attr]

    with pytest.raises(IdempotencyKeyReused):
        use_cases.update_policy(
            TENANT, changes, actor="a", replay=replay(TENANT, "r-1", request="another request")
        )
