"""Ledger use cases, each owning its transaction.

Adjustments and reversals are mutations run through the platform's
`MutationRunner` (the encoded response stored with the posting, replayed byte
for byte on a retry); reads and verification run in a read-only unit of work.
`LedgerService` holds the steps; postings made by other areas' use cases join
their own transactions through `LedgerService.post` and never come here.
"""

from __future__ import annotations

from collections.abc import Sequence

from accrue.kernel.paging import Page, PageRequest
from accrue.ledger.model import Entry, Transaction
from accrue.ledger.ports import AccountBalance, LedgerUnitOfWorkFactory, TransactionQuery
from accrue.ledger.service import LedgerService, Verification
from accrue.platform.idempotency import MutationRunner, Outcome, Replay


class LedgerUseCases:
    def __init__(
        self, uow_factory: LedgerUnitOfWorkFactory, runner: MutationRunner, ledger: LedgerService
    ) -> None:
        self._uow = uow_factory
        self._runner = runner
        self._ledger = ledger

    def list_accounts(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        currency_code: str,
        customer_id: str,
        code: str,
    ) -> Page[AccountBalance]:
        with self._uow(write=False) as uow:
            return self._ledger.list_accounts(
                uow,
                tenant_id,
                page,
                currency_code=currency_code,
                customer_id=customer_id,
                code=code,
            )

    def get_account(self, tenant_id: str, account_id: str) -> AccountBalance:
        with self._uow(write=False) as uow:
            return self._ledger.get_account(uow, tenant_id, account_id)

    def list_transactions(self, tenant_id: str, query: TransactionQuery) -> Sequence[Transaction]:
        with self._uow(write=False) as uow:
            return self._ledger.list_transactions(uow, tenant_id, query)

    def get_transaction(self, tenant_id: str, transaction_id: str) -> Transaction:
        with self._uow(write=False) as uow:
            return self._ledger.get_transaction(uow, tenant_id, transaction_id)

    def create_adjustment(
        self,
        tenant_id: str,
        entries: tuple[Entry, ...],
        replay: Replay[Transaction],
        *,
        reason: str,
        description: str,
    ) -> Outcome[Transaction]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._ledger.adjust(
                uow, tenant_id, entries, reason=reason, description=description
            ),
            replay.encode,
        )

    def reverse_transaction(
        self, tenant_id: str, transaction_id: str, replay: Replay[Transaction], *, reason: str
    ) -> Outcome[Transaction]:
        return self._runner.run(
            replay.identity,
            lambda uow: self._ledger.reverse(uow, tenant_id, transaction_id, reason=reason),
            replay.encode,
        )

    def verify(self, tenant_id: str) -> Verification:
        """The chain and every balance recomputed from the stored entries, in one snapshot."""
        with self._uow(write=False) as uow:
            return self._ledger.verify(uow, tenant_id)
