"""What the ledger's use cases need from persistence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from accrue.event_log.ports import EventRepository
from accrue.kernel.paging import PageRequest
from accrue.ledger.model import AccountRef, PostingRequest, Transaction
from accrue.platform.ports import Transactional


@dataclass(frozen=True, slots=True)
class AccountBalance:
    """An account's stored totals; `net_minor` is debits minus credits."""

    account: AccountRef
    net_minor: int
    debits_minor: int
    credits_minor: int
    create_time: datetime
    update_time: datetime

    @property
    def id(self) -> str:
        return self.account.id


@dataclass(frozen=True, slots=True)
class ChainHead:
    last_sequence: int
    last_hash: str


@dataclass(frozen=True, slots=True)
class Unsequenced:
    """Committed transactions the sequencer has not numbered yet."""

    count: int
    oldest_post_time: datetime | None


@dataclass(frozen=True, slots=True)
class TransactionQuery:
    after_sequence: int
    limit: int
    account_id: str = ""
    source_type: str = ""
    source_id: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None


class LedgerRepository(Protocol):
    def create_head(self, tenant_id: str) -> None: ...
    def read_head(self, tenant_id: str) -> ChainHead:
        """The chain head without locking it (for readers such as verification)."""
        ...

    def set_head(self, tenant_id: str, head: ChainHead) -> None: ...
    def find_by_sources(
        self, tenant_id: str, sources: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], Transaction]:
        """Already-posted transactions of these (source_type, source_id) pairs."""
        ...

    def get_transaction(self, tenant_id: str, transaction_id: str) -> Transaction | None: ...
    def add_transactions(self, transactions: Sequence[Transaction]) -> None:
        """Insert transactions and their entries and apply them to account balances."""
        ...

    def list_transactions(
        self, tenant_id: str, query: TransactionQuery
    ) -> Sequence[Transaction]: ...
    def get_account(self, tenant_id: str, account_id: str) -> AccountBalance | None: ...
    def list_accounts(
        self, tenant_id: str, page: PageRequest, *, currency_code: str, customer_id: str, code: str
    ) -> Sequence[AccountBalance]: ...
    def stored_nets(self, tenant_id: str) -> dict[str, int]:
        """Every account's stored debits-minus-credits, by account id."""
        ...

    def entry_nets(self, tenant_id: str) -> dict[str, int]:
        """Every account's debits-minus-credits summed from its entries."""
        ...

    def inline_head(self, tenant_id: str) -> ChainHead | None:
        """The head to seal postings against now (one-writer databases), or None
        when a sequencer numbers them after commit."""
        ...

    def add_unsequenced(self, transactions: Sequence[Transaction]) -> set[str]:
        """Insert unnumbered transactions unless their source already posted;
        the ids inserted."""
        ...

    def lock_customer_credit(self, tenant_id: str, customer_id: str, currency_code: str) -> None:
        """Held to commit by use cases that spend the customer's credit balance."""
        ...

    def lock_customer_credits(self, tenant_id: str, customers: Sequence[tuple[str, str]]) -> None:
        """The credit locks of many (customer_id, currency_code) pairs, in one
        fixed order."""
        ...

    def unsequenced(self, tenant_id: str) -> Unsequenced: ...

    def nets(self, tenant_id: str, account_ids: Sequence[str]) -> dict[str, int]:
        """The stored debits-minus-credits of these accounts (absent ones left out)."""
        ...


class HasLedger(Protocol):
    """Any transaction the ledger can be read in."""

    @property
    def ledger(self) -> LedgerRepository: ...


class LedgerPosting(HasLedger, Protocol):
    """Any transaction a posting can join: the ledger and the outbox its
    `ledger.transaction_posted` event goes to. Every money-moving use case
    posts in its own unit of work, which has both."""

    @property
    def events(self) -> EventRepository: ...


class CustomerLookup(Protocol):
    """Enough of the customers to refuse an adjustment naming one that does not exist."""

    def get(self, tenant_id: str, customer_id: str) -> object | None: ...


class LedgerUnitOfWork(LedgerPosting, Transactional, Protocol):
    """One transaction of the ledger's own use cases (reads, adjustments, reversals)."""

    @property
    def customers(self) -> CustomerLookup: ...


class LedgerUnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool) -> LedgerUnitOfWork: ...


class Postings(Protocol):
    """The ledger's posting service, posting in the unit of work it is given."""

    def post(self, uow: Any, tenant_id: str, request: PostingRequest) -> Transaction: ...
    def post_many(
        self, uow: Any, tenant_id: str, requests: Sequence[PostingRequest]
    ) -> list[Transaction]: ...
