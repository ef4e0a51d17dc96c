"""Tenant administration and key authentication on in-memory fakes of their narrow port.

What an operator relies on: a new tenant comes with a working key and the
heads of its ledger and event log; keys are listed without secrets; a revoked
key stops authenticating (once the short cache lapses) and revoking again
keeps the first revocation time; an unknown tenant or key is a typed NotFound.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accrue.kernel.errors import NotFound, Unauthenticated
from accrue.kernel.ids import IdGenerator
from accrue.platform.clock import FixedClock
from accrue.tenancy.service import Authenticator
from accrue.tenancy.use_cases import TenancyUseCases
from tests.fakes.tenancy import FakeTenancyUnitOfWork
from tests.fakes.transactions import FakeDatabase, FakeUnitOfWorkFactory

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def factory(db: FakeDatabase) -> FakeUnitOfWorkFactory[FakeTenancyUnitOfWork]:
    return FakeUnitOfWorkFactory(db, FakeTenancyUnitOfWork)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def tenancy(
    factory: FakeUnitOfWorkFactory[FakeTenancyUnitOfWork], clock: FixedClock
) -> TenancyUseCases:
    return TenancyUseCases(factory, clock, IdGenerator(clock))


def test_a_new_tenant_has_a_working_key_and_both_log_heads(
    tenancy: TenancyUseCases,
    factory: FakeUnitOfWorkFactory[FakeTenancyUnitOfWork],
    db: FakeDatabase,
) -> None:
    created = tenancy.create_tenant("acme")

    assert Authenticator(factory).tenant_for(f"Bearer {created.api_key}") == created.tenant.id
    assert tenancy.resolve("acme") == created.tenant == tenancy.resolve(created.tenant.id)
    assert created.tenant.id in db.rows("ledger_heads")
    assert created.tenant.id in db.rows("event_heads")
    assert factory.opened["write"] == 1  # tenant, key and heads in one transaction


def test_listed_keys_carry_a_prefix_and_never_the_secret(tenancy: TenancyUseCases) -> None:
    created = tenancy.create_tenant("acme")
    second = tenancy.new_key(created.tenant.id)

    keys = tenancy.list_keys(created.tenant.id)
    assert [k.key_id for k in keys][1] == second.key_id
    assert keys[0].prefix == created.api_key[: len(keys[0].prefix)]
    assert all(second.secret not in repr(k) and created.api_key not in repr(k) for k in keys)


def test_a_revoked_key_stops_authenticating_and_keeps_its_first_revocation_time(
    tenancy: TenancyUseCases,
    factory: FakeUnitOfWorkFactory[FakeTenancyUnitOfWork],
    clock: FixedClock,
) -> None:
    created = tenancy.create_tenant("acme")
    key_id = tenancy.list_keys(created.tenant.id)[0].key_id
    authenticator = Authenticator(factory, cache_seconds=0)

    revoked = tenancy.revoke_key(created.tenant.id, key_id)
    clock.advance(timedelta(hours=1))
    again = tenancy.revoke_key(created.tenant.id, key_id)

    assert revoked.revoke_time == NOW and again.revoke_time == NOW
    with pytest.raises(Unauthenticated):
        authenticator.tenant_for(f"Bearer {created.api_key}")


def test_unknown_tenants_and_keys_are_not_found(tenancy: TenancyUseCases) -> None:
    created = tenancy.create_tenant("acme")
    other = tenancy.create_tenant("globex")
    other_key = tenancy.list_keys(other.tenant.id)[0].key_id

    with pytest.raises(NotFound):
        tenancy.new_key("ten_missing")
    with pytest.raises(NotFound):
        tenancy.list_keys("ten_missing")
    with pytest.raises(NotFound):
        tenancy.resolve("nobody")
    with pytest.raises(NotFound):  # another tenant's key is not this tenant's to revoke
        tenancy.revoke_key(created.tenant.id, other_key)
    assert tenancy.list_keys(other.tenant.id)[0].revoke_time is None
    assert tenancy.find_by_name("nobody") is None


@pytest.mark.parametrize(
    "header", [None, "", "Basic abc", "Bearer nope", "Bearer acc_" + "x" * 300, "Bearer acc_x"]
)
def test_anything_but_a_live_key_is_refused_with_one_message(
    tenancy: TenancyUseCases, factory: FakeUnitOfWorkFactory[FakeTenancyUnitOfWork], header: str
) -> None:
    tenancy.create_tenant("acme")

    with pytest.raises(Unauthenticated) as raised:
        Authenticator(factory).tenant_for(header)
    assert raised.value.message == "a valid API key is required: authorization: Bearer <key>"
