"""A unit of work is one database transaction and the repositories bound to it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cached_property
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
from accrue.platform.db.commit_pipeline import can_pipeline, commit_after
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
    """The repositories are made on first use: most units of work touch two or
    three of the eighteen, and a read such as GetCustomer should not pay for
    building the rest on every call."""

    @cached_property
    def tenants(self) -> SqlTenantRepository:
        return SqlTenantRepository(self._conn)

    @cached_property
    def products(self) -> SqlProductRepository:
        return SqlProductRepository(self._conn)

    @cached_property
    def prices(self) -> SqlPriceRepository:
        return SqlPriceRepository(self._conn)

    @cached_property
    def customers(self) -> SqlCustomerRepository:
        return SqlCustomerRepository(self._conn)

    @cached_property
    def idempotency(self) -> SqlIdempotencyRepository:
        return SqlIdempotencyRepository(self._conn, self._locks)

    @cached_property
    def ledger(self) -> SqlLedgerRepository:
        return SqlLedgerRepository(self._conn)

    @cached_property
    def events(self) -> SqlEventRepository:
        return SqlEventRepository(self._conn, self._encode_event)

    @cached_property
    def test_clocks(self) -> SqlTestClockRepository:
        return SqlTestClockRepository(self._conn)

    @cached_property
    def subscriptions(self) -> SqlSubscriptionRepository:
        return SqlSubscriptionRepository(self._conn)

    @cached_property
    def invoices(self) -> SqlInvoiceRepository:
        return SqlInvoiceRepository(self._conn)

    @cached_property
    def payments(self) -> SqlPaymentRepository:
        return SqlPaymentRepository(self._conn)

    @cached_property
    def reconciliation(self) -> SqlReconciliationRepository:
        return SqlReconciliationRepository(self._conn)

    @cached_property
    def webhooks(self) -> SqlWebhookStore:
        return SqlWebhookStore(self._conn)

    @cached_property
    def relay_cursors(self) -> SqlRelayCursors:
        return SqlRelayCursors(self._conn)

    @cached_property
    def documents(self) -> SqlDocumentRepository:
        return SqlDocumentRepository(self._conn)

    @cached_property
    def usage(self) -> SqlUsageStore:
        return SqlUsageStore(self._conn)

    @cached_property
    def entitlements(self) -> SqlEntitlementStore:
        return SqlEntitlementStore(self._conn)

    @cached_property
    def policies(self) -> SqlPolicyStore:
        return SqlPolicyStore(self._conn)

    def __init__(
        self,
        engine: Engine,
        locks: KeyLocks,
        *,
        write: bool,
        writer_gate: threading.Lock | None,
        pipeline_commits: bool,
        encode_event: PayloadEncoder,
        on_events_committed: Callable[[list[str]], None],
    ) -> None:
        self._encode_event = encode_event
        self._on_events_committed = on_events_committed
        self._engine = engine
        self._locks = locks
        self._write = write
        self._gate = writer_gate if write else None
        self._pipeline_commits = pipeline_commits

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
        self._pipelined = self._write and self._pipeline_commits
        self._tx = conn.begin()
        for name in _REPOSITORIES:  # a unit of work entered again gets new ones
            self.__dict__.pop(name, None)
        return self

    def commit(self) -> None:
        made = self.__dict__
        if self._pipelined and any(name in made for name in _WRITTEN_AT_COMMIT):
            # The final writes and COMMIT in one round trip (see commit_pipeline).
            with commit_after(self._conn):
                tenants = self._write_final()
        else:
            tenants = self._write_final()
        self._tx.commit()
        self._on_events_committed(tenants)

    def _write_final(self) -> list[str]:
        """What the use case left for commit; returns the tenants with new events."""
        made = self.__dict__
        if "invoices" in made:
            made["invoices"].write_pending()
        # Stored responses ride in the events' statement (PostgreSQL), written
        # by that flush even when the unit of work recorded no event.
        riders = made["idempotency"].pending_inserts() if "idempotency" in made else []
        tenants = self.events.flush(riders) if riders or "events" in made else []
        if "ledger" in made:
            # Hot balance rows are locked last, just for this statement and COMMIT.
            made["ledger"].apply_balances()
        return tenants

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
            if "idempotency" in self.__dict__:
                self.idempotency.release_all()
            self._conn.close()
            if self._gate is not None:
                self._gate.release()
        if isinstance(exc, DBAPIError) and is_transient(exc):
            raise ConcurrentModification(
                "the change conflicted with a concurrent one and was rolled back; retry it",
                retry_after_seconds=0.1,
            ) from exc


# Repositories that may have writes left for commit.
_WRITTEN_AT_COMMIT = ("invoices", "idempotency", "events", "ledger")

_REPOSITORIES = tuple(
    name for name, value in vars(SqlUnitOfWork).items() if isinstance(value, cached_property)
)

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
        self._pipeline_commits = can_pipeline(engine)

    def __call__(self, *, write: bool) -> SqlUnitOfWork:
        return SqlUnitOfWork(
            self.engine,
            self._locks,
            write=write,
            writer_gate=self._writer_gate,
            pipeline_commits=self._pipeline_commits,
            encode_event=self._encode_event,
            on_events_committed=self._on_events_committed,
        )
