"""LedgerService through the real server, over gRPC and Connect."""

from __future__ import annotations

import re
import uuid

import grpc
from connectrpc.errors import ConnectError
from google.protobuf import any_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from accrue.billing.v1 import customer_pb2
from accrue.billing.v1 import ledger_pb2 as pb
from accrue.billing.v1.money_pb2 import Money
from tests.conftest import Transport
from tests.support import GrpcClients, RunningServer

LEDGER = "accrue.billing.v1.LedgerService"
CUSTOMERS = "accrue.billing.v1.CustomerService"
DEBIT, CREDIT = pb.ENTRY_DIRECTION_DEBIT, pb.ENTRY_DIRECTION_CREDIT
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def money(amount: int, currency: str = "USD") -> Money:
    return Money(amount_minor=amount, currency_code=currency)


def entry(account_id: str, direction: int, amount: int, currency: str = "") -> pb.LedgerEntry:
    currency = currency or account_id.split(":")[1]
    return pb.LedgerEntry(
        account_id=account_id, direction=direction, amount=money(amount, currency)
    )


def adjust(
    rpc: Transport, *entries: pb.LedgerEntry, reason: str = "opening"
) -> pb.LedgerTransaction:
    return rpc.call(
        LEDGER, "CreateAdjustment", pb.CreateAdjustmentRequest(entries=entries, reason=reason)
    )


def opening_cash(rpc: Transport, amount: int = 1000, currency: str = "USD") -> pb.LedgerTransaction:
    return adjust(
        rpc,
        entry(f"bank:{currency}", DEBIT, amount),
        entry(f"opening_balance:{currency}", CREDIT, amount),
    )


def account(rpc: Transport, account_id: str) -> pb.Account:
    return rpc.call(LEDGER, "GetAccount", pb.GetAccountRequest(id=account_id))


def all_transactions(rpc: Transport, **query: object) -> list[pb.LedgerTransaction]:
    request = pb.ListTransactionsRequest(page_size=1000, **query)
    page = rpc.call(LEDGER, "ListTransactions", request)
    assert not page.next_page_token
    return list(page.transactions)


def verify(rpc: Transport) -> pb.VerifyLedgerResponse:
    return rpc.call(LEDGER, "VerifyLedger", pb.VerifyLedgerRequest())


def violations(rpc: Transport, method: str, request: object) -> tuple[str, str, dict[str, str]]:
    """(code, reason, {field: descriptions joined by "; "}) of a call that must fail."""
    try:
        response = rpc.call(LEDGER, method, request)
    except grpc.RpcError as error:
        status = rpc_status.from_call(error)  # type: ignore[arg-type]
        code, details = error.code().name, list(status.details) if status else []  # type: ignore[attr-defined]
    except ConnectError as error:
        code = error.code.name
        details = [
            any_pb2.Any(type_url="type.googleapis.com/" + d.type_name, value=d.message_bytes)
            for d in error.details
        ]
    else:
        raise AssertionError(f"{method} succeeded but should have failed: {response}")
    reason, fields = "", dict[str, str]()
    for detail in details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            for v in bad.field_violations:
                fields[v.field] = "; ".join(filter(None, (fields.get(v.field), v.description)))
    return code, reason, fields


def assert_nothing_posted(rpc: Transport) -> None:
    assert all_transactions(rpc) == []
    assert list(rpc.call(LEDGER, "ListAccounts", pb.ListAccountsRequest()).accounts) == []
    result = verify(rpc)
    assert (result.intact, result.transactions_checked, result.accounts_checked) == (True, 0, 0)


# --- adjustments -------------------------------------------------------------


def test_first_adjustment_starts_the_chain_and_reads_back(rpc: Transport) -> None:
    tx = adjust(
        rpc,
        entry("bank:USD", DEBIT, 1000),
        entry("opening_balance:USD", CREDIT, 1000),
        reason="cash brought over from the old system",
    )
    assert tx.id.startswith("ltx_")
    assert tx.sequence == 1
    assert tx.previous_hash == "0" * 64
    assert HEX64.match(tx.hash) and tx.hash != tx.previous_hash
    assert tx.reason == "cash brought over from the old system"
    assert tx.source_type == "adjustment"
    assert tx.source_id and tx.resource_type == "adjustment" and tx.resource_id == tx.source_id
    assert not tx.reverses_transaction_id
    assert [(e.account_id, e.direction, e.amount) for e in tx.entries] == [
        ("bank:USD", DEBIT, money(1000)),
        ("opening_balance:USD", CREDIT, money(1000)),
    ]
    assert rpc.call(LEDGER, "GetTransaction", pb.GetTransactionRequest(id=tx.id)) == tx


def test_next_adjustment_links_to_the_previous_hash(rpc: Transport) -> None:
    first, second = opening_cash(rpc), opening_cash(rpc, 250)
    assert second.sequence == 2
    assert second.previous_hash == first.hash
    assert second.hash != first.hash


def test_account_balances_are_positive_on_their_normal_side(rpc: Transport) -> None:
    opening_cash(rpc, 1000)
    adjust(rpc, entry("psp_fees:USD", DEBIT, 30), entry("bank:USD", CREDIT, 30))

    bank = account(rpc, "bank:USD")
    assert (bank.id, bank.code, bank.currency_code, bank.customer_id) == (
        "bank:USD",
        "bank",
        "USD",
        "",
    )
    assert bank.type == pb.ACCOUNT_TYPE_ASSET
    assert bank.normal_balance == DEBIT
    assert (bank.balance, bank.debits, bank.credits) == (money(970), money(1000), money(30))

    equity = account(rpc, "opening_balance:USD")
    assert equity.type == pb.ACCOUNT_TYPE_EQUITY
    assert equity.normal_balance == CREDIT
    assert (equity.balance, equity.debits, equity.credits) == (money(1000), money(0), money(1000))

    fees = account(rpc, "psp_fees:USD")
    assert fees.type == pb.ACCOUNT_TYPE_EXPENSE
    assert (fees.balance, fees.debits, fees.credits) == (money(30), money(30), money(0))
    assert bank.update_time.ToDatetime() >= bank.create_time.ToDatetime()


def test_account_never_posted_to_is_not_found(rpc: Transport) -> None:
    failure = rpc.fail(LEDGER, "GetAccount", pb.GetAccountRequest(id="bank:USD"))
    assert (failure.code, failure.reason) == ("NOT_FOUND", "RESOURCE_NOT_FOUND")


def test_unknown_transaction_is_not_found(rpc: Transport) -> None:
    failure = rpc.fail(
        LEDGER, "GetTransaction", pb.GetTransactionRequest(id="ltx_01HZZZZZZZZZZZZZZZZZZZZZZZ")
    )
    assert (failure.code, failure.reason) == ("NOT_FOUND", "RESOURCE_NOT_FOUND")


def test_list_accounts_is_ordered_by_id_and_filters_by_currency_and_code(rpc: Transport) -> None:
    opening_cash(rpc, 1000, "USD")
    opening_cash(rpc, 500, "EUR")
    adjust(rpc, entry("bank:EUR", DEBIT, 70), entry("revenue:EUR", CREDIT, 70))

    everything = rpc.call(LEDGER, "ListAccounts", pb.ListAccountsRequest())
    assert [a.id for a in everything.accounts] == [
        "bank:EUR",
        "bank:USD",
        "opening_balance:EUR",
        "opening_balance:USD",
        "revenue:EUR",
    ]
    euros = rpc.call(LEDGER, "ListAccounts", pb.ListAccountsRequest(currency_code="EUR"))
    assert [a.id for a in euros.accounts] == ["bank:EUR", "opening_balance:EUR", "revenue:EUR"]
    assert [a.balance for a in euros.accounts] == [
        money(570, "EUR"),
        money(500, "EUR"),
        money(70, "EUR"),
    ]
    banks = rpc.call(LEDGER, "ListAccounts", pb.ListAccountsRequest(code="bank"))
    assert [a.id for a in banks.accounts] == ["bank:EUR", "bank:USD"]
    both = rpc.call(
        LEDGER, "ListAccounts", pb.ListAccountsRequest(code="bank", currency_code="USD")
    )
    assert [a.id for a in both.accounts] == ["bank:USD"]


def test_list_accounts_pages_by_id(rpc: Transport) -> None:
    for currency in ("USD", "EUR", "GBP"):
        opening_cash(rpc, 100, currency)
    seen, token = [], ""
    while True:
        page = rpc.call(
            LEDGER, "ListAccounts", pb.ListAccountsRequest(page_size=4, page_token=token)
        )
        seen.extend(a.id for a in page.accounts)
        token = page.next_page_token
        if not token:
            break
    assert seen == sorted(
        f"{code}:{c}" for code in ("bank", "opening_balance") for c in ["USD", "EUR", "GBP"]
    )


def test_customer_sub_accounts_carry_the_customer_and_filter_by_it(rpc: Transport) -> None:
    customer = rpc.call(
        CUSTOMERS,
        "CreateCustomer",
        customer_pb2.CreateCustomerRequest(
            customer=customer_pb2.Customer(display_name="Ada", currency_code="USD")
        ),
    )
    receivable = f"accounts_receivable:USD:{customer.id}"
    opening_cash(rpc)
    adjust(rpc, entry(receivable, DEBIT, 400), entry("revenue:USD", CREDIT, 400))

    sub = account(rpc, receivable)
    assert (sub.code, sub.currency_code, sub.customer_id) == (
        "accounts_receivable",
        "USD",
        customer.id,
    )
    assert sub.balance == money(400)
    mine = rpc.call(LEDGER, "ListAccounts", pb.ListAccountsRequest(customer_id=customer.id))
    assert [a.id for a in mine.accounts] == [receivable]


def test_adjustment_for_an_unknown_customer_is_not_found(rpc: Transport) -> None:
    failure = rpc.fail(
        LEDGER,
        "CreateAdjustment",
        pb.CreateAdjustmentRequest(
            entries=[
                entry("accounts_receivable:USD:cus_01HZZZZZZZZZZZZZZZZZZZZZZZ", DEBIT, 100),
                entry("revenue:USD", CREDIT, 100),
            ],
            reason="invoice correction",
        ),
    )
    assert (failure.code, failure.reason) == ("NOT_FOUND", "RESOURCE_NOT_FOUND")
    assert_nothing_posted(rpc)


# --- rejected adjustments ------------------------------------------------------


def test_unbalanced_adjustment_is_rejected_naming_the_currency(rpc: Transport) -> None:
    code, reason, fields = violations(
        rpc,
        "CreateAdjustment",
        pb.CreateAdjustmentRequest(
            entries=[entry("bank:USD", DEBIT, 1000), entry("opening_balance:USD", CREDIT, 999)],
            reason="typo",
        ),
    )
    assert (code, reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")
    assert list(fields) == ["entries"]
    assert "USD" in fields["entries"]
    assert_nothing_posted(rpc)


def test_amount_in_another_currency_than_its_account_is_rejected(rpc: Transport) -> None:
    code, reason, fields = violations(
        rpc,
        "CreateAdjustment",
        pb.CreateAdjustmentRequest(
            entries=[
                entry("bank:USD", DEBIT, 1000),
                entry("opening_balance:USD", CREDIT, 1000, currency="EUR"),
            ],
            reason="wrong currency",
        ),
    )
    assert (code, reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")
    assert list(fields) == ["entries[1].amount.currency_code"]
    assert "USD" in fields["entries[1].amount.currency_code"]
    assert_nothing_posted(rpc)


def test_unknown_account_code_is_rejected(rpc: Transport) -> None:
    code, reason, fields = violations(
        rpc,
        "CreateAdjustment",
        pb.CreateAdjustmentRequest(
            entries=[
                entry("petty_cash:USD", DEBIT, 1000),
                entry("opening_balance:USD", CREDIT, 1000),
            ],
            reason="new account",
        ),
    )
    assert (code, reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")
    assert list(fields) == ["entries[0].account_id"]
    assert "petty_cash" in fields["entries[0].account_id"]
    assert_nothing_posted(rpc)


def test_every_bad_entry_is_reported_at_once(rpc: Transport) -> None:
    code, reason, fields = violations(
        rpc,
        "CreateAdjustment",
        pb.CreateAdjustmentRequest(
            entries=[
                entry("petty_cash:USD", DEBIT, 1000),
                entry("bank", DEBIT, 1000, currency="USD"),
                entry("opening_balance:USD", CREDIT, 1000, currency="EUR"),
            ],
            reason="several mistakes",
        ),
    )
    assert (code, reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")
    assert sorted(fields) == [
        "entries[0].account_id",
        "entries[1].account_id",
        "entries[2].amount.currency_code",
    ]
    assert_nothing_posted(rpc)


def test_non_positive_amount_is_rejected(rpc: Transport) -> None:
    code, reason, fields = violations(
        rpc,
        "CreateAdjustment",
        pb.CreateAdjustmentRequest(
            entries=[entry("bank:USD", DEBIT, 0), entry("opening_balance:USD", CREDIT, 0)],
            reason="nothing",
        ),
    )
    assert (code, reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")
    assert sorted(fields) == ["entries[0].amount.amount_minor", "entries[1].amount.amount_minor"]
    assert_nothing_posted(rpc)


def test_adjustment_balanced_per_currency_across_currencies_is_accepted(rpc: Transport) -> None:
    tx = adjust(
        rpc,
        entry("bank:USD", DEBIT, 1000),
        entry("bank:EUR", DEBIT, 900),
        entry("opening_balance:EUR", CREDIT, 400),
        entry("opening_balance:USD", CREDIT, 1000),
        entry("opening_balance:EUR", CREDIT, 500),
        reason="two bank accounts",
    )
    assert [e.account_id for e in tx.entries] == [
        "bank:USD",
        "bank:EUR",
        "opening_balance:EUR",
        "opening_balance:USD",
        "opening_balance:EUR",
    ]
    assert account(rpc, "bank:EUR").balance == money(900, "EUR")
    assert account(rpc, "opening_balance:EUR").balance == money(900, "EUR")
    assert account(rpc, "opening_balance:EUR").credits == money(900, "EUR")
    assert account(rpc, "bank:USD").balance == money(1000)
    assert verify(rpc).intact


def test_adjustment_balanced_only_across_currencies_is_rejected(rpc: Transport) -> None:
    code, reason, fields = violations(
        rpc,
        "CreateAdjustment",
        pb.CreateAdjustmentRequest(
            entries=[entry("bank:USD", DEBIT, 1000), entry("opening_balance:EUR", CREDIT, 1000)],
            reason="no conversion inside a posting",
        ),
    )
    assert (code, reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")
    assert list(fields) == ["entries"]
    assert "USD does not balance" in fields["entries"]
    assert "EUR does not balance" in fields["entries"]
    assert_nothing_posted(rpc)


def test_adjustment_with_request_id_replays_identically(rpc: Transport) -> None:
    request = pb.CreateAdjustmentRequest(
        entries=[entry("bank:USD", DEBIT, 1000), entry("opening_balance:USD", CREDIT, 1000)],
        reason="retried",
        request_id=str(uuid.uuid4()),
    )
    first = rpc.call(LEDGER, "CreateAdjustment", request)
    again = rpc.call(LEDGER, "CreateAdjustment", request)
    assert again == first
    assert again.SerializeToString(deterministic=True) == first.SerializeToString(
        deterministic=True
    )
    assert [tx.id for tx in all_transactions(rpc)] == [first.id]
    assert account(rpc, "bank:USD").balance == money(1000)


def test_request_id_reused_for_a_different_adjustment_is_rejected(rpc: Transport) -> None:
    request_id = str(uuid.uuid4())
    rpc.call(
        LEDGER,
        "CreateAdjustment",
        pb.CreateAdjustmentRequest(
            entries=[entry("bank:USD", DEBIT, 1000), entry("opening_balance:USD", CREDIT, 1000)],
            reason="first",
            request_id=request_id,
        ),
    )
    failure = rpc.fail(
        LEDGER,
        "CreateAdjustment",
        pb.CreateAdjustmentRequest(
            entries=[entry("bank:USD", DEBIT, 5), entry("opening_balance:USD", CREDIT, 5)],
            reason="second",
            request_id=request_id,
        ),
    )
    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "IDEMPOTENCY_KEY_REUSED")
    assert len(all_transactions(rpc)) == 1


# --- reversals -------------------------------------------------------------------


def reverse(
    rpc: Transport, transaction_id: str, reason: str = "posted in error"
) -> pb.LedgerTransaction:
    return rpc.call(
        LEDGER,
        "ReverseTransaction",
        pb.ReverseTransactionRequest(transaction_id=transaction_id, reason=reason),
    )


def test_reversal_swaps_every_entry_and_nets_balances_to_zero(rpc: Transport) -> None:
    original = adjust(
        rpc,
        entry("bank:USD", DEBIT, 1000),
        entry("psp_fees:USD", DEBIT, 25),
        entry("opening_balance:USD", CREDIT, 1025),
    )
    reversal = reverse(rpc, original.id, "booked twice")
    assert reversal.sequence == 2
    assert reversal.previous_hash == original.hash
    assert reversal.reverses_transaction_id == original.id
    assert (reversal.source_type, reversal.source_id) == ("reversal", original.id)
    assert reversal.reason == "booked twice"
    assert [(e.account_id, e.direction, e.amount) for e in reversal.entries] == [
        ("bank:USD", CREDIT, money(1000)),
        ("psp_fees:USD", CREDIT, money(25)),
        ("opening_balance:USD", DEBIT, money(1025)),
    ]
    for account_id, turnover in (
        ("bank:USD", 1000),
        ("psp_fees:USD", 25),
        ("opening_balance:USD", 1025),
    ):
        netted = account(rpc, account_id)
        assert netted.balance == money(0)
        assert netted.debits == netted.credits == money(turnover)
    assert rpc.call(LEDGER, "GetTransaction", pb.GetTransactionRequest(id=reversal.id)) == reversal
    assert verify(rpc).intact


def test_reversing_twice_returns_the_same_reversal(rpc: Transport) -> None:
    original = opening_cash(rpc)
    first = reverse(rpc, original.id)
    again = reverse(rpc, original.id, "asked again")
    assert again == first
    assert [tx.id for tx in all_transactions(rpc)] == [original.id, first.id]
    assert account(rpc, "bank:USD").balance == money(0)


def test_a_reversal_cannot_be_reversed(rpc: Transport) -> None:
    reversal = reverse(rpc, opening_cash(rpc).id)
    failure = rpc.fail(
        LEDGER,
        "ReverseTransaction",
        pb.ReverseTransactionRequest(transaction_id=reversal.id, reason="undo the undo"),
    )
    assert (failure.code, failure.reason) == ("FAILED_PRECONDITION", "INVALID_STATE")
    assert len(all_transactions(rpc)) == 2


def test_reversing_an_unknown_transaction_is_not_found(rpc: Transport) -> None:
    failure = rpc.fail(
        LEDGER,
        "ReverseTransaction",
        pb.ReverseTransactionRequest(
            transaction_id="ltx_01HZZZZZZZZZZZZZZZZZZZZZZZ", reason="typo"
        ),
    )
    assert (failure.code, failure.reason) == ("NOT_FOUND", "RESOURCE_NOT_FOUND")


def test_reversal_without_reason_is_invalid(rpc: Transport) -> None:
    original = opening_cash(rpc)
    failure = rpc.fail(
        LEDGER, "ReverseTransaction", pb.ReverseTransactionRequest(transaction_id=original.id)
    )
    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")
    assert failure.field_violations == ["reason"]


# --- listing ---------------------------------------------------------------------


def test_list_transactions_pages_in_sequence_order(rpc: Transport) -> None:
    posted = [opening_cash(rpc, 100 + i) for i in range(7)]
    seen: list[pb.LedgerTransaction] = []
    token = ""
    pages = 0
    while True:
        page = rpc.call(
            LEDGER, "ListTransactions", pb.ListTransactionsRequest(page_size=3, page_token=token)
        )
        seen.extend(page.transactions)
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 3
    assert [tx.sequence for tx in seen] == list(range(1, 8))
    assert seen == posted


def test_list_transactions_filters_by_account(rpc: Transport) -> None:
    usd = opening_cash(rpc, 1000, "USD")
    eur = opening_cash(rpc, 500, "EUR")
    sale = adjust(rpc, entry("bank:USD", DEBIT, 70), entry("revenue:USD", CREDIT, 70))
    fee = adjust(rpc, entry("psp_fees:EUR", DEBIT, 5), entry("bank:EUR", CREDIT, 5))

    assert [tx.id for tx in all_transactions(rpc, account_id="bank:USD")] == [usd.id, sale.id]
    assert [tx.id for tx in all_transactions(rpc, account_id="bank:EUR")] == [eur.id, fee.id]
    assert [tx.id for tx in all_transactions(rpc, account_id="revenue:USD")] == [sale.id]
    assert all_transactions(rpc, account_id="revenue:EUR") == []


def test_list_transactions_filters_by_source(rpc: Transport) -> None:
    kept, reversed_ = opening_cash(rpc), opening_cash(rpc, 5)
    reversal = reverse(rpc, reversed_.id)

    adjustments = all_transactions(rpc, source_type="adjustment")
    assert [tx.id for tx in adjustments] == [kept.id, reversed_.id]
    assert [tx.id for tx in all_transactions(rpc, source_type="reversal")] == [reversal.id]
    one = all_transactions(rpc, source_type="reversal", source_id=reversed_.id)
    assert [tx.id for tx in one] == [reversal.id]
    assert all_transactions(rpc, source_type="reversal", source_id=kept.id) == []


def test_account_filter_pages_without_gaps(rpc: Transport) -> None:
    wanted = []
    for i in range(6):
        wanted.append(opening_cash(rpc, 10 + i).id)
        opening_cash(rpc, 10 + i, "EUR")
    seen, token = [], ""
    while True:
        page = rpc.call(
            LEDGER,
            "ListTransactions",
            pb.ListTransactionsRequest(page_size=4, page_token=token, account_id="bank:USD"),
        )
        seen.extend(tx.id for tx in page.transactions)
        token = page.next_page_token
        if not token:
            break
    assert seen == wanted


def test_transactions_page_token_from_another_query_is_rejected(rpc: Transport) -> None:
    for i in range(3):
        opening_cash(rpc, 10 + i)
    page = rpc.call(LEDGER, "ListTransactions", pb.ListTransactionsRequest(page_size=1))
    assert page.next_page_token
    failure = rpc.fail(
        LEDGER,
        "ListTransactions",
        pb.ListTransactionsRequest(
            page_size=1, page_token=page.next_page_token, account_id="bank:USD"
        ),
    )
    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "INVALID_PAGE_TOKEN")
    failure = rpc.fail(
        LEDGER,
        "ListTransactions",
        pb.ListTransactionsRequest(page_size=1, page_token="bm90IGEgdG9rZW4="),
    )
    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "INVALID_PAGE_TOKEN")


def test_accounts_page_token_from_another_query_is_rejected(rpc: Transport) -> None:
    opening_cash(rpc)
    page = rpc.call(LEDGER, "ListAccounts", pb.ListAccountsRequest(page_size=1))
    assert page.next_page_token
    failure = rpc.fail(
        LEDGER,
        "ListAccounts",
        pb.ListAccountsRequest(page_size=1, page_token=page.next_page_token, code="bank"),
    )
    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "INVALID_PAGE_TOKEN")


# --- verification ----------------------------------------------------------------


def test_fresh_ledger_verifies_intact(rpc: Transport) -> None:
    result = verify(rpc)
    assert result.intact
    assert (result.transactions_checked, result.accounts_checked) == (0, 0)
    assert not result.HasField("first_break")
    assert list(result.balance_mismatches) == []


def test_used_ledger_verifies_intact_with_counts(rpc: Transport) -> None:
    opening_cash(rpc, 1000, "USD")
    opening_cash(rpc, 800, "EUR")
    sale = adjust(rpc, entry("bank:USD", DEBIT, 70), entry("revenue:USD", CREDIT, 70))
    reverse(rpc, sale.id)
    result = verify(rpc)
    assert result.intact
    # bank:USD, opening_balance:USD, bank:EUR, opening_balance:EUR, revenue:USD
    assert (result.transactions_checked, result.accounts_checked) == (4, 5)
    assert not result.HasField("first_break")
    assert list(result.balance_mismatches) == []


def test_tenants_see_only_their_own_ledger(rpc: Transport, server: RunningServer) -> None:
    opening_cash(rpc)
    other = GrpcClients(server.grpc_target, server.new_tenant("other"))
    try:
        result = other.ledger.VerifyLedger(
            pb.VerifyLedgerRequest(), metadata=other.metadata, timeout=30
        )
        listed = other.ledger.ListTransactions(
            pb.ListTransactionsRequest(), metadata=other.metadata, timeout=30
        )
    finally:
        other.close()
    assert (result.transactions_checked, result.accounts_checked) == (0, 0)
    assert list(listed.transactions) == []
