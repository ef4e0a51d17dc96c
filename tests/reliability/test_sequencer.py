"""The PostgreSQL sequencer: order and tamper evidence established after commit.

Postings and events commit without a tenant-wide lock; a sequencer numbers
them later. What must hold: a sequencer killed mid-batch loses and repeats
nothing; several servers and workers on one database still make one chain per
tenant; a transaction that commits late is numbered after those that committed
before it and is never skipped, and it holds back nobody else; streams in
another process wake on NOTIFY; and a chain rewritten behind a signed
checkpoint is caught by it.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select, update

from accrue import schema as t
from accrue.billing.v1 import ledger_pb2 as pb
from accrue.billing.v1.money_pb2 import Money
from accrue.bootstrap import Application, build_application
from accrue.config import Settings
from accrue.kernel.paging import PageRequest
from accrue.ledger.checkpoint_keys import load_keys
from accrue.ledger.model import AccountRef, Direction, Entry, PostingRequest, Transaction
from accrue.ledger.sequencer import CRASH_EXIT_CODE, LedgerSequencer, list_checkpoints
from tests.reliability.processes import start_server
from tests.support import GrpcClients, settle

ROUNDS = 3


def app_for(url: str, **overrides: object) -> Application:
    return build_application(Settings(database_url=url, log_level="WARNING", **overrides))  # type: ignore[arg-type]


def transfer(source_id: str, amount: int, currency: str = "USD") -> PostingRequest:
    return PostingRequest(
        entries=(
            Entry(AccountRef("bank", currency), Direction.DEBIT, amount),
            Entry(AccountRef("revenue", currency), Direction.CREDIT, amount),
        ),
        source_type="test",
        source_id=source_id,
    )


def post(app: Application, tenant_id: str, source_id: str, amount: int = 100) -> Transaction:
    with app.uow_factory(write=True) as uow:
        tx = app.ledger.post(uow, tenant_id, transfer(source_id, amount))
        uow.commit()
    return tx


def chain_of(app: Application, tenant_id: str) -> list[tuple[int, str]]:
    x = t.ledger_transactions.c
    with app.engine.connect() as conn:
        rows = conn.execute(
            select(x.sequence, x.source_id).where(x.tenant_id == tenant_id).order_by(x.sequence)
        )
        return [(row.sequence, row.source_id) for row in rows]


def event_sequences(app: Application, tenant_id: str) -> list[int]:
    e = t.events.c
    with app.engine.connect() as conn:
        query = select(e.sequence).where(e.tenant_id == tenant_id).order_by(e.sequence)
        return list(conn.execute(query).scalars())


def assert_one_whole_chain(app: Application, tenant_id: str, expected: int) -> None:
    chain = chain_of(app, tenant_id)
    assert [seq for seq, _ in chain] == list(range(1, expected + 1))
    assert len({source for _, source in chain}) == expected
    assert event_sequences(app, tenant_id) == list(range(1, expected + 1))
    with app.uow_factory(write=False) as uow:
        result = app.ledger.verify(uow, tenant_id)
    assert result.intact, result
    assert (result.transactions_checked, result.unsequenced) == (expected, 0)


@pytest.fixture
def pg_app(postgres_url: str) -> Iterator[Application]:
    app = app_for(postgres_url, db_pool_size=8)
    yield app
    app.close()


def test_a_sequencer_killed_mid_batch_leaves_the_chain_gapless_and_intact(
    postgres_url: str, pg_app: Application
) -> None:
    tenant_id = pg_app.tenants.create_tenant("seq").tenant.id
    env = {
        **os.environ,
        "ACCRUE_DATABASE_URL": postgres_url,
        "ACCRUE_SEQUENCER_BATCH_SIZE": "4",
        "ACCRUE_LOG_LEVEL": "WARNING",
    }
    posted = 0
    for round_number in range(ROUNDS):
        for _ in range(30):
            post(pg_app, tenant_id, f"r{round_number}-{posted}")
            posted += 1
        seed = random.Random(round_number).randrange(1_000_000)
        killed = subprocess.run(
            [sys.executable, "-m", "accrue.cli", "ledger", "sequence", "--once"],
            env={**env, "ACCRUE_FAULT_SEQUENCER_CRASH_SEED": str(seed)},
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert killed.returncode == CRASH_EXIT_CODE, killed.stderr
        assert "CRASH in sequencer batch" in killed.stderr
        # What the dead sequencer committed is a whole prefix of the chain.
        numbered = [seq for seq, _ in chain_of(pg_app, tenant_id) if seq is not None]
        assert numbered == list(range(1, len(numbered) + 1))
    clean = subprocess.run(
        [sys.executable, "-m", "accrue.cli", "ledger", "sequence", "--once"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert clean.returncode == 0, clean.stderr
    assert_one_whole_chain(pg_app, tenant_id, posted)


def test_balances_are_exact_while_postings_wait_for_the_sequencer(pg_app: Application) -> None:
    """Postings leave the accounts table alone (the hot row lock was the
    tenant-wide queue); the sequencer adds each numbered batch's amounts, and
    every read in between adds what is still pending, so a balance is never
    missing a committed posting and never counts one twice."""
    tenant_id = pg_app.tenants.create_tenant("balances").tenant.id
    assert pg_app.sequencer is not None
    amounts = [100 + 7 * i for i in range(10)]
    for i, amount in enumerate(amounts):
        post(pg_app, tenant_id, f"b{i}", amount)
    bank = AccountRef("bank", "USD").id
    a = t.ledger_accounts.c

    def stored_net() -> int | None:
        with pg_app.engine.connect() as conn:
            query = select(a.net_minor).where(a.tenant_id == tenant_id, a.id == bank)
            return conn.execute(query).scalar_one_or_none()

    def read_net() -> int:
        with pg_app.uow_factory(write=False) as uow:
            account = pg_app.ledger.get_account(uow, tenant_id, bank)
            nets = uow.ledger.nets(tenant_id, [bank])
            listed = pg_app.ledger.list_accounts(
                uow,
                tenant_id,
                PageRequest.parse(page_size=10, page_token="", query={}),
                currency_code="USD",
                customer_id="",
                code="bank",
            )
        assert nets[bank] == account.net_minor == listed.items[0].net_minor
        return account.net_minor

    # No poster wrote the accounts table, not even to create the account; it
    # is read (and listed) from the pending entries alone.
    assert stored_net() is None
    assert read_net() == sum(amounts)
    # A batch of four: part applied, part pending; the sum is unchanged.
    small = LedgerSequencer(pg_app.engine, pg_app.clock, pg_app.sequencer.keys, batch_size=4)
    assert small.sequence_tenant(tenant_id) == 4 + 4  # four postings and four events
    assert stored_net() == sum(amounts[:4])
    assert read_net() == sum(amounts)
    settle(pg_app)
    assert stored_net() == read_net() == sum(amounts)
    with pg_app.uow_factory(write=False) as uow:
        result = pg_app.ledger.verify(uow, tenant_id)
    assert result.intact and not result.mismatches, result


def test_a_late_commit_is_sequenced_after_earlier_commits_and_stalls_no_one(
    pg_app: Application,
) -> None:
    tenant_id = pg_app.tenants.create_tenant("late").tenant.id
    other_tenant = pg_app.tenants.create_tenant("other").tenant.id
    pg_app.start_background(listen=False)
    late = pg_app.uow_factory(write=True)
    with late as uow:
        # Postings lock no balance row; EUR only so that this open transaction is
        # not the first to create the accounts the early postings use.
        late_tx = pg_app.ledger.post(uow, tenant_id, transfer("late", 7, "EUR"))
        started = time.monotonic()
        early = [post(pg_app, tenant_id, f"early-{i}") for i in range(5)]
        post(pg_app, other_tenant, "elsewhere")
        # Numbered while the late transaction is still open (it stays open until
        # this test commits it): nothing waits for it, in its tenant or another.
        deadline = time.monotonic() + 10
        while len([s for s, _ in chain_of(pg_app, tenant_id) if s]) < 5 or [
            s for s, _ in chain_of(pg_app, other_tenant)
        ] != [1]:
            assert time.monotonic() < deadline, "an open transaction stalled sequencing"
            time.sleep(0.02)
        time.sleep(max(0.0, 2.0 - (time.monotonic() - started)))
        uow.commit()
    settle(pg_app)
    order = {source: seq for seq, source in chain_of(pg_app, tenant_id)}
    assert order["late"] == 6
    assert sorted(order[tx.source_id] for tx in early) == [1, 2, 3, 4, 5]
    assert late_tx.sequence == 0  # numbered after commit, never before
    assert_one_whole_chain(pg_app, tenant_id, 6)


def test_an_idle_stream_elsewhere_wakes_on_notify_within_100_ms(
    postgres_url: str, pg_app: Application
) -> None:
    tenant_id = pg_app.tenants.create_tenant("wake").tenant.id
    pg_app.start_background(listen=False)
    reader = app_for(postgres_url, db_pool_size=2)  # another process's application
    try:
        assert reader.listener is not None
        reader.listener.start()
        assert reader.listener.listening.wait(5)
        delays = []
        for i in range(5):
            rung = reader.event_bell.rung(tenant_id)
            committed = time.monotonic()
            post(pg_app, tenant_id, f"wake-{i}")
            reader.event_bell.wait(tenant_id, rung, timeout=2.0)
            delays.append(time.monotonic() - committed)
            time.sleep(0.05)
        assert sorted(delays)[len(delays) // 2] < 0.1, delays
        assert max(delays) < 0.5, delays
    finally:
        reader.close()


def test_two_servers_and_two_workers_make_one_chain_per_tenant(
    postgres_url: str, pg_app: Application
) -> None:
    tenants = [pg_app.tenants.create_tenant(f"multi{i}") for i in range(2)]
    env = {
        **os.environ,
        "ACCRUE_DATABASE_URL": postgres_url,
        "ACCRUE_LOG_LEVEL": "WARNING",
        "ACCRUE_DB_POOL_SIZE": "4",
        "ACCRUE_SEQUENCER_BATCH_SIZE": "5",
    }
    servers = [start_server(env) for _ in range(2)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "accrue.cli", "worker", "--poll-seconds", "0.2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    per_caller, errors = 15, []

    def caller(port: int, key: str, number: int) -> None:
        clients = GrpcClients(f"127.0.0.1:{port}", key)
        try:
            for i in range(per_caller):
                amount = Money(amount_minor=100 + i, currency_code="USD")
                clients.call(
                    "LedgerService",
                    "CreateAdjustment",
                    pb.CreateAdjustmentRequest(
                        request_id=f"c{number}-{i}",
                        reason="multi",
                        entries=[
                            pb.LedgerEntry(account_id="bank:USD", direction=1, amount=amount),
                            pb.LedgerEntry(
                                account_id="opening_balance:USD", direction=2, amount=amount
                            ),
                        ],
                    ),
                )
        except BaseException as error:  # any failure fails the test
            errors.append(error)
        finally:
            clients.close()

    try:
        threads = [
            threading.Thread(target=caller, args=(port, created.api_key, n))
            for n, ((_, port), created) in enumerate(
                (server, tenant) for server in servers for tenant in tenants
            )
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        deadline = time.monotonic() + 20
        for created in tenants:
            while len([s for s, _ in chain_of(pg_app, created.tenant.id) if s]) < 2 * per_caller:
                assert time.monotonic() < deadline, "the running sequencers did not catch up"
                time.sleep(0.05)
    finally:
        for process, _ in servers:
            process.terminate()
        for worker in workers:
            worker.terminate()
        for process in [p for p, _ in servers] + workers:
            process.wait(timeout=30)
    for created in tenants:
        assert_one_whole_chain(pg_app, created.tenant.id, 2 * per_caller)


def _key_file(path: Path) -> Path:
    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _public_file(private: Path, path: Path) -> Path:
    key = serialization.load_pem_private_key(private.read_bytes(), password=None)
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def test_a_chain_rewritten_behind_a_checkpoint_is_detected(
    database_url: str, tmp_path: Path
) -> None:
    old_key = _key_file(tmp_path / "old.pem")
    new_key = _key_file(tmp_path / "new.pem")
    app = app_for(database_url, ledger_signing_key_file=str(old_key))
    try:
        tenant_id = app.tenants.create_tenant("anchor").tenant.id
        for i in range(5):
            post(app, tenant_id, f"a{i}", amount=100 * (i + 1))
        settle(app)
        assert app.sequencer is not None and app.sequencer.sign_checkpoints() == 1
        with app.engine.connect() as conn:
            exported = list_checkpoints(conn, tenant_id)
        assert [c.sequence for c in exported] == [5]
        checkpoint = exported[-1]
        keys = app.sequencer.keys
        with app.uow_factory(write=False) as uow:
            assert app.ledger.verify_checkpoint(uow, tenant_id, checkpoint, keys) == ""

        # The attack: drop the two newest transactions, rewind the head, fix the
        # balances and remove the stored checkpoints.
        x, e, a, h = (
            t.ledger_transactions.c,
            t.ledger_entries.c,
            t.ledger_accounts.c,
            t.ledger_heads.c,
        )
        with app.engine.begin() as conn:
            newest = conn.execute(
                select(x.id, x.sequence).where(x.tenant_id == tenant_id, x.sequence > 3)
            ).all()
            ids = [row.id for row in newest]
            removed = 400 + 500
            conn.execute(delete(t.ledger_entries).where(e.transaction_id.in_(ids)))
            conn.execute(delete(t.ledger_transactions).where(x.id.in_(ids)))
            third = conn.execute(
                select(x.hash).where(x.tenant_id == tenant_id, x.sequence == 3)
            ).scalar_one()
            conn.execute(
                update(t.ledger_heads)
                .where(h.tenant_id == tenant_id)
                .values(last_sequence=3, last_hash=third)
            )
            for account_id, sign in (("bank:USD", 1), ("revenue:USD", -1)):
                conn.execute(
                    update(t.ledger_accounts)
                    .where(a.tenant_id == tenant_id, a.id == account_id)
                    .values(net_minor=a.net_minor - sign * removed)
                    .values(
                        debits_minor=a.debits_minor - (removed if sign > 0 else 0),
                        credits_minor=a.credits_minor - (removed if sign < 0 else 0),
                    )
                )
            conn.execute(delete(t.ledger_checkpoints))
        with app.uow_factory(write=False) as uow:
            assert app.ledger.verify(uow, tenant_id).intact  # fooled without an anchor
            problem = app.ledger.verify_checkpoint(uow, tenant_id, checkpoint, keys)
        assert problem == "transaction 5 of the signed chain is missing"

        # Through the CLI, with the export in a file and the key rotated: the
        # old key's checkpoint is still accepted, an unknown key's is not.
        exported_file = tmp_path / "checkpoints.json"
        exported_file.write_text(json.dumps([checkpoint.as_json()]))
        env = {
            **os.environ,
            "ACCRUE_DATABASE_URL": database_url,
            "ACCRUE_LEDGER_SIGNING_KEY_FILE": str(new_key),
            "ACCRUE_LEDGER_VERIFY_KEY_FILES": str(_public_file(old_key, tmp_path / "old.pub")),
            "ACCRUE_LOG_LEVEL": "WARNING",
        }
        verify = [sys.executable, "-m", "accrue.cli", "ledger", "verify", "--tenant", tenant_id]
        run = subprocess.run(
            [*verify, "--checkpoint", str(exported_file)],
            env=env,
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 1, run.stderr
        report = json.loads(run.stdout)
        assert report["intact"] is True
        assert report["checkpoint_problem"] == "transaction 5 of the signed chain is missing"
        rotated = load_keys(
            signing_key_file=str(new_key), verify_key_files=[], database_url=database_url
        )
        assert rotated.check(checkpoint).startswith("checkpoint signed with unknown key")
        forged = rotated.sign(checkpoint)
        assert keys.check(forged).startswith("checkpoint signed with unknown key")
    finally:
        app.close()
