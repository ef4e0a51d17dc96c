"""The ledger use cases' ports in memory: sealed postings, balances, a customer lookup.

Postings are sealed inline against the chain head (as on SQLite's single
writer), so the use cases see numbered, hashed transactions at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from accrue.kernel.paging import PageRequest
from accrue.ledger.model import GENESIS_HASH, Transaction
from accrue.ledger.ports import AccountBalance, ChainHead, TransactionQuery, Unsequenced
from tests.fakes.event_log import FakeEvents
from tests.fakes.transactions import FakeDatabase, FakeUnitOfWork


class FakeLedger:
    """The parts of LedgerRepository a sealed (one-writer) ledger uses."""

    def __init__(self, tx: FakeUnitOfWork) -> None:
        self._tx = tx

    @property
    def _transactions(self) -> dict[str, Transaction]:
        return self._tx.table("ledger_transactions")

    @property
    def _accounts(self) -> dict[tuple[str, str], AccountBalance]:
        return self._tx.table("ledger_accounts")

    def create_head(self, tenant_id: str) -> None:
        self._tx.table("ledger_heads")[tenant_id] = ChainHead(0, GENESIS_HASH)

    def read_head(self, tenant_id: str) -> ChainHead:
        head: ChainHead = self._tx.table("ledger_heads")[tenant_id]
        return head

    def inline_head(self, tenant_id: str) -> ChainHead | None:
        return self.read_head(tenant_id)

    def set_head(self, tenant_id: str, head: ChainHead) -> None:
        self._tx.table("ledger_heads")[tenant_id] = head

    def find_by_sources(
        self, tenant_id: str, sources: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], Transaction]:
        wanted = set(sources)
        return {
            (tx.source_type, tx.source_id): tx
            for tx in self._transactions.values()
            if tx.tenant_id == tenant_id and (tx.source_type, tx.source_id) in wanted
        }

    def get_transaction(self, tenant_id: str, transaction_id: str) -> Transaction | None:
        found = self._transactions.get(transaction_id)
        return found if found is not None and found.tenant_id == tenant_id else None

    def add_transactions(self, transactions: Sequence[Transaction]) -> None:
        for tx in transactions:
            self._transactions[tx.id] = tx
            for entry in tx.entries:
                key = (tx.tenant_id, entry.account.id)
                balance = self._accounts.get(key) or AccountBalance(
                    entry.account, 0, 0, 0, tx.post_time, tx.post_time
                )
                debit = entry.amount_minor if entry.signed_minor > 0 else 0
                self._accounts[key] = replace(
                    balance,
                    net_minor=balance.net_minor + entry.signed_minor,
                    debits_minor=balance.debits_minor + debit,
                    credits_minor=balance.credits_minor + entry.amount_minor - debit,
                    update_time=tx.post_time,
                )

    def list_transactions(self, tenant_id: str, query: TransactionQuery) -> Sequence[Transaction]:
        found = [
            tx
            for tx in sorted(self._transactions.values(), key=lambda tx: tx.sequence)
            if tx.tenant_id == tenant_id
            and tx.sequence > query.after_sequence
            and (not query.account_id or any(e.account.id == query.account_id for e in tx.entries))
            and (not query.source_type or tx.source_type == query.source_type)
            and (not query.source_id or tx.source_id == query.source_id)
        ]
        return found[: query.limit]

    def get_account(self, tenant_id: str, account_id: str) -> AccountBalance | None:
        return self._accounts.get((tenant_id, account_id))

    def list_accounts(
        self, tenant_id: str, page: PageRequest, *, currency_code: str, customer_id: str, code: str
    ) -> Sequence[AccountBalance]:
        found = [
            a
            for (tenant, account_id), a in sorted(self._accounts.items())
            if tenant == tenant_id
            and account_id > page.after_id
            and (not currency_code or a.account.currency_code == currency_code)
            and (not customer_id or a.account.customer_id == customer_id)
            and (not code or a.account.code == code)
        ]
        return found[: page.size + 1]

    def stored_nets(self, tenant_id: str) -> dict[str, int]:
        return {a: b.net_minor for (t, a), b in self._accounts.items() if t == tenant_id}

    def entry_nets(self, tenant_id: str) -> dict[str, int]:
        nets: dict[str, int] = {}
        for tx in self._transactions.values():
            if tx.tenant_id == tenant_id:
                for e in tx.entries:
                    nets[e.account.id] = nets.get(e.account.id, 0) + e.signed_minor
        return nets

    def nets(self, tenant_id: str, account_ids: Sequence[str]) -> dict[str, int]:
        stored = self.stored_nets(tenant_id)
        return {a: stored[a] for a in account_ids if a in stored}

    def add_unsequenced(self, transactions: Sequence[Transaction]) -> set[str]:
        raise AssertionError("sealed inline: postings never wait for a sequencer here")

    def unsequenced(self, tenant_id: str) -> Unsequenced:
        return Unsequenced(0, None)  # sealed inline: nothing ever waits for a sequencer

    def lock_customer_credit(self, tenant_id: str, customer_id: str, currency_code: str) -> None:
        pass  # one thread: nothing to serialize


class FakeCustomerIds:
    """Which customers exist (all the ledger asks of them)."""

    def __init__(self, tx: FakeUnitOfWork) -> None:
        self._tx = tx

    def get(self, tenant_id: str, customer_id: str) -> object | None:
        return self._tx.table("customer_ids").get((tenant_id, customer_id))


class FakeLedgerUnitOfWork(FakeUnitOfWork):
    """LedgerUnitOfWork: the ledger, the outbox, and the customers adjustments name."""

    def __init__(self, db: FakeDatabase, write: bool) -> None:
        super().__init__(db, write=write)
        self.ledger = FakeLedger(self)
        self.events = FakeEvents(self)
        self.customers = FakeCustomerIds(self)


def seed_tenant(db: FakeDatabase, tenant_id: str, *customer_ids: str) -> None:
    db.tables.setdefault("ledger_heads", {})[tenant_id] = ChainHead(0, GENESIS_HASH)
    for customer_id in customer_ids:
        db.tables.setdefault("customer_ids", {})[(tenant_id, customer_id)] = customer_id


def tamper(db: FakeDatabase, transaction_id: str, **changes: object) -> None:
    """Rewrite a committed transaction behind the ledger's back."""
    rows = db.tables["ledger_transactions"]
    rows[transaction_id] = replace(rows[transaction_id], **changes)
