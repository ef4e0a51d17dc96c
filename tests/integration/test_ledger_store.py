"""The ledger's store through the internal posting API, on SQLite and PostgreSQL.

What must hold however postings arrive: every currency nets to zero, stored
balances equal the sum of their entries, each posting is one transaction plus
one event, a source posts at most once, and any edit made behind the API's
back (changed, deleted or truncated rows, doctored balances) shows up in
VerifyLedger.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Table, delete, func, select, update

from accrue import schema as t
from accrue.billing.v1 import ledger_pb2 as pb
from accrue.bootstrap import Application, build_application
from accrue.config import Settings
from accrue.events.v1 import events_pb2
from accrue.kernel.errors import ConcurrentModification, InvalidState, ValidationFailed
from accrue.ledger.model import (
    GENESIS_HASH,
    AccountRef,
    Direction,
    Entry,
    PostingRequest,
    Transaction,
    net_balances,
    seal,
)
from accrue.ledger.service import Verification
from tests.support import GrpcClients, RunningServer, running_server, settle

DEBIT, CREDIT = Direction.DEBIT, Direction.CREDIT
CURRENCIES = ["USD", "EUR", "JPY"]
# Tenant-wide and per-customer accounts of every normal side and class.
CODES = ["bank", "revenue", "psp_clearing", "psp_fees", "tax_payable", "refunds"]
CUSTOMER_CODES = ["accounts_receivable", "customer_credit"]
bounded = settings(max_examples=25, deadline=None, derandomize=True)


# --- helpers -------------------------------------------------------------------


def app_for(database_url: str, **overrides: object) -> Application:
    return build_application(
        Settings(database_url=database_url, log_level="WARNING", **overrides)  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def sqlite_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Application]:
    """One SQLite application per module; every example works in a fresh tenant."""
    path = tmp_path_factory.mktemp("ledger") / "accrue.db"
    app = app_for(f"sqlite:///{path}")
    yield app
    app.close()


@pytest.fixture
def either_app(database_url: str) -> Iterator[Application]:
    """An application on SQLite, then on PostgreSQL, where a posting batch is
    inserted unsequenced in one statement and numbered by the sequencer."""
    app = app_for(database_url)
    yield app
    app.close()


def new_tenant(app: Application) -> str:
    return app.tenants.create_tenant("ledger").tenant.id


def post(app: Application, tenant_id: str, request: PostingRequest) -> Transaction:
    with app.uow_factory(write=True) as uow:
        tx = app.ledger.post(uow, tenant_id, request)
        uow.commit()
    return sequenced(app, tenant_id, [tx])[0]


def post_many(
    app: Application, tenant_id: str, requests: list[PostingRequest]
) -> list[Transaction]:
    with app.uow_factory(write=True) as uow:
        posted = app.ledger.post_many(uow, tenant_id, requests)
        uow.commit()
    return sequenced(app, tenant_id, posted)


def sequenced(app: Application, tenant_id: str, posted: list[Transaction]) -> list[Transaction]:
    """`posted` as read back once the sequencer numbered it (PostgreSQL numbers
    after commit; SQLite already did at commit)."""
    settle(app)
    with app.uow_factory(write=False) as uow:
        return [app.ledger.get_transaction(uow, tenant_id, tx.id) for tx in posted]


def verify(app: Application, tenant_id: str) -> Verification:
    settle(app)
    with app.uow_factory(write=False) as uow:
        return app.ledger.verify(uow, tenant_id)


def posting(source_id: str, *entries: Entry, source_type: str = "test") -> PostingRequest:
    return PostingRequest(entries=entries, source_type=source_type, source_id=source_id)


def transfer(source_id: str, debit: str, credit: str, amount: int) -> PostingRequest:
    return posting(
        source_id,
        Entry(AccountRef(*debit.split(":")), DEBIT, amount),
        Entry(AccountRef(*credit.split(":")), CREDIT, amount),
    )


@dataclass(frozen=True)
class Snapshot:
    """Everything a posting could write for one tenant."""

    transactions: int
    entries: int
    accounts: tuple[tuple[str, int, int, int], ...]
    events: int
    ledger_head: tuple[int, str]
    event_head: int


def count(conn: Connection, table: Table, tenant_id: str) -> int:
    query = select(func.count()).select_from(table).where(table.c.tenant_id == tenant_id)
    return conn.execute(query).scalar_one()


def snapshot(app: Application, tenant_id: str) -> Snapshot:
    settle(app)
    a, h, eh = t.ledger_accounts.c, t.ledger_heads.c, t.event_heads.c
    with app.engine.connect() as conn:
        accounts = conn.execute(
            select(a.id, a.net_minor, a.debits_minor, a.credits_minor)
            .where(a.tenant_id == tenant_id)
            .order_by(a.id)
        )
        head = conn.execute(
            select(h.last_sequence, h.last_hash).where(h.tenant_id == tenant_id)
        ).one()
        return Snapshot(
            transactions=count(conn, t.ledger_transactions, tenant_id),
            entries=count(conn, t.ledger_entries, tenant_id),
            accounts=tuple(tuple(row) for row in accounts),
            events=count(conn, t.events, tenant_id),
            ledger_head=(head.last_sequence, head.last_hash),
            event_head=conn.execute(
                select(eh.last_sequence).where(eh.tenant_id == tenant_id)
            ).scalar_one(),
        )


def entry_rows(app: Application, tenant_id: str) -> list[tuple[str, str, int]]:
    e = t.ledger_entries.c
    with app.engine.connect() as conn:
        rows = conn.execute(
            select(e.account_id, e.currency_code, e.amount_minor).where(e.tenant_id == tenant_id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def sequences(app: Application, table: Table, tenant_id: str) -> list[int]:
    settle(app)
    with app.engine.connect() as conn:
        query = select(table.c.sequence).where(table.c.tenant_id == tenant_id)
        return list(conn.execute(query.order_by(table.c.sequence)).scalars())


# --- generated postings ----------------------------------------------------------


@st.composite
def accounts(draw: st.DrawFn, currency: str) -> AccountRef:
    if draw(st.booleans()):
        return AccountRef(draw(st.sampled_from(CODES)), currency)
    customer = draw(st.sampled_from(["cus_a", "cus_b"]))
    return AccountRef(draw(st.sampled_from(CUSTOMER_CODES)), currency, customer)


@st.composite
def split(draw: st.DrawFn, total: int) -> list[int]:
    """`total` cut into 1..3 positive parts."""
    if total == 1:
        return [1]
    cuts = draw(st.lists(st.integers(1, total - 1), max_size=2, unique=True))
    return [b - a for a, b in pairwise([0, *sorted(cuts), total])]


@st.composite
def balanced_entries(draw: st.DrawFn) -> tuple[Entry, ...]:
    """Entries on several accounts in one to three currencies, each balancing alone."""
    currencies = draw(st.lists(st.sampled_from(CURRENCIES), min_size=1, max_size=3, unique=True))
    entries = []
    for currency in currencies:
        total = draw(st.one_of(st.integers(1, 10_000), st.integers(1, 10**12)))
        for direction in (DEBIT, CREDIT):
            for part in draw(split(total)):
                entries.append(Entry(draw(accounts(currency)), direction, part))
    return tuple(draw(st.permutations(entries)))


@st.composite
def ledgers(draw: st.DrawFn) -> list[list[PostingRequest]]:
    """Postings grouped into units of work (a group of several is one post_many)."""
    groups = draw(st.lists(st.lists(balanced_entries(), min_size=1, max_size=3), max_size=6))
    counter = iter(range(1_000))
    return [[posting(f"src_{next(counter)}", *entries) for entries in group] for group in groups]


@st.composite
def broken_entries(draw: st.DrawFn) -> tuple[Entry, ...]:
    """Balanced entries with one amount changed or one entry moved to another currency."""
    entries = list(draw(balanced_entries()))
    index = draw(st.integers(0, len(entries) - 1))
    victim = entries[index]
    if draw(st.booleans()):
        delta = draw(st.integers(1, 1_000))
        amount = victim.amount_minor + delta if draw(st.booleans()) else victim.amount_minor - delta
        if amount <= 0:
            amount = victim.amount_minor + delta
        entries[index] = replace(victim, amount_minor=amount)
    else:
        other = draw(st.sampled_from([c for c in CURRENCIES if c != victim.currency_code]))
        entries[index] = replace(victim, account=replace(victim.account, currency_code=other))
    return tuple(entries)


# --- invariants -------------------------------------------------------------------


@bounded
@given(groups=ledgers())
def test_any_sequence_of_balanced_postings_keeps_the_books_balanced(
    sqlite_app: Application, groups: list[list[PostingRequest]]
) -> None:
    app = sqlite_app
    tenant_id = new_tenant(app)
    posted: list[Transaction] = []
    for group in groups:
        if len(group) == 1:
            posted.append(post(app, tenant_id, group[0]))
        else:
            posted.extend(post_many(app, tenant_id, group))
    requests = [request for group in groups for request in group]

    assert [tx.sequence for tx in posted] == list(range(1, len(requests) + 1))
    assert [tx.entries for tx in posted] == [r.entries for r in requests]

    rows = entry_rows(app, tenant_id)
    assert len(rows) == sum(len(r.entries) for r in requests)
    per_currency: Counter[str] = Counter()
    per_account: dict[str, list[int]] = defaultdict(list)
    for account_id, currency, amount in rows:
        assert amount != 0
        assert account_id.split(":")[1] == currency
        per_currency[currency] += amount
        per_account[account_id].append(amount)
    assert all(total == 0 for total in per_currency.values()), per_currency

    expected = net_balances(e for r in requests for e in r.entries)
    state = snapshot(app, tenant_id)
    assert {row[0] for row in state.accounts} == {ref.id for ref in expected} == set(per_account)
    for account_id, net, debits, credits in state.accounts:
        amounts = per_account[account_id]
        assert net == sum(amounts) == expected[AccountRef(*account_id.split(":"))]
        assert debits == sum(a for a in amounts if a > 0)
        assert credits == -sum(a for a in amounts if a < 0)
        assert net == debits - credits

    last_hash = posted[-1].hash if posted else GENESIS_HASH
    assert state.ledger_head == (len(posted), last_hash)
    result = verify(app, tenant_id)
    assert result.intact, result
    assert result.transactions_checked == len(posted)
    assert result.accounts_checked == len(expected)


@bounded
@given(prior=balanced_entries(), broken=broken_entries())
def test_a_posting_that_does_not_balance_per_currency_writes_nothing(
    sqlite_app: Application, prior: tuple[Entry, ...], broken: tuple[Entry, ...]
) -> None:
    app = sqlite_app
    tenant_id = new_tenant(app)
    post(app, tenant_id, posting("prior", *prior))
    before = snapshot(app, tenant_id)
    with app.uow_factory(write=True) as uow:
        with pytest.raises(ValidationFailed) as raised:
            app.ledger.post(uow, tenant_id, posting("broken", *broken))
        # Even a caller that carries on and commits must find nothing written.
        uow.commit()
    assert {v.field for v in raised.value.field_violations} == {"entries"}
    assert snapshot(app, tenant_id) == before
    assert verify(app, tenant_id).intact


def test_a_batch_with_one_bad_posting_writes_none_of_them(sqlite_app: Application) -> None:
    app = sqlite_app
    tenant_id = new_tenant(app)
    before = snapshot(app, tenant_id)
    good = transfer("good", "bank:USD", "revenue:USD", 100)
    mixed = posting(
        "mixed",
        Entry(AccountRef("bank", "USD"), DEBIT, 100),
        Entry(AccountRef("revenue", "EUR"), CREDIT, 100),
    )
    with app.uow_factory(write=True) as uow:
        with pytest.raises(ValidationFailed) as raised:
            app.ledger.post_many(uow, tenant_id, [good, mixed])
        uow.commit()
    descriptions = " ".join(v.description for v in raised.value.field_violations)
    assert "USD does not balance" in descriptions and "EUR does not balance" in descriptions
    assert snapshot(app, tenant_id) == before


# --- idempotency by source ----------------------------------------------------------


def test_posting_the_same_source_twice_returns_the_first_transaction(
    either_app: Application,
) -> None:
    app = either_app
    tenant_id = new_tenant(app)
    request = transfer("inv_1", "accounts_receivable:USD:cus_a", "revenue:USD", 1250)
    first = post(app, tenant_id, request)
    after_first = snapshot(app, tenant_id)
    again = post(app, tenant_id, replace(request, description="retried by a worker"))
    assert again == first
    assert snapshot(app, tenant_id) == after_first
    assert (after_first.transactions, after_first.events) == (1, 1)


def test_the_same_source_twice_in_one_batch_posts_once(either_app: Application) -> None:
    app = either_app
    tenant_id = new_tenant(app)
    request = transfer("inv_1", "bank:EUR", "revenue:EUR", 99)
    posted = post_many(app, tenant_id, [request, request])
    assert posted[0] == posted[1]
    state = snapshot(app, tenant_id)
    assert (state.transactions, state.entries, state.events) == (1, 2, 1)
    assert state.ledger_head == (1, posted[0].hash)


def test_a_batch_with_an_already_posted_source_posts_only_the_new_ones(
    either_app: Application,
) -> None:
    """The posted source is answered with its first transaction; the others
    go in with exactly their own entries, and the books still balance."""
    app = either_app
    tenant_id = new_tenant(app)
    first = post(
        app, tenant_id, transfer("inv_1", "accounts_receivable:USD:cus_a", "revenue:USD", 1250)
    )
    posted = post_many(
        app,
        tenant_id,
        [
            transfer("inv_2", "accounts_receivable:USD:cus_a", "revenue:USD", 300),
            transfer("inv_1", "accounts_receivable:USD:cus_a", "revenue:USD", 1250),
            transfer("inv_3", "bank:USD", "accounts_receivable:USD:cus_a", 1550),
        ],
    )
    assert posted[1] == first
    assert len({tx.id for tx in posted}) == 3
    state = snapshot(app, tenant_id)
    assert (state.transactions, state.entries, state.events) == (3, 6, 3)
    assert sorted(entry_rows(app, tenant_id)) == sorted(
        [
            ("accounts_receivable:USD:cus_a", "USD", 1250),
            ("revenue:USD", "USD", -1250),
            ("accounts_receivable:USD:cus_a", "USD", 300),
            ("revenue:USD", "USD", -300),
            ("bank:USD", "USD", 1550),
            ("accounts_receivable:USD:cus_a", "USD", -1550),
        ]
    )
    assert dict((row[0], row[1]) for row in state.accounts) == {
        "accounts_receivable:USD:cus_a": 0,
        "bank:USD": 1550,
        "revenue:USD": -1550,
    }
    assert verify(app, tenant_id).intact


def test_the_same_source_with_different_entries_is_invalid_state(
    either_app: Application,
) -> None:
    app = either_app
    tenant_id = new_tenant(app)
    first = post(app, tenant_id, transfer("inv_1", "bank:USD", "revenue:USD", 100))
    before = snapshot(app, tenant_id)
    with pytest.raises(InvalidState) as raised:
        post(app, tenant_id, transfer("inv_1", "bank:USD", "revenue:USD", 101))
    assert raised.value.metadata == {"transaction_id": first.id}
    with pytest.raises(InvalidState):
        post_many(
            app,
            tenant_id,
            [
                transfer("inv_2", "bank:USD", "revenue:USD", 5),
                transfer("inv_2", "bank:USD", "revenue:USD", 6),
            ],
        )
    assert snapshot(app, tenant_id) == before


def test_a_transaction_is_reversed_at_most_once(sqlite_app: Application) -> None:
    app = sqlite_app
    tenant_id = new_tenant(app)
    original = post(app, tenant_id, transfer("inv_1", "bank:USD", "revenue:USD", 100))
    reversals = []
    for reason in ("duplicate", "still a duplicate"):
        with app.uow_factory(write=True) as uow:
            reversals.append(app.ledger.reverse(uow, tenant_id, original.id, reason=reason))
            uow.commit()
    assert reversals[0] == reversals[1]
    assert reversals[0].reason == "duplicate"
    state = snapshot(app, tenant_id)
    assert state.transactions == 2
    assert [row[1] for row in state.accounts] == [0, 0]


# --- events -------------------------------------------------------------------------


def test_every_posting_records_one_event_numbered_without_gaps(sqlite_app: Application) -> None:
    app = sqlite_app
    tenant_id = new_tenant(app)
    posted = [
        post(app, tenant_id, transfer(f"s{i}", "bank:USD", "revenue:USD", i + 1)) for i in range(3)
    ]
    posted += post_many(
        app, tenant_id, [transfer(f"s{i}", "bank:JPY", "revenue:JPY", i) for i in range(3, 7)]
    )
    posted.append(post(app, tenant_id, transfer("s0", "bank:USD", "revenue:USD", 1)))  # replay

    ev = t.events.c
    with app.engine.connect() as conn:
        rows = list(
            conn.execute(
                select(
                    ev.sequence,
                    ev.type,
                    ev.resource_type,
                    ev.resource_id,
                    ev.payload_type,
                    ev.payload,
                )
                .where(ev.tenant_id == tenant_id)
                .order_by(ev.sequence)
            )
        )
    assert [row.sequence for row in rows] == list(range(1, 8))
    assert {row.type for row in rows} == {"ledger.transaction_posted"}
    assert {row.resource_type for row in rows} == {"ledger_transaction"}
    assert [row.resource_id for row in rows] == [tx.id for tx in posted[:7]]
    assert {row.payload_type for row in rows} == {"accrue.events.v1.LedgerTransactionPosted"}
    payloads = [events_pb2.LedgerTransactionPosted.FromString(row.payload) for row in rows]
    assert [(p.transaction.id, p.transaction.sequence, p.transaction.hash) for p in payloads] == [
        (tx.id, tx.sequence, tx.hash) for tx in posted[:7]
    ]
    assert snapshot(app, tenant_id).event_head == 7


def test_an_uncommitted_posting_leaves_no_transaction_event_or_head_change(
    sqlite_app: Application,
) -> None:
    app = sqlite_app
    tenant_id = new_tenant(app)
    post(app, tenant_id, transfer("kept", "bank:USD", "revenue:USD", 10))
    before = snapshot(app, tenant_id)

    with app.uow_factory(write=True) as uow:
        app.ledger.post(uow, tenant_id, transfer("dropped", "bank:USD", "revenue:USD", 20))
    assert snapshot(app, tenant_id) == before

    with pytest.raises(RuntimeError), app.uow_factory(write=True) as uow:
        app.ledger.post(uow, tenant_id, transfer("failed", "bank:USD", "revenue:USD", 30))
        raise RuntimeError("the use case failed after posting")
    assert snapshot(app, tenant_id) == before

    # The sequence the rolled-back postings would have taken is handed out again.
    nxt = post(app, tenant_id, transfer("next", "bank:USD", "revenue:USD", 40))
    assert nxt.sequence == 2
    assert sequences(app, t.events, tenant_id) == [1, 2]
    assert verify(app, tenant_id).intact


# --- tampering ----------------------------------------------------------------------


@dataclass
class Tampered:
    server: RunningServer
    tenant_id: str
    clients: GrpcClients
    posted: list[Transaction]

    def verify(self) -> pb.VerifyLedgerResponse:
        return self.clients.ledger.VerifyLedger(
            pb.VerifyLedgerRequest(), metadata=self.clients.metadata, timeout=30
        )

    def sql(self) -> AbstractContextManager[Connection]:
        """A connection that commits its edits when the block ends."""
        return self.server.app.engine.begin()

    def nets(self) -> dict[str, int]:
        a = t.ledger_accounts.c
        with self.server.app.engine.connect() as conn:
            rows = conn.execute(select(a.id, a.net_minor).where(a.tenant_id == self.tenant_id))
            return {row.id: row.net_minor for row in rows}


@pytest.fixture
def ledger_on_disk(database_url: str) -> Iterator[Tampered]:
    """A served tenant with five postings over two currencies, for editing behind its back."""
    with running_server(database_url) as server:
        key = server.new_tenant()
        tenant_id = server.tenant_of(key)
        app = server.app
        posted = [
            post(app, tenant_id, transfer("t1", "bank:USD", "opening_balance:USD", 10_000)),
            post(app, tenant_id, transfer("t2", "bank:EUR", "opening_balance:EUR", 5_000)),
            post(
                app,
                tenant_id,
                posting(
                    "t3",
                    Entry(AccountRef("accounts_receivable", "USD", "cus_a"), DEBIT, 1_190),
                    Entry(AccountRef("revenue", "USD"), CREDIT, 1_000),
                    Entry(AccountRef("tax_payable", "USD"), CREDIT, 190),
                ),
            ),
            post(app, tenant_id, transfer("t4", "psp_fees:USD", "bank:USD", 35)),
            post(app, tenant_id, transfer("t5", "bank:EUR", "revenue:EUR", 700)),
        ]
        clients = GrpcClients(server.grpc_target, key)
        try:
            tampered = Tampered(server, tenant_id, clients, posted)
            result = tampered.verify()
            assert result.intact
            assert (result.transactions_checked, result.accounts_checked) == (5, 9)
            yield tampered
        finally:
            clients.close()


def delete_transaction(conn: Connection, tenant_id: str, transaction_id: str) -> None:
    e, x = t.ledger_entries.c, t.ledger_transactions.c
    conn.execute(
        delete(t.ledger_entries).where(e.tenant_id == tenant_id, e.transaction_id == transaction_id)
    )
    conn.execute(
        delete(t.ledger_transactions).where(x.tenant_id == tenant_id, x.id == transaction_id)
    )


def mismatches(result: pb.VerifyLedgerResponse) -> dict[str, tuple[int, int]]:
    return {
        m.account_id: (m.stored_net.amount_minor, m.computed_net.amount_minor)
        for m in result.balance_mismatches
    }


def test_an_edited_entry_breaks_the_chain_at_its_transaction(ledger_on_disk: Tampered) -> None:
    ledger = ledger_on_disk
    target = ledger.posted[2]
    nets = ledger.nets()
    e = t.ledger_entries.c
    with ledger.sql() as conn:
        conn.execute(
            update(t.ledger_entries)
            .where(e.tenant_id == ledger.tenant_id, e.transaction_id == target.id, e.position == 1)
            .values(amount_minor=e.amount_minor - 1)  # revenue credit 1000 -> 1001
        )
    result = ledger.verify()
    assert not result.intact
    assert result.HasField("first_break")
    assert (result.first_break.sequence, result.first_break.transaction_id) == (3, target.id)
    assert "hash" in result.first_break.problem
    # The altered entry no longer adds up to the balance stored when it was posted.
    assert mismatches(result) == {"revenue:USD": (nets["revenue:USD"], nets["revenue:USD"] - 1)}
    assert result.balance_mismatches[0].stored_net.currency_code == "USD"


def test_a_deleted_middle_transaction_is_named_by_its_missing_sequence(
    ledger_on_disk: Tampered,
) -> None:
    ledger = ledger_on_disk
    missing, found = ledger.posted[2], ledger.posted[3]
    nets = ledger.nets()
    with ledger.sql() as conn:
        delete_transaction(conn, ledger.tenant_id, missing.id)
    result = ledger.verify()
    assert not result.intact
    assert result.first_break.sequence == 3
    assert result.first_break.transaction_id == found.id
    assert "sequence 3" in result.first_break.problem
    assert mismatches(result) == {
        "accounts_receivable:USD:cus_a": (nets["accounts_receivable:USD:cus_a"], 0),
        "revenue:USD": (nets["revenue:USD"], 0),
        "tax_payable:USD": (nets["tax_payable:USD"], 0),
    }


def test_a_deleted_newest_transaction_is_caught_by_the_head(ledger_on_disk: Tampered) -> None:
    ledger = ledger_on_disk
    newest = ledger.posted[-1]
    nets = ledger.nets()
    with ledger.sql() as conn:
        delete_transaction(conn, ledger.tenant_id, newest.id)
    result = ledger.verify()
    assert not result.intact
    assert result.first_break.sequence == 5
    assert result.first_break.transaction_id == ""
    assert "head" in result.first_break.problem
    assert result.transactions_checked == 4
    assert mismatches(result) == {
        "bank:EUR": (nets["bank:EUR"], nets["bank:EUR"] - 700),
        "revenue:EUR": (nets["revenue:EUR"], 0),
    }


def test_a_doctored_balance_is_a_mismatch_of_that_account_only(ledger_on_disk: Tampered) -> None:
    ledger = ledger_on_disk
    nets = ledger.nets()
    a = t.ledger_accounts.c
    with ledger.sql() as conn:
        conn.execute(
            update(t.ledger_accounts)
            .where(a.tenant_id == ledger.tenant_id, a.id == "bank:USD")
            .values(net_minor=a.net_minor + 1_000_000)
        )
    result = ledger.verify()
    assert not result.intact
    assert not result.HasField("first_break")
    assert (result.transactions_checked, result.accounts_checked) == (5, 9)
    assert mismatches(result) == {"bank:USD": (nets["bank:USD"] + 1_000_000, nets["bank:USD"])}


def test_a_rewritten_transaction_with_a_recomputed_hash_breaks_the_next_link(
    ledger_on_disk: Tampered,
) -> None:
    ledger = ledger_on_disk
    target = ledger.posted[1]
    forged = seal(replace(target, description="nothing to see here"), target.previous_hash)
    x = t.ledger_transactions.c
    with ledger.sql() as conn:
        conn.execute(
            update(t.ledger_transactions)
            .where(x.tenant_id == ledger.tenant_id, x.id == target.id)
            .values(description=forged.description, hash=forged.hash)
        )
    result = ledger.verify()
    assert not result.intact
    assert (result.first_break.sequence, result.first_break.transaction_id) == (
        3,
        ledger.posted[2].id,
    )
    assert "previous_hash" in result.first_break.problem
    assert mismatches(result) == {}


def test_verification_through_the_internal_api_agrees_with_the_rpc(
    ledger_on_disk: Tampered,
) -> None:
    ledger = ledger_on_disk
    with ledger.sql() as conn:
        delete_transaction(conn, ledger.tenant_id, ledger.posted[1].id)
    internal = verify(ledger.server.app, ledger.tenant_id)
    served = ledger.verify()
    assert internal.first_break is not None
    assert (internal.first_break.sequence, internal.first_break.transaction_id) == (
        served.first_break.sequence,
        served.first_break.transaction_id,
    )
    assert {m.account_id for m in internal.mismatches} == set(mismatches(served))


# --- concurrency --------------------------------------------------------------------

THREADS, PER_THREAD = 32, 20


def test_concurrent_postings_to_hot_accounts_lose_nothing_on_postgres(postgres_url: str) -> None:
    app = app_for(postgres_url, db_pool_size=THREADS)
    try:
        tenant_id = new_tenant(app)
        barrier = threading.Barrier(THREADS)
        amounts: list[list[int]] = [[] for _ in range(THREADS)]
        errors: list[BaseException] = []

        def worker(number: int) -> None:
            rng = random.Random(number)
            try:
                barrier.wait(timeout=30)
                for i in range(PER_THREAD):
                    amount = rng.randint(1, 1_000_000)
                    with app.uow_factory(write=True) as uow:
                        app.ledger.post(
                            uow,
                            tenant_id,
                            transfer(f"w{number}-{i}", "bank:USD", "revenue:USD", amount),
                        )
                        uow.commit()
                    amounts[number].append(amount)
            except BaseException as error:  # anything escaping a worker fails the test
                errors.append(error)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads)
        assert not [e for e in errors if isinstance(e, ConcurrentModification)], errors
        assert errors == []

        total = sum(map(sum, amounts))
        expected = THREADS * PER_THREAD
        assert sum(map(len, amounts)) == expected
        state = snapshot(app, tenant_id)
        assert state.accounts == (
            ("bank:USD", total, total, 0),
            ("revenue:USD", -total, 0, total),
        )
        assert state.transactions == state.events == expected
        assert state.entries == 2 * expected
        assert sequences(app, t.ledger_transactions, tenant_id) == list(range(1, expected + 1))
        assert sequences(app, t.events, tenant_id) == list(range(1, expected + 1))
        assert state.ledger_head[0] == state.event_head == expected
        result = verify(app, tenant_id)
        assert result.intact, result
        assert (result.transactions_checked, result.accounts_checked) == (expected, 2)
    finally:
        app.close()


def test_racing_postings_of_one_source_post_it_once_on_postgres(postgres_url: str) -> None:
    app = app_for(postgres_url, db_pool_size=8)
    try:
        tenant_id = new_tenant(app)
        barrier = threading.Barrier(8)
        results: list[Transaction] = []
        errors: list[BaseException] = []

        def worker() -> None:
            try:
                barrier.wait(timeout=30)
                tx = post(app, tenant_id, transfer("inv_1", "bank:USD", "revenue:USD", 500))
                results.append(tx)
            except BaseException as error:  # anything escaping a worker fails the test
                errors.append(error)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        assert len(results) == 8 and all(tx == results[0] for tx in results)
        state = snapshot(app, tenant_id)
        assert (state.transactions, state.events, state.ledger_head[0]) == (1, 1, 1)
        assert state.accounts == (("bank:USD", 500, 500, 0), ("revenue:USD", -500, 0, 500))
    finally:
        app.close()
