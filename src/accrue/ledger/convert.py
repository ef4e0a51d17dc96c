"""Ledger messages <-> domain."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.message import Message

from accrue.billing.v1 import ledger_pb2 as pb
from accrue.billing.v1.money_pb2 import Money
from accrue.events.v1 import events_pb2
from accrue.kernel.errors import FieldViolation, ValidationFailed, Violations
from accrue.ledger.model import (
    ACCOUNT_KINDS,
    AccountRef,
    AccountType,
    Direction,
    Entry,
    Transaction,
    normal_balance,
)
from accrue.ledger.ports import AccountBalance
from accrue.platform.transport.convert import timestamp

_DIRECTION = {
    pb.ENTRY_DIRECTION_DEBIT: Direction.DEBIT,
    pb.ENTRY_DIRECTION_CREDIT: Direction.CREDIT,
}
_DIRECTION_PB = {v: k for k, v in _DIRECTION.items()}
_TYPE_PB = {
    AccountType.ASSET: pb.ACCOUNT_TYPE_ASSET,
    AccountType.LIABILITY: pb.ACCOUNT_TYPE_LIABILITY,
    AccountType.EQUITY: pb.ACCOUNT_TYPE_EQUITY,
    AccountType.REVENUE: pb.ACCOUNT_TYPE_REVENUE,
    AccountType.EXPENSE: pb.ACCOUNT_TYPE_EXPENSE,
}


def entries_from_pb(entries: list[pb.LedgerEntry], *, prefix: str = "entries") -> tuple[Entry, ...]:
    """Entries as the caller wrote them; every malformed one is reported at once."""
    problems = Violations()
    parsed: list[Entry] = []
    for index, entry in enumerate(entries):
        path = f"{prefix}[{index}]"
        try:
            account = AccountRef.parse(entry.account_id, field=f"{path}.account_id")
        except ValidationFailed as error:
            problems.items.extend(error.field_violations)
            continue
        if entry.amount.currency_code != account.currency_code:
            problems.add(
                f"{path}.amount.currency_code",
                f"must be the account's currency {account.currency_code}",
            )
            continue
        parsed.append(Entry(account, _DIRECTION[entry.direction], entry.amount.amount_minor))
    problems.raise_if_any("the entries are invalid")
    return tuple(parsed)


# Where the domain's names for parts of an entry sit in LedgerEntry on the wire.
_WIRE_SUFFIXES = (
    (".amount_minor", ".amount.amount_minor"),
    (".account.code", ".account_id"),
    (".account.currency_code", ".account_id"),
    (".account.customer_id", ".account_id"),
)


def on_the_wire(error: ValidationFailed) -> ValidationFailed:
    """The same failure with field paths that name fields of the request."""

    def wire(path: str) -> str:
        for domain_suffix, wire_suffix in _WIRE_SUFFIXES:
            if path.endswith(domain_suffix):
                return path.removesuffix(domain_suffix) + wire_suffix
        return path

    return ValidationFailed(
        error.message,
        metadata=error.metadata,
        field_violations=[
            FieldViolation(wire(v.field), v.description) for v in error.field_violations
        ],
    )


def _money(amount: int, currency_code: str) -> Money:
    return Money(amount_minor=amount, currency_code=currency_code)


def transaction_to_pb(tx: Transaction) -> pb.LedgerTransaction:
    return pb.LedgerTransaction(
        id=tx.id,
        sequence=tx.sequence,
        entries=[
            pb.LedgerEntry(
                account_id=e.account.id,
                direction=_DIRECTION_PB[e.direction],
                amount=_money(e.amount_minor, e.account.currency_code),
            )
            for e in tx.entries
        ],
        source_type=tx.source_type,
        source_id=tx.source_id,
        description=tx.description,
        reason=tx.reason,
        resource_type=tx.resource_type,
        resource_id=tx.resource_id,
        reverses_transaction_id=tx.reverses_transaction_id,
        trace_id=tx.trace_id,
        post_time=timestamp(tx.post_time),
        previous_hash=tx.previous_hash,
        hash=tx.hash,
    )


def account_to_pb(balance: AccountBalance) -> pb.Account:
    ref = balance.account
    kind = ACCOUNT_KINDS[ref.code]
    currency = ref.currency_code
    return pb.Account(
        id=ref.id,
        code=ref.code,
        currency_code=currency,
        customer_id=ref.customer_id,
        type=_TYPE_PB[kind.type],
        normal_balance=_DIRECTION_PB[kind.normal],
        balance=_money(normal_balance(kind, balance.net_minor), currency),
        debits=_money(balance.debits_minor, currency),
        credits=_money(balance.credits_minor, currency),
        create_time=timestamp(balance.create_time),
        update_time=timestamp(balance.update_time),
    )


# The event payloads of this area's subjects, gathered by `accrue.payloads`.
EVENT_PAYLOADS: tuple[tuple[type, Callable[[Any], Message]], ...] = (
    (Transaction, lambda s: events_pb2.LedgerTransactionPosted(transaction=transaction_to_pb(s))),
)
