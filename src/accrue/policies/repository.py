"""The policy area's SQL (Core, runs on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from accrue.policies.model import SubscriptionPolicy
from accrue.policies.tables import subscription_changes, subscription_policies

_p = subscription_policies.c
_c = subscription_changes.c


class SqlPolicyStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get_policy(self, tenant_id: str) -> SubscriptionPolicy | None:
        row = self._conn.execute(
            select(subscription_policies).where(_p.tenant_id == tenant_id)
        ).first()
        return None if row is None else _policy(row)

    def put_policy(self, policy: SubscriptionPolicy) -> None:
        row = _policy_row(policy)
        done = self._conn.execute(
            update(subscription_policies).where(_p.tenant_id == policy.tenant_id).values(**row)
        )
        if done.rowcount == 0:
            self._conn.execute(insert(subscription_policies).values(**row))

    def count_changes(self, tenant_id: str, subscription_id: str, *, since: datetime) -> int:
        query = select(func.count()).where(
            _c.tenant_id == tenant_id,
            _c.subscription_id == subscription_id,
            _c.change_time >= since,
        )
        return int(self._conn.execute(query).scalar_one())

    def record_change(
        self, tenant_id: str, subscription_id: str, *, change_id: str, at: datetime
    ) -> None:
        self._conn.execute(
            insert(subscription_changes).values(
                tenant_id=tenant_id, id=change_id, subscription_id=subscription_id, change_time=at
            )
        )


def _policy_row(policy: SubscriptionPolicy) -> dict[str, Any]:
    return {
        "tenant_id": policy.tenant_id,
        "downgrade_at_period_end": policy.downgrade_at_period_end,
        "max_changes_per_period": policy.max_changes_per_period,
        "no_limit_below_usage": policy.no_limit_below_usage,
        "cancel_at_period_end": policy.cancel_at_period_end,
        "update_actor": policy.update_actor,
        "update_time": policy.update_time,
    }


def _policy(row: Any) -> SubscriptionPolicy:
    return SubscriptionPolicy(
        tenant_id=row.tenant_id,
        downgrade_at_period_end=row.downgrade_at_period_end,
        max_changes_per_period=row.max_changes_per_period,
        no_limit_below_usage=row.no_limit_below_usage,
        cancel_at_period_end=row.cancel_at_period_end,
        update_actor=row.update_actor,
        update_time=row.update_time,
    )
