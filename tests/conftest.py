"""Fixtures: SQLite and PostgreSQL databases, a running server, clients for both transports."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support import (
    ConnectClients,
    GrpcClients,
    RunningServer,
    fresh_postgres_database,
    migrated_sqlite_database,
    postgres_admin_url,
    running_server,
)

_pg_reason: str | None = None


def _postgres_unavailable() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    global _pg_reason
    if _pg_reason is not None:
        return _pg_reason or None
    url = postgres_admin_url()
    if url is None:
        _pg_reason = (
            "ACCRUE_TEST_POSTGRES_URL is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)"
        )
        return _pg_reason
    try:
        engine = create_engine(
            make_url(url).set(drivername="postgresql+psycopg"), connect_args={"connect_timeout": 3}
        )
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        _pg_reason = ""
    except Exception as exc:  # any failure to connect means "skip, and say why"
        where = make_url(url).render_as_string()
        _pg_reason = f"PostgreSQL at {where} is not reachable: {exc.__class__.__name__}"
    return _pg_reason or None


def _skip_or_fail_without_postgres() -> None:
    reason = _postgres_unavailable()
    if reason:
        if os.environ.get("ACCRUE_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required here (ACCRUE_REQUIRE_POSTGRES is set): {reason}")
        pytest.skip(reason)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database migrated to head (a copy of one migrated per session)."""
    return migrated_sqlite_database(tmp_path / "accrue.db")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database migrated to head, dropped afterwards."""
    _skip_or_fail_without_postgres()
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Runs a test once on SQLite and once on PostgreSQL, each migrated to head."""
    if request.param == "sqlite":
        yield migrated_sqlite_database(tmp_path / "accrue.db")
        return
    _skip_or_fail_without_postgres()
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Like `database_url` but empty: for the tests of the migrations themselves."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'accrue.db'}"
        return
    _skip_or_fail_without_postgres()
    with fresh_postgres_database(migrated=False) as url:
        yield url


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server on SQLite per test module; tests isolate themselves by tenant."""
    path = tmp_path_factory.mktemp("server") / "accrue.db"
    with running_server(migrated_sqlite_database(path)) as running:
        yield running


@pytest.fixture
def api_key(server: RunningServer) -> str:
    return server.new_tenant()


@pytest.fixture
def grpc_clients(server: RunningServer, api_key: str) -> Iterator[GrpcClients]:
    clients = GrpcClients(server.grpc_target, api_key)
    yield clients
    clients.close()


@pytest.fixture
def connect_clients(server: RunningServer, api_key: str) -> Iterator[ConnectClients]:
    clients = ConnectClients(server.connect_url, api_key)
    yield clients
    clients.close()


class Transport:
    """One transport's clients plus a uniform way to catch its errors."""

    def __init__(self, name: str, clients: GrpcClients | ConnectClients) -> None:
        self.name = name
        self.clients = clients

    def call(self, service: str, method: str, request: object) -> object:
        return self.clients.call(service, method, request)

    def fail(self, service: str, method: str, request: object):  # type: ignore[no-untyped-def]
        import grpc
        from connectrpc.errors import ConnectError

        from tests.support import failure_of_connect, failure_of_grpc

        try:
            response = self.clients.call(service, method, request)
        except grpc.RpcError as error:
            return failure_of_grpc(error)
        except ConnectError as error:
            return failure_of_connect(error)
        raise AssertionError(f"{method} succeeded but should have failed: {response}")


@pytest.fixture(params=["grpc", "connect"])
def rpc(request: pytest.FixtureRequest, server: RunningServer, api_key: str) -> Iterator[Transport]:
    """The same test over gRPC and over Connect, as one tenant."""
    if request.param == "grpc":
        clients: GrpcClients | ConnectClients = GrpcClients(server.grpc_target, api_key)
    else:
        clients = ConnectClients(server.connect_url, api_key)
    yield Transport(request.param, clients)
    clients.close()
