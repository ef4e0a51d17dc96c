"""Posting to the ledger and reading it back.

`LedgerService.post` is the internal API every money-moving use case calls
inside its own unit of work: it is idempotent by source, takes no tenant-wide
lock (the chain is built after commit by the sequencer, or inline on SQLite's
single writer), and records a `ledger.transaction_posted` event in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from accrue.event_log.service import EventRecorder, TraceIdSource
from accrue.kernel.clock import Clock
from accrue.kernel.errors import ConcurrentModification, InvalidState, NotFound
from accrue.kernel.ids import IdGenerator
from accrue.kernel.paging import Page, PageRequest, paginate
from accrue.ledger.checkpoints import Checkpoint
from accrue.ledger.model import (
    GENESIS_HASH,
    ChainProblem,
    Entry,
    PostingRequest,
    Transaction,
    post,
    reversal_of,
    unsequenced,
    verify_chain,
)
from accrue.ledger.ports import (
    AccountBalance,
    ChainHead,
    HasLedger,
    LedgerPosting,
    LedgerUnitOfWork,
    TransactionQuery,
)

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
    # Committed transactions not numbered yet, and how long the oldest has waited.
    unsequenced: int = 0
    oldest_unsequenced_age: timedelta = timedelta(0)

    @property
    def intact(self) -> bool:
        return self.first_break is None and not self.mismatches


class CheckpointSignatures(Protocol):
    def check(self, checkpoint: Checkpoint) -> str:
        """Empty when the checkpoint's signature is valid under an accepted key."""
        ...


class LedgerService:
    def __init__(
        self, clock: Clock, ids: IdGenerator, events: EventRecorder, trace_id: TraceIdSource
    ) -> None:
        self._clock = clock
        self._ids = ids
        self._events = events
        self._trace_id = trace_id

    def post(self, uow: LedgerPosting, tenant_id: str, request: PostingRequest) -> Transaction:
        """Post `request` once: a second posting from the same source returns the first."""
        return self.post_many(uow, tenant_id, [request])[0]

    def post_many(
        self, uow: LedgerPosting, tenant_id: str, requests: Sequence[PostingRequest]
    ) -> list[Transaction]:
        """Post several transactions in one go (for batch jobs); idempotent by source.

        No tenant-wide lock is taken: on PostgreSQL the postings commit
        unnumbered and the sequencer gives them their sequence and chain hash
        after commit (`ledger/sequencer.py`), so the returned
        transactions carry sequence 0 and no hash. Only the touched balance
        rows are locked, last and in sorted order. On SQLite, whose one writer
        already orders commits, postings are sealed inline as before.
        """
        for request in requests:
            request.validate()
        head = uow.ledger.inline_head(tenant_id)
        if head is not None:
            return self._post_sealed(uow, tenant_id, requests, head)
        now = self._clock.now()
        trace_id = self._trace_id()
        by_source: dict[tuple[str, str], Transaction] = {}
        for request in requests:
            key = (request.source_type, request.source_id)
            if key in by_source:
                _same_posting(by_source[key], request)
                continue
            by_source[key] = unsequenced(
                request,
                transaction_id=self._ids.new("ltx"),
                tenant_id=tenant_id,
                post_time=now,
                trace_id=trace_id,
            )
        inserted = uow.ledger.add_unsequenced(list(by_source.values()))
        taken = [key for key, tx in by_source.items() if tx.id not in inserted]
        if taken:
            # Posted before (or by a concurrent caller that committed first).
            earlier = uow.ledger.find_by_sources(tenant_id, taken)
            for key in taken:
                if key not in earlier:
                    raise ConcurrentModification(
                        "a concurrent posting of the same source was rolled back; retry",
                        retry_after_seconds=0.1,
                    )
                by_source[key] = earlier[key]
        posted = []
        for request in requests:
            tx = by_source[(request.source_type, request.source_id)]
            _same_posting(tx, request)
            posted.append(tx)
        for tx in by_source.values():
            if tx.id in inserted:
                self._posted_event(uow, tenant_id, tx)
        return posted

    def _post_sealed(
        self,
        uow: LedgerPosting,
        tenant_id: str,
        requests: Sequence[PostingRequest],
        head: ChainHead,
    ) -> list[Transaction]:
        """Number and chain postings at once, under the single writer's lock."""
        posted: list[Transaction] = []
        fresh: list[Transaction] = []
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
                self._posted_event(uow, tenant_id, tx)
        return posted

    def _posted_event(self, uow: LedgerPosting, tenant_id: str, tx: Transaction) -> None:
        self._events.record(
            uow,
            tenant_id,
            type="ledger.transaction_posted",
            resource_type="ledger_transaction",
            resource_id=tx.id,
            subject=tx,
        )

    def adjust(
        self,
        uow: LedgerUnitOfWork,
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
        self, uow: LedgerPosting, tenant_id: str, transaction_id: str, *, reason: str
    ) -> Transaction:
        original = self.get_transaction(uow, tenant_id, transaction_id)
        if original.reverses_transaction_id:
            raise InvalidState(
                "a reversal cannot itself be reversed; post an adjustment instead",
                metadata={"transaction_id": transaction_id},
            )
        return self.post(uow, tenant_id, reversal_of(original, reason=reason))

    def get_transaction(self, uow: HasLedger, tenant_id: str, transaction_id: str) -> Transaction:
        tx = uow.ledger.get_transaction(tenant_id, transaction_id)
        if tx is None:
            raise NotFound("ledger_transaction", transaction_id)
        return tx

    def list_transactions(
        self, uow: HasLedger, tenant_id: str, query: TransactionQuery
    ) -> Sequence[Transaction]:
        return uow.ledger.list_transactions(tenant_id, query)

    def get_account(self, uow: HasLedger, tenant_id: str, account_id: str) -> AccountBalance:
        account = uow.ledger.get_account(tenant_id, account_id)
        if account is None:
            raise NotFound("ledger_account", account_id)
        return account

    def list_accounts(
        self,
        uow: HasLedger,
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

    def verify(self, uow: HasLedger, tenant_id: str) -> Verification:
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
        waiting = uow.ledger.unsequenced(tenant_id)
        age = timedelta(0)
        if waiting.oldest_post_time is not None:
            age = max(self._clock.now() - waiting.oldest_post_time, timedelta(0))
        return Verification(
            checked,
            len(set(stored) | set(computed)),
            first_break,
            mismatches,
            unsequenced=waiting.count,
            oldest_unsequenced_age=age,
        )

    def verify_checkpoint(
        self,
        uow: HasLedger,
        tenant_id: str,
        checkpoint: Checkpoint,
        signatures: CheckpointSignatures,
    ) -> str:
        """Why the ledger disagrees with a checkpoint exported earlier, or "".

        The checkpoint must carry a valid signature of an accepted key and name
        this tenant; the transaction at its sequence must still have its head
        hash. Together with `verify` (the chain from genesis is intact up to
        the head) this catches a rewrite behind the checkpoint: deleting the
        newest transactions, rewinding the head and fixing the balances leaves
        a chain that verifies on its own but no longer reaches the signed hash.
        """
        problem = signatures.check(checkpoint)
        if problem:
            return problem
        if checkpoint.tenant_id != tenant_id:
            return f"checkpoint belongs to tenant {checkpoint.tenant_id!r}"
        if checkpoint.sequence == 0:
            return "" if checkpoint.head_hash == GENESIS_HASH else "genesis hash differs"
        found = uow.ledger.list_transactions(
            tenant_id, TransactionQuery(after_sequence=checkpoint.sequence - 1, limit=1)
        )
        if not found or found[0].sequence != checkpoint.sequence:
            return f"transaction {checkpoint.sequence} of the signed chain is missing"
        if found[0].hash != checkpoint.head_hash:
            return f"transaction {checkpoint.sequence} no longer has the signed hash"
        return ""


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
