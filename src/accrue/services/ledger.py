"""Posting to the ledger and reading it back.

`LedgerService.post` is the internal API every money-moving use case calls
inside its own unit of work: it is idempotent by source, serialised per
tenant by the chain head, and records a `ledger.transaction_posted` event in
the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from accrue.domain.clock import Clock
from accrue.domain.errors import InvalidState, NotFound
from accrue.domain.identifiers import IdGenerator
from accrue.domain.ledger import (
    GENESIS_HASH,
    ChainProblem,
    Entry,
    PostingRequest,
    Transaction,
    post,
    reversal_of,
    verify_chain,
)
from accrue.domain.paging import Page, PageRequest, paginate
from accrue.services.events import EventRecorder, TraceIdSource
from accrue.services.ports import AccountBalance, ChainHead, TransactionQuery, UnitOfWork

VERIFY_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Mismatch:
    account_id: str
    currency_code: str
    stored_net: int
    computed_net: int


@dataclass(frozen=True, slots=True)
class Verification:
    transactions_checked: int
    accounts_checked: int
    first_break: ChainProblem | None
    mismatches: tuple[Mismatch, ...]

    @property
    def intact(self) -> bool:
        return self.first_break is None and not self.mismatches


class LedgerService:
    def __init__(
        self, clock: Clock, ids: IdGenerator, events: EventRecorder, trace_id: TraceIdSource
    ) -> None:
        self._clock = clock
        self._ids = ids
        self._events = events
        self._trace_id = trace_id

    def post(self, uow: UnitOfWork, tenant_id: str, request: PostingRequest) -> Transaction:
        """Post `request` once: a second posting from the same source returns the first."""
        return self.post_many(uow, tenant_id, [request])[0]

    def post_many(
        self, uow: UnitOfWork, tenant_id: str, requests: Sequence[PostingRequest]
    ) -> list[Transaction]:
        """Post several transactions under one head lock (for batch jobs).

        `uow` must be a writing unit of work: the head lock (a row lock on
        PostgreSQL, the database write lock on SQLite) is what keeps the
        chain a single line.
        """
        for request in requests:
            request.validate()
        head = uow.ledger.lock_head(tenant_id)
        posted: list[Transaction] = []
        fresh: list[Transaction] = []
        # Looked up after the head lock, so a concurrent poster of the same
        # source has either committed (found here) or not started.
        seen = uow.ledger.find_by_sources(
            tenant_id, [(r.source_type, r.source_id) for r in requests]
        )
        now = self._clock.now()
        trace_id = self._trace_id()
        for request in requests:
            key = (request.source_type, request.source_id)
            existing = seen.get(key)
            if existing is not None:
                _same_posting(existing, request)
                posted.append(existing)
                continue
            tx = post(
                request,
                transaction_id=self._ids.new("ltx"),
                tenant_id=tenant_id,
                sequence=head.last_sequence + 1,
                post_time=now,
                previous_hash=head.last_hash,
                trace_id=trace_id,
                validated=True,
            )
            head = ChainHead(tx.sequence, tx.hash)
            seen[key] = tx
            fresh.append(tx)
            posted.append(tx)
        if fresh:
            uow.ledger.add_transactions(fresh)
            uow.ledger.set_head(tenant_id, head)
            for tx in fresh:
                self._events.record(
                    uow,
                    tenant_id,
                    type="ledger.transaction_posted",
                    resource_type="ledger_transaction",
                    resource_id=tx.id,
                    subject=tx,
                )
        return posted

    def adjust(
        self,
        uow: UnitOfWork,
        tenant_id: str,
        entries: tuple[Entry, ...],
        *,
        reason: str,
        description: str,
    ) -> Transaction:
        """An operator's manual transaction; its reason is kept for audit."""
        for customer_id in sorted({e.account.customer_id for e in entries} - {""}):
            if uow.customers.get(tenant_id, customer_id) is None:
                raise NotFound("customer", customer_id)
        adjustment_id = self._ids.new("adj")
        request = PostingRequest(
            entries=entries,
            source_type="adjustment",
            source_id=adjustment_id,
            description=description,
            reason=reason,
            resource_type="adjustment",
            resource_id=adjustment_id,
        )
        return self.post(uow, tenant_id, request)

    def reverse(
        self, uow: UnitOfWork, tenant_id: str, transaction_id: str, *, reason: str
    ) -> Transaction:
        original = self.get_transaction(uow, tenant_id, transaction_id)
        if original.reverses_transaction_id:
            raise InvalidState(
                "a reversal cannot itself be reversed; post an adjustment instead",
                metadata={"transaction_id": transaction_id},
            )
        return self.post(uow, tenant_id, reversal_of(original, reason=reason))

    def get_transaction(self, uow: UnitOfWork, tenant_id: str, transaction_id: str) -> Transaction:
        tx = uow.ledger.get_transaction(tenant_id, transaction_id)
        if tx is None:
            raise NotFound("ledger_transaction", transaction_id)
        return tx

    def list_transactions(
        self, uow: UnitOfWork, tenant_id: str, query: TransactionQuery
    ) -> Sequence[Transaction]:
        return uow.ledger.list_transactions(tenant_id, query)

    def get_account(self, uow: UnitOfWork, tenant_id: str, account_id: str) -> AccountBalance:
        account = uow.ledger.get_account(tenant_id, account_id)
        if account is None:
            raise NotFound("ledger_account", account_id)
        return account

    def list_accounts(
        self,
        uow: UnitOfWork,
        tenant_id: str,
        page: PageRequest,
        *,
        currency_code: str,
        customer_id: str,
        code: str,
    ) -> Page[AccountBalance]:
        fetched = uow.ledger.list_accounts(
            tenant_id, page, currency_code=currency_code, customer_id=customer_id, code=code
        )
        return paginate(fetched, page)

    def verify(self, uow: UnitOfWork, tenant_id: str) -> Verification:
        """Recompute the chain and every balance from the stored entries."""
        checked = 0
        first_break: ChainProblem | None = None
        after_sequence, after_hash = 0, GENESIS_HASH
        while first_break is None:
            batch = uow.ledger.list_transactions(
                tenant_id, TransactionQuery(after_sequence=after_sequence, limit=VERIFY_BATCH)
            )
            if not batch:
                break
            first_break = verify_chain(batch, after_sequence=after_sequence, after_hash=after_hash)
            checked += _walked(batch, first_break)
            after_sequence, after_hash = batch[-1].sequence, batch[-1].hash
        head = uow.ledger.read_head(tenant_id)
        if first_break is None and (head.last_sequence, head.last_hash) != (
            after_sequence,
            after_hash,
        ):
            # The newest transactions are gone: the rest of the chain is intact,
            # but the head still remembers where it ended.
            first_break = ChainProblem(
                sequence=after_sequence + 1,
                transaction_id="",
                problem=f"chain ends at {after_sequence} but the head is at {head.last_sequence}",
            )
        stored = uow.ledger.stored_nets(tenant_id)
        computed = uow.ledger.entry_nets(tenant_id)
        mismatches = tuple(
            Mismatch(account_id, account_id.split(":")[1], stored.get(account_id, 0), net)
            for account_id in sorted(set(stored) | set(computed))
            if (net := computed.get(account_id, 0)) != stored.get(account_id, 0)
        )
        return Verification(checked, len(set(stored) | set(computed)), first_break, mismatches)


def _walked(batch: Sequence[Transaction], problem: ChainProblem | None) -> int:
    """How many transactions of `batch` verification looked at before stopping."""
    if problem is None:
        return len(batch)
    for index, tx in enumerate(batch):
        if tx.id == problem.transaction_id:
            return index + 1
    return len(batch)


def _same_posting(existing: Transaction, request: PostingRequest) -> None:
    if tuple(existing.entries) != tuple(request.entries):
        raise InvalidState(
            f"source {request.source_type}/{request.source_id} already posted different entries",
            metadata={"transaction_id": existing.id},
        )
