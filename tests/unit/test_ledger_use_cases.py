"""The ledger's use cases on in-memory fakes of their narrow port: no SQL, no server.

What an operator relies on: an adjustment that balances is posted once,
chained, announced, and moves the accounts it names; a retried one is
answered from the stored response and posts nothing twice; one that does not
balance, or names a customer that does not exist, is refused and changes
nothing; a transaction is reversed at most once and a reversal never is;
verification finds the chain intact, and notices a transaction rewritten
behind its back.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from accrue.event_log.service import EventRecorder
from accrue.kernel.errors import InvalidState, NotFound, ValidationFailed
from accrue.kernel.ids import IdGenerator
from accrue.kernel.paging import PageRequest
from accrue.ledger.model import AccountRef, Direction, Entry, Transaction
from accrue.ledger.ports import TransactionQuery
from accrue.ledger.service import LedgerService
from accrue.ledger.use_cases import LedgerUseCases
from accrue.platform.clock import FixedClock
from accrue.platform.idempotency import MutationRunner
from tests.fakes.event_log import event_types
from tests.fakes.ledger import FakeLedgerUnitOfWork, seed_tenant, tamper
from tests.fakes.transactions import FakeDatabase, FakeUnitOfWorkFactory, replay

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TENANT = "ten_a"
BANK = AccountRef("bank", "EUR")
OPENING = AccountRef("opening_balance", "EUR")
CREDIT = AccountRef("customer_credit", "EUR", "cus_1")


def entries(
    amount: int, debit: AccountRef = BANK, credit: AccountRef = OPENING
) -> tuple[Entry, ...]:
    return (Entry(debit, Direction.DEBIT, amount), Entry(credit, Direction.CREDIT, amount))


@pytest.fixture
def db() -> FakeDatabase:
    db = FakeDatabase()
    seed_tenant(db, TENANT, "cus_1")
    return db


@pytest.fixture
def ledger(db: FakeDatabase) -> LedgerUseCases:
    clock = FixedClock(NOW)
    ids = IdGenerator(clock)
    service = LedgerService(clock, ids, EventRecorder(clock, ids, lambda: "t"), lambda: "t")
    factory = FakeUnitOfWorkFactory(db, FakeLedgerUnitOfWork)
    return LedgerUseCases(factory, MutationRunner(factory, clock), service)


def adjust(
    ledger: LedgerUseCases,
    amount: int,
    request_id: str = "",
    *,
    debit: AccountRef = BANK,
    credit: AccountRef = OPENING,
) -> Transaction:
    outcome = ledger.create_adjustment(
        TENANT,
        entries(amount, debit, credit),
        replay(TENANT, request_id),
        reason="opening",
        description="",
    )
    assert outcome.value is not None
    return outcome.value


def test_an_adjustment_is_posted_chained_announced_and_moves_its_accounts(
    ledger: LedgerUseCases, db: FakeDatabase
) -> None:
    posted = adjust(ledger, 1500)

    assert ledger.get_transaction(TENANT, posted.id) == posted
    assert posted.sequence == 1 and posted.hash and posted.reason == "opening"
    assert ledger.get_account(TENANT, BANK.id).net_minor == 1500
    assert ledger.get_account(TENANT, OPENING.id).net_minor == -1500
    accounts = ledger.list_accounts(
        TENANT, PageRequest(10, "", "q"), currency_code="EUR", customer_id="", code=""
    )
    assert {a.id for a in accounts.items} == {BANK.id, OPENING.id}
    assert event_types(db, TENANT) == ["ledger.transaction_posted"]


def test_a_retried_adjustment_is_answered_from_the_stored_response(
    ledger: LedgerUseCases, db: FakeDatabase
) -> None:
    first = adjust(ledger, 1500, "req-1")
    again = ledger.create_adjustment(
        TENANT, entries(1500), replay(TENANT, "req-1"), reason="opening", description=""
    )

    assert again.value is None and again.replayed == repr(first).encode()
    assert len(db.rows("ledger_transactions")) == 1
    assert ledger.get_account(TENANT, BANK.id).net_minor == 1500


def test_an_unbalanced_adjustment_or_an_unknown_customer_is_refused_and_posts_nothing(
    ledger: LedgerUseCases, db: FakeDatabase
) -> None:
    lopsided = (Entry(BANK, Direction.DEBIT, 100), Entry(OPENING, Direction.CREDIT, 99))
    with pytest.raises(ValidationFailed) as raised:
        ledger.create_adjustment(TENANT, lopsided, replay(TENANT), reason="x", description="")
    assert "does not balance" in raised.value.field_violations[0].description

    stranger = AccountRef("customer_credit", "EUR", "cus_unknown")
    with pytest.raises(NotFound):
        adjust(ledger, 100, debit=OPENING, credit=stranger)
    assert db.rows("ledger_transactions") == {}

    adjust(ledger, 100, debit=OPENING, credit=CREDIT)  # a customer that exists
    assert ledger.get_account(TENANT, CREDIT.id).net_minor == -100


def test_a_transaction_is_reversed_once_and_a_reversal_never(
    ledger: LedgerUseCases, db: FakeDatabase
) -> None:
    posted = adjust(ledger, 700)

    reversal = ledger.reverse_transaction(TENANT, posted.id, replay(TENANT), reason="typo").value
    assert reversal is not None and reversal.reverses_transaction_id == posted.id
    assert ledger.get_account(TENANT, BANK.id).net_minor == 0
    again = ledger.reverse_transaction(TENANT, posted.id, replay(TENANT), reason="typo").value
    assert again == reversal  # idempotent by source: the same reversal, not a second one

    with pytest.raises(InvalidState):
        ledger.reverse_transaction(TENANT, reversal.id, replay(TENANT), reason="undo")
    with pytest.raises(NotFound):
        ledger.reverse_transaction(TENANT, "ltx_missing", replay(TENANT), reason="typo")
    assert len(db.rows("ledger_transactions")) == 2


def test_verification_finds_the_chain_intact_and_notices_a_rewrite(
    ledger: LedgerUseCases, db: FakeDatabase
) -> None:
    first = adjust(ledger, 100)
    adjust(ledger, 200)

    intact = ledger.verify(TENANT)
    assert intact.intact and intact.transactions_checked == 2 and intact.accounts_checked == 2

    tamper(db, first.id, description="nothing to see")
    broken = ledger.verify(TENANT)
    assert not broken.intact
    assert broken.first_break is not None and broken.first_break.transaction_id == first.id


def test_reads_page_by_sequence_and_unknown_ids_are_not_found(ledger: LedgerUseCases) -> None:
    made = [adjust(ledger, n) for n in (1, 2, 3)]

    listed = ledger.list_transactions(TENANT, TransactionQuery(after_sequence=1, limit=10))
    assert [tx.id for tx in listed] == [tx.id for tx in made[1:]]
    with pytest.raises(NotFound):
        ledger.get_transaction(TENANT, "ltx_missing")
    with pytest.raises(NotFound):
        ledger.get_account(TENANT, "bank:USD")
    with pytest.raises(NotFound):
        ledger.get_transaction("ten_b", made[0].id)
