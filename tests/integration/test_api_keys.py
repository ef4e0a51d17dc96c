"""API keys from the command line: list (never a secret), issue, revoke; a
revoked key is refused by every server process sharing the database within 1 s."""

from __future__ import annotations

import time

import grpc
import pytest

from accrue.billing.v1 import customer_pb2
from accrue.cli import main
from accrue.tenancy.service import MAX_KEY_CACHE_SECONDS
from tests.support import GrpcClients, running_server


def _works(target: str, key: str) -> bool:
    clients = GrpcClients(target, key)
    try:
        clients.customers.ListCustomers(
            customer_pb2.ListCustomersRequest(), metadata=clients.metadata, timeout=10
        )
        return True
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
        return False
    finally:
        clients.close()


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_keys_are_listed_issued_and_revoked_everywhere_within_a_second(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_server(database_url) as first, running_server(database_url) as second:
        created = first.app.tenants.create_tenant("acme")
        tenant_id, old_key = created.tenant.id, created.api_key
        db = ("--database-url", database_url)

        issued = _cli(capsys, "tenant", "new-key", "acme", *db)
        new_key = issued.split("api key ")[1].split()[0]
        listed = _cli(capsys, "tenant", "keys", tenant_id, *db)
        assert old_key not in listed and new_key not in listed
        assert old_key[:12] in listed and new_key[:12] in listed
        rows = [line.split() for line in listed.splitlines()[1:]]
        assert len(rows) == 2 and all(row[-1] == "-" for row in rows)
        old_key_id = rows[0][0]

        # Both processes have the old key cached.
        for server in (first, second):
            assert _works(server.grpc_target, old_key)
            assert _works(server.grpc_target, new_key)

        _cli(capsys, "tenant", "revoke-key", "acme", old_key_id, *db)
        revoked_at = time.monotonic()

        refused_after = {}
        while len(refused_after) < 2 and time.monotonic() - revoked_at < 5:
            for name, server in (("first", first), ("second", second)):
                if name not in refused_after and not _works(server.grpc_target, old_key):
                    refused_after[name] = time.monotonic() - revoked_at
        assert set(refused_after) == {"first", "second"}
        assert max(refused_after.values()) <= MAX_KEY_CACHE_SECONDS, refused_after
        for server in (first, second):
            assert _works(server.grpc_target, new_key)
        listed = _cli(capsys, "tenant", "keys", "acme", *db)
        assert [line.split()[0] for line in listed.splitlines()[1:] if line.split()[-1] != "-"] == [
            old_key_id
        ]


def test_unknown_tenants_and_keys_are_an_error_not_a_traceback(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ("--database-url", sqlite_url)
    assert main(["tenant", "keys", "nobody", *db]) == 1
    assert main(["tenant", "create", "acme", *db]) == 0
    assert main(["tenant", "revoke-key", "acme", "key_nope", *db]) == 1
    assert "not found" in capsys.readouterr().err
