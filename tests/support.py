"""Shared test helpers: servers on free ports, clients for both transports, PostgreSQL databases."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from connectrpc.errors import ConnectError
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from accrue.billing.v1 import (
    catalog_connect,
    catalog_pb2_grpc,
    customer_connect,
    customer_pb2_grpc,
    entitlement_connect,
    entitlement_pb2_grpc,
    event_connect,
    event_pb2,
    event_pb2_grpc,
    invoice_connect,
    invoice_pb2_grpc,
    ledger_connect,
    ledger_pb2_grpc,
    payment_connect,
    payment_pb2_grpc,
    policy_connect,
    policy_pb2_grpc,
    reconciliation_connect,
    reconciliation_pb2,
    reconciliation_pb2_grpc,
    subscription_connect,
    subscription_pb2_grpc,
    test_clock_connect,
    test_clock_pb2_grpc,
    usage_connect,
    usage_pb2_grpc,
    webhook_connect,
    webhook_pb2_grpc,
)
from accrue.bootstrap import Application, build_application
from accrue.config import Settings
from accrue.platform.db import migrate
from accrue.server import Ports, Server
from accrue.tenancy.model import hash_api_key
from accrue.unit_of_work import SqlUnitOfWork, SqlUnitOfWorkFactory

POSTGRES_ENV = "ACCRUE_TEST_POSTGRES_URL"


@dataclass
class RunningServer:
    app: Application
    ports: Ports

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.ports.grpc}"

    @property
    def connect_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.connect}"

    def new_tenant(self, name: str = "tenant") -> str:
        """A fresh tenant; returns its API key."""
        return self.app.tenants.create_tenant(name).api_key

    def uow(self, *, write: bool) -> SqlUnitOfWork:
        """Direct database access, for arranging what no public RPC can do yet."""
        return SqlUnitOfWorkFactory(self.app.engine)(write=write)

    def tenant_of(self, api_key: str) -> str:
        with self.uow(write=False) as uow:
            tenant_id = uow.tenants.tenant_for_key_hash(hash_api_key(api_key))
        assert tenant_id is not None
        return tenant_id


@contextmanager
def running_server(
    database_url: str, *, usage_reader: Any = None, **settings: Any
) -> Iterator[RunningServer]:
    config = Settings(
        database_url=database_url,
        grpc_port=0,
        connect_port=0,
        log_level="WARNING",
        shutdown_grace_seconds=2,
        **settings,
    )
    app = build_application(config, usage_reader=usage_reader)
    server = Server(app)
    ports = server.start()
    try:
        yield RunningServer(app, ports)
    finally:
        server.stop()


STREAM_WINDOW_SECONDS = 0.4
# Client-streaming RPCs: generic tests pass one message (the header), and the
# harness sends it followed by the chunks of an empty (header-row only) report.
CLIENT_STREAMING = frozenset({"ImportSettlementReport"})
EMPTY_SIMULATED_REPORT = b"type,psp_id,reference,currency,gross,fee,net,payout_id,created\n"


def upload_of(first: Any) -> Iterator[Any]:
    """`first`, then (if it is a header) the chunks of an empty report."""
    yield first
    if first.HasField("header"):
        yield reconciliation_pb2.ImportSettlementReportRequest(chunk=EMPTY_SIMULATED_REPORT)


def _full(service: str) -> str:
    """`CustomerService` or `accrue.billing.v1.CustomerService` -> the full name."""
    return service if "." in service else f"accrue.billing.v1.{service}"


def _collect(items: Any, *, deadline_codes: tuple[Any, ...], code_of: Any) -> Any:
    """What a server stream delivered within its deadline, as a ListEventsResponse.

    StreamEvents never ends by itself; generic tests (auth, isolation, fuzz,
    parity) read it for a short window and compare what arrived.
    """
    collected = event_pb2.ListEventsResponse()
    try:
        for item in items:
            collected.events.append(item)
    except Exception as error:
        if code_of(error) not in deadline_codes:
            raise
    return collected


class GrpcClients:
    """Generated gRPC stubs with the tenant's key attached to every call."""

    def __init__(self, target: str, api_key: str | None) -> None:
        self.channel = grpc.insecure_channel(target)
        self.metadata = () if api_key is None else (("authorization", f"Bearer {api_key}"),)
        self.stubs = {
            "accrue.billing.v1.CatalogService": catalog_pb2_grpc.CatalogServiceStub(self.channel),
            "accrue.billing.v1.CustomerService": customer_pb2_grpc.CustomerServiceStub(
                self.channel
            ),
            "accrue.billing.v1.LedgerService": ledger_pb2_grpc.LedgerServiceStub(self.channel),
            "accrue.billing.v1.EventService": event_pb2_grpc.EventServiceStub(self.channel),
            "accrue.billing.v1.SubscriptionService": (
                subscription_pb2_grpc.SubscriptionServiceStub(self.channel)
            ),
            "accrue.billing.v1.InvoiceService": invoice_pb2_grpc.InvoiceServiceStub(self.channel),
            "accrue.billing.v1.TestClockService": test_clock_pb2_grpc.TestClockServiceStub(
                self.channel
            ),
            "accrue.billing.v1.PaymentService": payment_pb2_grpc.PaymentServiceStub(self.channel),
            "accrue.billing.v1.ReconciliationService": (
                reconciliation_pb2_grpc.ReconciliationServiceStub(self.channel)
            ),
            "accrue.billing.v1.WebhookService": webhook_pb2_grpc.WebhookServiceStub(self.channel),
            "accrue.billing.v1.UsageService": usage_pb2_grpc.UsageServiceStub(self.channel),
            "accrue.billing.v1.EntitlementService": (
                entitlement_pb2_grpc.EntitlementServiceStub(self.channel)
            ),
            "accrue.billing.v1.SubscriptionPolicyService": (
                policy_pb2_grpc.SubscriptionPolicyServiceStub(self.channel)
            ),
        }
        self.catalog = self.stubs["accrue.billing.v1.CatalogService"]
        self.customers = self.stubs["accrue.billing.v1.CustomerService"]
        self.ledger = self.stubs["accrue.billing.v1.LedgerService"]
        self.events = self.stubs["accrue.billing.v1.EventService"]
        self.subscriptions = self.stubs["accrue.billing.v1.SubscriptionService"]
        self.invoices = self.stubs["accrue.billing.v1.InvoiceService"]
        self.clocks = self.stubs["accrue.billing.v1.TestClockService"]
        self.payments = self.stubs["accrue.billing.v1.PaymentService"]
        self.reconciliation = self.stubs["accrue.billing.v1.ReconciliationService"]

    def call(self, service: str, method: str, request: Any) -> Any:
        stub = self.stubs[_full(service)]
        if method == "StreamEvents":
            items = stub.StreamEvents(
                request, metadata=self.metadata, timeout=STREAM_WINDOW_SECONDS
            )
            return _collect(
                items,
                deadline_codes=(grpc.StatusCode.DEADLINE_EXCEEDED,),
                code_of=lambda e: e.code() if isinstance(e, grpc.RpcError) else None,
            )
        if method == "StreamIngestUsage":
            return stub.StreamIngestUsage(iter([request]), metadata=self.metadata, timeout=30)
        if method in CLIENT_STREAMING:
            return stub.ImportSettlementReport(
                upload_of(request), metadata=self.metadata, timeout=30
            )
        return getattr(stub, method)(request, metadata=self.metadata, timeout=30)

    def close(self) -> None:
        self.channel.close()


class ConnectClients:
    """Generated Connect clients (sync) with the tenant's key attached."""

    def __init__(self, base_url: str, api_key: str | None, *, json: bool = False) -> None:
        from connectrpc.compat import google_protobuf_json_codec

        kwargs: dict[str, Any] = {}
        if json:
            kwargs["codec"] = google_protobuf_json_codec()
        self.headers = {} if api_key is None else {"authorization": f"Bearer {api_key}"}
        self.clients = {
            "accrue.billing.v1.CatalogService": catalog_connect.CatalogServiceClientSync(
                base_url, **kwargs
            ),
            "accrue.billing.v1.CustomerService": customer_connect.CustomerServiceClientSync(
                base_url, **kwargs
            ),
            "accrue.billing.v1.LedgerService": ledger_connect.LedgerServiceClientSync(
                base_url, **kwargs
            ),
            "accrue.billing.v1.EventService": event_connect.EventServiceClientSync(
                base_url, **kwargs
            ),
            "accrue.billing.v1.SubscriptionService": (
                subscription_connect.SubscriptionServiceClientSync(base_url, **kwargs)
            ),
            "accrue.billing.v1.InvoiceService": invoice_connect.InvoiceServiceClientSync(
                base_url, **kwargs
            ),
            "accrue.billing.v1.TestClockService": test_clock_connect.TestClockServiceClientSync(
                base_url, **kwargs
            ),
            "accrue.billing.v1.PaymentService": payment_connect.PaymentServiceClientSync(
                base_url, **kwargs
            ),
            "accrue.billing.v1.ReconciliationService": (
                reconciliation_connect.ReconciliationServiceClientSync(base_url, **kwargs)
            ),
            "accrue.billing.v1.WebhookService": webhook_connect.WebhookServiceClientSync(
                base_url, **kwargs
            ),
            "accrue.billing.v1.UsageService": usage_connect.UsageServiceClientSync(
                base_url, **kwargs
            ),
            "accrue.billing.v1.EntitlementService": (
                entitlement_connect.EntitlementServiceClientSync(base_url, **kwargs)
            ),
            "accrue.billing.v1.SubscriptionPolicyService": (
                policy_connect.SubscriptionPolicyServiceClientSync(base_url, **kwargs)
            ),
        }
        self.catalog = self.clients["accrue.billing.v1.CatalogService"]
        self.customers = self.clients["accrue.billing.v1.CustomerService"]
        self.ledger = self.clients["accrue.billing.v1.LedgerService"]
        self.events = self.clients["accrue.billing.v1.EventService"]
        self.subscriptions = self.clients["accrue.billing.v1.SubscriptionService"]
        self.invoices = self.clients["accrue.billing.v1.InvoiceService"]
        self.clocks = self.clients["accrue.billing.v1.TestClockService"]
        self.payments = self.clients["accrue.billing.v1.PaymentService"]
        self.reconciliation = self.clients["accrue.billing.v1.ReconciliationService"]

    def call(self, service: str, method: str, request: Any) -> Any:
        from connectrpc.code import Code

        from accrue.platform.transport.routes import snake_case

        client = self.clients[_full(service)]
        if method == "StreamEvents":
            items = client.stream_events(
                request, headers=self.headers, timeout_ms=int(STREAM_WINDOW_SECONDS * 1000)
            )
            return _collect(
                items,
                deadline_codes=(Code.DEADLINE_EXCEEDED,),
                code_of=lambda e: e.code if isinstance(e, ConnectError) else None,
            )
        if method == "StreamIngestUsage":
            return client.stream_ingest_usage(
                iter([request]), headers=self.headers, timeout_ms=30000
            )
        if method in CLIENT_STREAMING:
            return client.import_settlement_report(
                upload_of(request), headers=self.headers, timeout_ms=30000
            )
        return getattr(client, snake_case(method))(request, headers=self.headers, timeout_ms=30000)

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


@dataclass(frozen=True)
class Failure:
    """A transport-neutral view of an RPC error."""

    code: str
    message: str
    reason: str
    field_violations: list[str]
    metadata: dict[str, str]


def failure_of_grpc(error: grpc.RpcError) -> Failure:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    details = list(status.details) if status is not None else []
    return _failure(error.code().name, error.details() or "", details)  # type: ignore[attr-defined]


def failure_of_connect(error: ConnectError) -> Failure:
    from google.protobuf import any_pb2

    details = [
        any_pb2.Any(type_url="type.googleapis.com/" + d.type_name, value=d.message_bytes)
        for d in error.details
    ]
    return _failure(error.code.name, error.message, details)


def _failure(code: str, message: str, details: list[Any]) -> Failure:
    reason, violations, metadata = "", [], {}
    for detail in details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason, metadata = info.reason, dict(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations = [v.field for v in bad.field_violations]
    return Failure(code, message, reason, violations, metadata)


def postgres_admin_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


@contextmanager
def fresh_postgres_database(*, migrated: bool = True) -> Iterator[str]:
    """A new PostgreSQL database for one test; dropped afterwards.

    Migrated to head by default: a copy (`CREATE DATABASE ... TEMPLATE`) of one
    database migrated once per test session, which takes about a quarter of the
    time of running every migration again. `migrated=False` gives an empty one,
    for the tests of the migrations themselves."""
    admin = postgres_admin_url()
    assert admin is not None
    url = make_url(admin)
    name = f"accrue_test_{uuid.uuid4().hex[:12]}"
    template = f' TEMPLATE "{_migrated_postgres_template(admin)}"' if migrated else ""
    engine = create_engine(url.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{template}'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@functools.cache
def _migrated_postgres_template(admin: str) -> str:
    """The name of this session's migrated template database, made on first use
    and dropped when the test process exits. Nothing may stay connected to it,
    or PostgreSQL refuses to copy it."""
    url = make_url(admin).set(drivername="postgresql+psycopg")
    name = f"accrue_test_template_{uuid.uuid4().hex[:12]}"
    server = create_engine(url, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()

    atexit.register(drop)
    database = create_engine(url.set(database=name), poolclass=NullPool)
    migrate.upgrade(database)
    database.dispose()
    return name


@functools.cache
def _migrated_sqlite_template() -> Path:
    """This session's migrated SQLite file, removed when the test process exits."""
    folder = Path(tempfile.mkdtemp(prefix="accrue-test-template-"))
    atexit.register(shutil.rmtree, folder, True)
    template = folder / "template.db"
    engine = create_engine(f"sqlite:///{template}", poolclass=NullPool)
    migrate.upgrade(engine)
    engine.dispose()
    return template


def migrated_sqlite_database(path: Path) -> str:
    """A SQLite database at `path`, migrated to head, as a URL: a copy of a file
    migrated once per test session (copying is much cheaper than migrating)."""
    source = sqlite3.connect(_migrated_sqlite_template())
    target = sqlite3.connect(path)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    return f"sqlite:///{path}"


def settle(app: Any, *, timeout: float = 30.0) -> None:
    """Wait until the sequencer has numbered everything committed so far
    (PostgreSQL numbers postings and events after commit; SQLite at commit)."""
    if app.sequencer is not None:
        app.sequencer.drain(timeout=timeout)


def wait_sequenced(engine: Any, *, timeout: float = 30.0) -> None:
    """Wait until a running sequencer (another process's) has numbered everything
    committed: no transaction without a sequence, no event still queued."""
    import time

    from sqlalchemy import text as sql

    if engine.dialect.name != "postgresql":
        return
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            left = conn.execute(
                sql(
                    "SELECT (SELECT count(*) FROM ledger_transactions WHERE sequence IS NULL)"
                    " + (SELECT count(*) FROM event_queue)"
                )
            ).scalar_one()
        if not left:
            return
        assert time.monotonic() < deadline, f"{left} records still wait for the sequencer"
        time.sleep(0.02)
