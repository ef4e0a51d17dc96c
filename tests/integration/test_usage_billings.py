"""The record of billed usage on SQLite and PostgreSQL: rows added, and read back for
the usage periods a renewal may still have to look at again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from accrue.bootstrap import build_application
from accrue.config import Settings
from accrue.platform.clock import FixedClock
from accrue.usage.model import BilledUsage

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _row(tenant_id: str, n: int, *, sub: str, end: datetime, amount: int) -> BilledUsage:
    return BilledUsage(
        tenant_id=tenant_id,
        id=f"ub_{n}",
        subscription_id=sub,
        price_id="price_1",
        meter_id="mtr_1",
        group_key='["eu"]',
        period_start=end - timedelta(days=28),
        period_end=end,
        quantity_micros=-1_500_000 if amount < 0 else 2_000_000,
        amount_minor=amount,
        invoice_id="" if n == 3 else f"in_{n}",
        create_time=NOW,
    )


def test_billed_usage_round_trips_and_is_read_by_period_end(database_url: str) -> None:
    app = build_application(
        Settings(database_url=database_url, sqlite_synchronous="OFF"), clock=FixedClock(NOW)
    )
    try:
        tenant = app.tenants.create_tenant("billed").tenant.id
        feb, mar = datetime(2026, 2, 1, tzinfo=UTC), NOW
        rows = [
            _row(tenant, 1, sub="sub_a", end=feb, amount=700),
            _row(tenant, 2, sub="sub_a", end=mar, amount=-400),
            _row(tenant, 3, sub="sub_a", end=mar, amount=300),
            _row(tenant, 4, sub="sub_b", end=mar, amount=900),
        ]
        with app.uow_factory(write=True) as uow:
            uow.usage.add_billings(rows)
            uow.usage.add_billings([])
            uow.commit()
        with app.uow_factory(write=False) as uow:
            every = uow.usage.billings(tenant, "sub_a", ending_from=feb)
            recent = uow.usage.billings(tenant, "sub_a", ending_from=feb + timedelta(seconds=1))
            other = uow.usage.billings("another-tenant", "sub_a", ending_from=feb)
        assert every == rows[:3]
        assert [row.id for row in recent] == ["ub_2", "ub_3"]
        assert other == []
        assert every[0].period_end == feb and every[0].period_end.tzinfo is not None
    finally:
        app.close()
