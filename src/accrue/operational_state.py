"""The read side behind the money-path gauges: small bounded queries.

Each query reads an index (the resolver's and the scheduler's queues are
partial indexes) or a small table, and counts are capped at `COUNT_CAP`, so
a scrape costs the same whether one or a million rows are waiting: past the
cap the gauge says "at least this many", and the oldest age still reads the
head of the index.

Sequencing lag: a committed ledger transaction or event whose `sequence` is
still NULL is waiting for a sequencer. Today both are numbered in their own
transaction (the column is NOT NULL), so the lag is zero by construction and
no query runs; once the live schema lets `sequence` be NULL (a post-commit
sequencer), the same gauges count those rows and the age of the oldest.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Engine, false, func, inspect, select, true
from sqlalchemy.sql import ColumnElement

from accrue import schema as t
from accrue.metrics.state import NONE_WAITING, Backlog, StateSnapshot
from accrue.payments.model import PaymentStatus

COUNT_CAP = 10_000


class SqlOperationalState:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._nullable_sequence: dict[str, bool] | None = None

    def snapshot(self, now: datetime) -> StateSnapshot:
        with self._engine.connect() as connection:
            if self._nullable_sequence is None:
                self._nullable_sequence = _nullable_sequence_columns(connection)
            unknown = self._backlog(
                connection,
                now,
                t.payments.c.create_time,
                t.payments.c.next_inquiry_time.is_not(None),
                t.payments.c.status == PaymentStatus.UNKNOWN.value,
            )
            subs = t.subscriptions.c
            due = self._backlog(
                connection,
                now,
                subs.next_action_time,
                subs.test_clock_id.is_(None),
                subs.next_action_time.is_not(None),
                subs.next_action_time <= now,
            )
            unsequenced = {"ledger": NONE_WAITING, "events": NONE_WAITING}
            if self._nullable_sequence.get("ledger_transactions"):
                lt = t.ledger_transactions.c
                unsequenced["ledger"] = self._backlog(
                    connection, now, lt.post_time, lt.sequence.is_(None)
                )
            # Events wait in event_queue until the sequencer numbers them
            # (PostgreSQL); SQLite numbers at commit and leaves it empty.
            unsequenced["events"] = self._backlog(
                connection, now, t.event_queue.c.occur_time, true()
            )
            rb = t.reconciliation_breaks.c
            breaks = {
                row.category: int(row.n)
                for row in connection.execute(
                    select(rb.category, func.count().label("n"))
                    .where(rb.resolved == false())
                    .group_by(rb.category)
                )
            }
            connection.rollback()
        return StateSnapshot(
            unknown_payments=unknown,
            due_subscriptions=due,
            unsequenced=unsequenced,
            open_breaks=breaks,
        )

    @staticmethod
    def _backlog(
        connection: Connection,
        now: datetime,
        time_column: ColumnElement[datetime],
        *conditions: ColumnElement[bool],
    ) -> Backlog:
        capped = select(time_column.label("at")).where(*conditions).limit(COUNT_CAP).subquery()
        count = connection.execute(select(func.count()).select_from(capped)).scalar_one()
        if not count:
            return NONE_WAITING
        oldest = connection.execute(
            select(time_column).where(*conditions).order_by(time_column).limit(1)
        ).scalar_one_or_none()
        if oldest is None:
            return Backlog(int(count), 0.0)
        return Backlog(int(count), max(0.0, (now - oldest).total_seconds()))


def _nullable_sequence_columns(connection: Connection) -> dict[str, bool]:
    inspector = inspect(connection)
    found: dict[str, bool] = {}
    for table in ("ledger_transactions", "events"):
        nullable = {
            column["name"]: bool(column.get("nullable", False))
            for column in inspector.get_columns(table)
        }
        found[table] = nullable.get("sequence", False)
    return found


class SqlWebhookBacklog:
    """Webhook deliveries still to be made (pending), and how long the oldest
    has waited: the `webhooks` queue of `accrue_backlog`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __call__(self, now: datetime) -> Backlog:
        from accrue.webhooks.tables import webhook_deliveries

        deliveries = webhook_deliveries.c
        with self._engine.connect() as connection:
            return SqlOperationalState._backlog(
                connection, now, deliveries.create_time, deliveries.status == "pending"
            )
