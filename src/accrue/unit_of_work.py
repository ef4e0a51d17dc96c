"""A unit of work is one database transaction and the repositories bound to it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from accrue.catalog.repository import SqlPriceRepository, SqlProductRepository
from accrue.customers.repository import SqlCustomerRepository
from accrue.entitlements.repository import SqlEntitlementStore
from accrue.event_log.repository import PayloadEncoder, SqlEventRepository
from accrue.invoicing.documents.repository import SqlDocumentRepository
from accrue.invoicing.repository import SqlInvoiceRepository
from accrue.kernel.errors import ConcurrentModification
from accrue.kernel.events import DomainEvent
from accrue.ledger.repository import SqlLedgerRepository
from accrue.payments.repository import SqlPaymentRepository
from accrue.platform.db.idempotency_repository import SqlIdempotencyRepository
from accrue.platform.db.key_locks import KeyLocks
from accrue.policies.repository import SqlPolicyStore
from accrue.reconciliation.repository import SqlReconciliationRepository
from accrue.relay.repository import SqlRelayCursors
from accrue.subscriptions.repository import SqlSubscriptionRepository
from accrue.tenancy.repository import SqlTenantRepository
from accrue.test_clocks.repository import SqlTestClockRepository
from accrue.usage.repository import SqlUsageStore
from accrue.webhooks.repository import SqlWebhookStore


class SqlUnitOfWork:
    tenants: SqlTenantRepository
    products: SqlProductRepository
    prices: SqlPriceRepository
    customers: SqlCustomerRepository
    idempotency: SqlIdempotencyRepository
    ledger: SqlLedgerRepository
    events: SqlEventRepository
    test_clocks: SqlTestClockRepository
    subscriptions: SqlSubscriptionRepository
    invoices: SqlInvoiceRepository
    payments: SqlPaymentRepository
    reconciliation: SqlReconciliationRepository
    webhooks: SqlWebhookStore
    relay_cursors: SqlRelayCursors
    documents: SqlDocumentRepository
    usage: SqlUsageStore
    entitlements: SqlEntitlementStore
    policies: SqlPolicyStore

    def __init__(
        self,
        engine: Engine,
        locks: KeyLocks,
        *,
        write: bool,
        writer_gate: threading.Lock | None,
        encode_event: PayloadEncoder,
        on_events_committed: Callable[[list[str]], None],
    ) -> None:
        self._encode_event = encode_event
        self._on_events_committed = on_events_committed
        self._engine = engine
        self._locks = locks
        self._write = write
        self._gate = writer_gate if write else None

    def __enter__(self) -> SqlUnitOfWork:
        if self._gate is not None:
            self._gate.acquire()
        try:
            return self._begin()
        except BaseException:
            if self._gate is not None:
                self._gate.release()
            raise

    def _begin(self) -> SqlUnitOfWork:
        conn = self._engine.connect()
        conn = conn.execution_options(sqlite_begin="IMMEDIATE" if self._write else "NONE")
        if not self._write and conn.dialect.name == "postgresql":
            # A read needs no transaction: under READ COMMITTED each statement
            # has its own snapshot anyway, so BEGIN and ROLLBACK would only be
            # two more round trips. (Streamed reads, which need one for their
            # server-side cursor, happen only in writing units of work.)
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        self._conn = conn
        self._tx = conn.begin()
        self.tenants = SqlTenantRepository(conn)
        self.products = SqlProductRepository(conn)
        self.prices = SqlPriceRepository(conn)
        self.customers = SqlCustomerRepository(conn)
        self.idempotency = SqlIdempotencyRepository(conn, self._locks)
        self.ledger = SqlLedgerRepository(conn)
        self.events = SqlEventRepository(conn, self._encode_event)
        self.test_clocks = SqlTestClockRepository(conn)
        self.subscriptions = SqlSubscriptionRepository(conn)
        self.invoices = SqlInvoiceRepository(conn)
        self.payments = SqlPaymentRepository(conn)
        self.reconciliation = SqlReconciliationRepository(conn)
        self.webhooks = SqlWebhookStore(conn)
        self.relay_cursors = SqlRelayCursors(conn)
        self.documents = SqlDocumentRepository(conn)
        self.usage = SqlUsageStore(conn)
        self.entitlements = SqlEntitlementStore(conn)
        self.policies = SqlPolicyStore(conn)
        return self

    def commit(self) -> None:
        tenants = self.events.flush()
        # Hot balance rows are locked last, just for this statement and COMMIT.
        self.ledger.apply_balances()
        self._tx.commit()
        self._on_events_committed(tenants)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._tx.is_active:
                self._tx.rollback()
        finally:
            self.idempotency.release_all()
            self._conn.close()
            if self._gate is not None:
                self._gate.release()
        if isinstance(exc, DBAPIError) and is_transient(exc):
            raise ConcurrentModification(
                "the change conflicted with a concurrent one and was rolled back; retry it",
                retry_after_seconds=0.1,
            ) from exc


# Serialization failure, deadlock, lock not available (PostgreSQL); busy (SQLite).
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03"})


def is_transient(error: DBAPIError) -> bool:
    """Whether retrying the whole transaction can succeed."""
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate in _TRANSIENT_SQLSTATES:
        return True
    return "database is locked" in str(error.orig)


def _no_payload(event: DomainEvent) -> tuple[str, bytes]:
    raise TypeError(f"no payload encoder configured for {event.type}")


class SqlUnitOfWorkFactory:
    def __init__(
        self,
        engine: Engine,
        *,
        encode_event: PayloadEncoder = _no_payload,
        on_events_committed: Callable[[list[str]], None] = lambda tenants: None,
        in_flight: KeyLocks | None = None,
    ) -> None:
        self.engine = engine
        self._encode_event = encode_event
        self._on_events_committed = on_events_committed
        # Request ids in flight: in-process by default, Redis when configured.
        self._locks = in_flight if in_flight is not None else KeyLocks()
        # SQLite has one writer at a time. Queue this process's writers on a
        # lock instead of letting them poll SQLite's busy handler, which sleeps
        # up to 100 ms per retry and turns contention into second-long tails.
        self._writer_gate = threading.Lock() if engine.dialect.name == "sqlite" else None

    def __call__(self, *, write: bool) -> SqlUnitOfWork:
        return SqlUnitOfWork(
            self.engine,
            self._locks,
            write=write,
            writer_gate=self._writer_gate,
            encode_event=self._encode_event,
            on_events_committed=self._on_events_committed,
        )
