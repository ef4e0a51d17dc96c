"""Backfill `usage_open_until` of subscriptions written before revision 0015.

Revision ID: 0017
Revises: 0016

A subscription billed metered usage before 0015 reads NULL there, so a price a
change removed is no longer re-checked for late usage and corrections, and a
canceled one never gets its trailing invoice. The value is what billing would
have set: the latest end of a usage period it billed plus that meter's grace,
read from its billing records (`usage_billings`, which 0016 completed where
the invoice lines allowed). A period without a record stays as it was, not
re-checked, as 0016 explains. Subscriptions that already carry a value, or
have no record, are left alone.

The downgrade keeps the values: they mean the same to the code of 0016 and
0015, which set them in the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

from accrue.platform.db.tables import UtcDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_ID = sa.String(40)
_BATCH = 1000

_billings = sa.table(
    "usage_billings",
    sa.column("tenant_id", _ID),
    sa.column("subscription_id", _ID),
    sa.column("meter_id", _ID),
    sa.column("period_end", UtcDateTime()),
)
_meters = sa.table(
    "meters",
    sa.column("tenant_id", _ID),
    sa.column("id", _ID),
    sa.column("grace_seconds", sa.BigInteger),
)
_subscriptions = sa.table(
    "subscriptions",
    sa.column("tenant_id", _ID),
    sa.column("id", _ID),
    sa.column("usage_open_until", UtcDateTime()),
)


def upgrade() -> None:
    conn = op.get_bind()
    unset = {
        (row.tenant_id, row.id)
        for row in conn.execute(
            sa.select(_subscriptions.c.tenant_id, _subscriptions.c.id).where(
                _subscriptions.c.usage_open_until.is_(None)
            )
        )
    }
    latest: dict[tuple[str, str], datetime] = {}
    for row in _billed_periods(conn):
        key = (row.tenant_id, row.subscription_id)
        if key not in unset:
            continue
        until = _utc(row.period_end) + timedelta(seconds=int(row.grace_seconds))
        latest[key] = max(latest.get(key, until), until)
    update = (
        _subscriptions.update()
        .where(
            _subscriptions.c.tenant_id == sa.bindparam("t"),
            _subscriptions.c.id == sa.bindparam("s"),
            _subscriptions.c.usage_open_until.is_(None),
        )
        .values(usage_open_until=sa.bindparam("until"))
    )
    rows = [{"t": t, "s": s, "until": until} for (t, s), until in sorted(latest.items())]
    for start in range(0, len(rows), _BATCH):
        conn.execute(update, rows[start : start + _BATCH])


def downgrade() -> None:
    pass


def _billed_periods(conn: Any) -> Any:
    """Each (subscription, meter, usage period end) billed, with the meter's grace."""
    return conn.execute(
        sa.select(
            _billings.c.tenant_id,
            _billings.c.subscription_id,
            _billings.c.period_end,
            _meters.c.grace_seconds,
        )
        .select_from(
            _billings.join(
                _meters,
                sa.and_(
                    _meters.c.tenant_id == _billings.c.tenant_id,
                    _meters.c.id == _billings.c.meter_id,
                ),
            )
        )
        .distinct()
    )


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
