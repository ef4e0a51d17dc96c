"""LedgerService handlers: convert the request, call one use case, convert back.

The use cases own their transactions; nothing here runs inside one.
"""

from __future__ import annotations

from datetime import UTC as _UTC
from datetime import timedelta

from accrue.billing.v1 import ledger_pb2 as pb
from accrue.billing.v1.money_pb2 import Money
from accrue.kernel.errors import ValidationFailed
from accrue.kernel.paging import PageRequest, paginate_by_sequence
from accrue.ledger.convert import account_to_pb, entries_from_pb, on_the_wire, transaction_to_pb
from accrue.ledger.ports import TransactionQuery
from accrue.ledger.service import Verification
from accrue.ledger.use_cases import LedgerUseCases
from accrue.platform.transport.call import CallContext
from accrue.platform.transport.handler_support import HandlerSupport


class LedgerHandler:
    def __init__(self, support: HandlerSupport, ledger: LedgerUseCases) -> None:
        self._support = support
        self._ledger = ledger

    def list_accounts(
        self, request: pb.ListAccountsRequest, call: CallContext
    ) -> pb.ListAccountsResponse:
        query = {
            "currency": request.currency_code,
            "customer": request.customer_id,
            "code": request.code,
        }
        page = PageRequest.parse(
            page_size=request.page_size, page_token=request.page_token, query=query
        )
        result = self._ledger.list_accounts(
            call.tenant_id,
            page,
            currency_code=request.currency_code,
            customer_id=request.customer_id,
            code=request.code,
        )
        return pb.ListAccountsResponse(
            accounts=[account_to_pb(a) for a in result.items],
            next_page_token=result.next_page_token,
        )

    def get_account(self, request: pb.GetAccountRequest, call: CallContext) -> pb.Account:
        return account_to_pb(self._ledger.get_account(call.tenant_id, request.id))

    def list_transactions(
        self, request: pb.ListTransactionsRequest, call: CallContext
    ) -> pb.ListTransactionsResponse:
        start = (
            request.start_time.ToDatetime(tzinfo=_UTC) if request.HasField("start_time") else None
        )
        end = request.end_time.ToDatetime(tzinfo=_UTC) if request.HasField("end_time") else None
        page = PageRequest.parse(
            page_size=request.page_size,
            page_token=request.page_token,
            query={
                "account": request.account_id,
                "source_type": request.source_type,
                "source_id": request.source_id,
                "start": start.isoformat() if start else "",
                "end": end.isoformat() if end else "",
            },
        )
        query = TransactionQuery(
            after_sequence=page.after_sequence,
            limit=page.size + 1,
            account_id=request.account_id,
            source_type=request.source_type,
            source_id=request.source_id,
            start_time=start,
            end_time=end,
        )
        result = paginate_by_sequence(self._ledger.list_transactions(call.tenant_id, query), page)
        return pb.ListTransactionsResponse(
            transactions=[transaction_to_pb(tx) for tx in result.items],
            next_page_token=result.next_page_token,
        )

    def get_transaction(
        self, request: pb.GetTransactionRequest, call: CallContext
    ) -> pb.LedgerTransaction:
        return transaction_to_pb(self._ledger.get_transaction(call.tenant_id, request.id))

    def create_adjustment(
        self, request: pb.CreateAdjustmentRequest, call: CallContext
    ) -> pb.LedgerTransaction:
        entries = entries_from_pb(list(request.entries))
        replay = self._support.replay(call, request, transaction_to_pb)
        try:
            outcome = self._ledger.create_adjustment(
                call.tenant_id,
                entries,
                replay,
                reason=request.reason,
                description=request.description,
            )
        except ValidationFailed as error:
            raise on_the_wire(error) from error
        return self._support.answer(outcome, pb.LedgerTransaction, transaction_to_pb)

    def reverse_transaction(
        self, request: pb.ReverseTransactionRequest, call: CallContext
    ) -> pb.LedgerTransaction:
        replay = self._support.replay(call, request, transaction_to_pb)
        outcome = self._ledger.reverse_transaction(
            call.tenant_id, request.transaction_id, replay, reason=request.reason
        )
        return self._support.answer(outcome, pb.LedgerTransaction, transaction_to_pb)

    def verify_ledger(
        self, request: pb.VerifyLedgerRequest, call: CallContext
    ) -> pb.VerifyLedgerResponse:
        return _verification_to_pb(self._ledger.verify(call.tenant_id))


def _verification_to_pb(result: Verification) -> pb.VerifyLedgerResponse:
    response = pb.VerifyLedgerResponse(
        intact=result.intact,
        transactions_checked=result.transactions_checked,
        accounts_checked=result.accounts_checked,
        balance_mismatches=[
            pb.BalanceMismatch(
                account_id=m.account_id,
                stored_net=Money(amount_minor=m.stored_net, currency_code=m.currency_code),
                computed_net=Money(amount_minor=m.computed_net, currency_code=m.currency_code),
            )
            for m in result.mismatches
        ],
        unsequenced_transactions=result.unsequenced,
        oldest_unsequenced_age_ms=result.oldest_unsequenced_age // timedelta(milliseconds=1),
    )
    if result.first_break is not None:
        response.first_break.CopyFrom(
            pb.ChainBreak(
                sequence=result.first_break.sequence,
                transaction_id=result.first_break.transaction_id,
                problem=result.first_break.problem,
            )
        )
    return response
