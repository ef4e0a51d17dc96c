"""The guarantees of the in-memory unit of work the use-case tests run on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from accrue.platform.idempotency import RequestIdentity
from accrue.platform.ports import StoredResponse
from tests.fakes.transactions import (
    TENANT,
    DuplicateKey,
    FakeDatabase,
    FakeUnitOfWork,
    FakeUnitOfWorkFactory,
    replay,
)

WHEN = datetime(2026, 3, 1, tzinfo=UTC)


@dataclass
class FakeStore:
    rows: dict[str, int] = field(default_factory=dict)
    script: list[str] = field(default_factory=list)
    outside_transactions = ("script",)


def test_nothing_is_kept_unless_committed() -> None:
    db = FakeDatabase(store=FakeStore())
    factory = FakeUnitOfWorkFactory(db)
    with factory(write=True) as uow:
        uow.store.rows["a"] = 1
        uow.table("things")["a"] = 1
        uow.store.script.append("fault")
    assert db.store.rows == {}
    assert db.rows("things") == {}
    assert db.store.script == ["fault"]  # a test's script survives the rollback
    assert (db.commits, db.rollbacks) == (0, 1)

    with factory(write=True) as uow:
        uow.store.rows["a"] = 1
        uow.table("things")["a"] = 1
        uow.commit()
    assert db.store.rows == {"a": 1}
    assert db.rows("things") == {"a": 1}
    assert db.commits == 1
    assert factory.opened == {"read": 0, "write": 2}


def test_a_failure_rolls_back_what_the_unit_of_work_wrote() -> None:
    db = FakeDatabase()
    with pytest.raises(RuntimeError), FakeUnitOfWork(db, write=True) as uow:
        uow.table("things")["a"] = 1
        raise RuntimeError("half way")
    assert db.rows("things") == {}


def test_a_read_only_unit_of_work_refuses_to_commit() -> None:
    db = FakeDatabase()
    with pytest.raises(AssertionError), FakeUnitOfWorkFactory(db)(write=False) as uow:
        uow.commit()
    assert db.commits == 0


def test_a_second_response_for_the_same_key_is_refused() -> None:
    db = FakeDatabase()
    stored = StoredResponse("M", "f", b"r")
    with FakeUnitOfWorkFactory(db)(write=True) as uow:
        uow.idempotency.add(TENANT, "r-1", stored, create_time=WHEN)
        with pytest.raises(DuplicateKey):
            uow.idempotency.add(TENANT, "r-1", stored, create_time=WHEN)
        uow.idempotency.add("other", "r-1", stored, create_time=WHEN)
        uow.commit()
    assert db.idempotency.get(TENANT, "r-1") == stored


def test_replay_identifies_the_request_only_with_a_request_id() -> None:
    assert replay(TENANT).identity is None
    again = replay(TENANT, "r-1", method="M", request="body")
    assert again.identity == RequestIdentity(TENANT, "r-1", "M", fingerprint="body")
    assert again.encode((1, "a")) == b"(1, 'a')"
