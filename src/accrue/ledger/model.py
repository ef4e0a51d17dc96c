"""The double-entry ledger: accounts, balanced postings and the per-tenant hash chain.

Entries are append-only. A mistake is corrected by a reversal (a new
transaction with every direction swapped), never by editing, so the history of
what was believed when stays readable. Every transaction must balance in each
currency on its own: money never converts inside a posting, so a USD debit can
only be matched by USD credits.

Each tenant's transactions form a hash chain: a transaction's hash covers its
own canonical encoding *and* the previous transaction's hash, so altering,
deleting or reordering any committed transaction breaks every hash after it
and `verify_chain` names the first one that no longer fits.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime

from accrue.kernel.errors import CurrencyUnsupported, ValidationFailed, Violations
from accrue.kernel.money import MAX_AMOUNT_MINOR, Currency
from accrue.kernel.records import evolve


class AccountType(enum.Enum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    REVENUE = "revenue"
    EXPENSE = "expense"


class Direction(enum.Enum):
    DEBIT = "debit"
    CREDIT = "credit"

    @property
    def opposite(self) -> Direction:
        return Direction.CREDIT if self is Direction.DEBIT else Direction.DEBIT


@dataclass(frozen=True, slots=True)
class AccountKind:
    """A system account; `per_customer` means a customer id *may* be set on a ref."""

    code: str
    type: AccountType
    normal: Direction
    per_customer: bool
    description: str


def _kind(code: str, type_: str, normal: str, description: str) -> AccountKind:
    per_customer = code in {"accounts_receivable", "customer_credit"}
    return AccountKind(code, AccountType(type_), Direction(normal), per_customer, description)


ACCOUNT_KINDS: dict[str, AccountKind] = {
    k.code: k
    for k in (
        _kind("accounts_receivable", "asset", "debit", "amounts customers owe on open invoices"),
        _kind("revenue", "revenue", "credit", "recognised revenue"),
        _kind("tax_payable", "liability", "credit", "tax collected and owed to authorities"),
        _kind("psp_clearing", "asset", "debit", "captured funds the PSP has not yet settled"),
        _kind("psp_fees", "expense", "debit", "fees the PSP withheld"),
        _kind("bank", "asset", "debit", "settled funds in the bank"),
        # Contra-revenue: a revenue account whose normal side is debit, so refunds
        # stay visible instead of silently shrinking revenue.
        _kind("refunds", "revenue", "debit", "refunds granted (contra-revenue)"),
        _kind("customer_credit", "liability", "credit", "credit balances owed back to customers"),
        _kind("bad_debt", "expense", "debit", "receivables written off as uncollectible"),
        _kind("opening_balance", "equity", "credit", "balances brought in from a previous system"),
    )
}

MAX_TEXT = 100  # source/resource identifiers and customer ids
MAX_LONG_TEXT = 1000  # description and reason
# One side of a posting sums to at most MAX_ENTRIES * MAX_AMOUNT_MINOR = 10^18 < 2^63.
MAX_ENTRIES = 1000
GENESIS_HASH = "0" * 64
CANONICAL_FORMAT = "accrue.ledger.v1"


@dataclass(frozen=True, slots=True)
class AccountRef:
    """An account: a system kind in one currency, optionally one customer's sub-account."""

    code: str
    currency_code: str
    customer_id: str = ""

    @property
    def id(self) -> str:
        base = f"{self.code}:{self.currency_code}"
        return f"{base}:{self.customer_id}" if self.customer_id else base

    @property
    def kind(self) -> AccountKind:
        kind = ACCOUNT_KINDS.get(self.code)
        if kind is None:
            raise ValidationFailed.on("code", f"unknown account code {self.code!r}")
        return kind

    @classmethod
    def parse(cls, account_id: str, *, field: str = "account_id") -> AccountRef:
        """`code:CUR` or `code:CUR:customer_id`; every problem is reported on `field`."""
        parts = account_id.split(":")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValidationFailed.on(
                field, f"{account_id!r} is not of the form code:CURRENCY[:customer_id]"
            )
        ref = cls(*parts)
        problems = Violations()
        _check_account(ref, field, problems, single_path=True)
        problems.raise_if_any(f"invalid {field}")
        return ref


def _check_account(ref: AccountRef, path: str, out: Violations, *, single_path: bool) -> None:
    def at(part: str) -> str:
        return path if single_path else f"{path}.{part}"

    kind = ACCOUNT_KINDS.get(ref.code)
    if kind is None:
        out.add(at("code"), f"unknown account code {ref.code!r}")
    try:
        Currency.of(ref.currency_code)
    except CurrencyUnsupported:
        out.add(at("currency_code"), f"currency {ref.currency_code!r} is not supported")
    if ref.customer_id:
        if kind is not None and not kind.per_customer:
            out.add(at("customer_id"), f"account {ref.code!r} has no per-customer accounts")
        if ":" in ref.customer_id or len(ref.customer_id) > MAX_TEXT:
            out.add(at("customer_id"), f"must be at most {MAX_TEXT} characters without ':'")


@dataclass(frozen=True, slots=True)
class Entry:
    """One side of a posting; the currency is the account's."""

    account: AccountRef
    direction: Direction
    amount_minor: int

    @property
    def signed_minor(self) -> int:
        """Debit positive, credit negative: the ledger's single sign convention."""
        return self.amount_minor if self.direction is Direction.DEBIT else -self.amount_minor

    @property
    def currency_code(self) -> str:
        return self.account.currency_code


@dataclass(frozen=True, slots=True)
class PostingRequest:
    """What a business change wants posted; `validate` before it becomes a Transaction."""

    entries: tuple[Entry, ...]
    source_type: str
    source_id: str
    description: str = ""
    reason: str = ""
    resource_type: str = ""
    resource_id: str = ""
    reverses_transaction_id: str = ""

    def validate(self, prefix: str = "entries") -> None:
        """Raise ValidationFailed listing every violation at once.

        An unsupported currency becomes a field violation (not CurrencyUnsupported)
        so that one call reports everything wrong with the posting.
        """
        out = Violations()
        if not 2 <= len(self.entries) <= MAX_ENTRIES:
            out.add(prefix, f"a transaction needs between 2 and {MAX_ENTRIES} entries")
        for i, entry in enumerate(self.entries):
            path = f"{prefix}[{i}]"
            _check_account(entry.account, f"{path}.account", out, single_path=False)
            if not 0 < entry.amount_minor <= MAX_AMOUNT_MINOR:
                out.add(f"{path}.amount_minor", f"must be between 1 and {MAX_AMOUNT_MINOR}")
        for currency, (debits, credits) in sorted(side_totals(self.entries).items()):
            if debits != credits:
                out.add(
                    prefix,
                    f"{currency} does not balance: debits {debits}, credits {credits} "
                    f"(off by {debits - credits})",
                )
        for name, value, low, high in (
            ("source_type", self.source_type, 1, MAX_TEXT),
            ("source_id", self.source_id, 1, MAX_TEXT),
            ("resource_type", self.resource_type, 0, MAX_TEXT),
            ("resource_id", self.resource_id, 0, MAX_TEXT),
            ("reverses_transaction_id", self.reverses_transaction_id, 0, MAX_TEXT),
            ("description", self.description, 0, MAX_LONG_TEXT),
            ("reason", self.reason, 0, MAX_LONG_TEXT),
        ):
            if not low <= len(value) <= high:
                out.add(name, f"must be {low} to {high} characters")
        if self.reverses_transaction_id and not self.reason.strip():
            out.add("reason", "a reversal must say why")
        out.raise_if_any("the ledger posting is invalid")


def side_totals(entries: Iterable[Entry]) -> dict[str, tuple[int, int]]:
    """Per currency, (sum of debits, sum of credits)."""
    debits: dict[str, int] = defaultdict(int)
    credits: dict[str, int] = defaultdict(int)
    for entry in entries:
        side = debits if entry.direction is Direction.DEBIT else credits
        side[entry.currency_code] += entry.amount_minor
    return {c: (debits[c], credits[c]) for c in debits.keys() | credits.keys()}


def net_balances(entries: Iterable[Entry]) -> dict[AccountRef, int]:
    """Debits minus credits per account.

    One sign convention for every account keeps sums meaningful: a balanced
    ledger's nets add to zero per currency. `normal_balance` turns a net into
    what a person reading that account expects to see.
    """
    nets: dict[AccountRef, int] = defaultdict(int)
    for entry in entries:
        nets[entry.account] += entry.signed_minor
    return dict(nets)


def normal_balance(kind: AccountKind, net_minor: int) -> int:
    """`net_minor` (debits minus credits) signed so that positive is the kind's usual side."""
    return net_minor if kind.normal is Direction.DEBIT else -net_minor


@dataclass(frozen=True, slots=True, kw_only=True)
class Transaction:
    """A posted, sealed transaction; `sequence` counts from 1 per tenant with no gaps."""

    id: str
    tenant_id: str
    sequence: int
    entries: tuple[Entry, ...]
    source_type: str
    source_id: str
    post_time: datetime
    description: str = ""
    reason: str = ""
    resource_type: str = ""
    resource_id: str = ""
    reverses_transaction_id: str = ""
    trace_id: str = ""
    previous_hash: str = ""
    hash: str = ""


def canonical_bytes(tx: Transaction) -> bytes:
    """The encoding the hash covers: every field except `hash` itself.

    Compact JSON with sorted keys, ASCII only, entries in their posted order as
    {account, amount_minor, currency_code, direction}, `post_time` as
    `YYYY-MM-DDTHH:MM:SS.ffffffZ`, plus a `format` tag so a future encoding
    can be told apart. Changing this breaks every stored chain; the golden
    test pins it.
    """
    if tx.post_time.utcoffset() is None:
        raise ValidationFailed.on("post_time", "must be timezone-aware")
    document = {f.name: getattr(tx, f.name) for f in fields(tx) if f.name != "hash"}
    document["format"] = CANONICAL_FORMAT
    document["post_time"] = tx.post_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    document["entries"] = [
        {
            "account": e.account.id,
            "direction": e.direction.value,
            "amount_minor": e.amount_minor,
            "currency_code": e.currency_code,
        }
        for e in tx.entries
    ]
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")


def chain_hash(previous_hash: str, tx: Transaction) -> str:
    """Hex sha256 of `previous_hash` then the canonical bytes.

    Covering the previous hash is what makes this a chain: a change anywhere
    invalidates every later hash, so nothing can be edited or dropped quietly.
    """
    return hashlib.sha256(previous_hash.encode("utf-8") + canonical_bytes(tx)).hexdigest()


def seal(tx: Transaction, previous_hash: str) -> Transaction:
    """`tx` linked after `previous_hash` (GENESIS_HASH for sequence 1), with its hash."""
    linked = evolve(tx, previous_hash=previous_hash, hash="")
    return evolve(linked, hash=chain_hash(previous_hash, linked))


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """Where a chain stops being trustworthy: everything from `sequence` on is suspect."""

    sequence: int
    transaction_id: str
    problem: str


def verify_chain(
    transactions: Iterable[Transaction],
    *,
    after_sequence: int = 0,
    after_hash: str = GENESIS_HASH,
    head_hash: str | None = None,
) -> ChainProblem | None:
    """The first break in a tenant's chain, walked in the order given, or None.

    Start mid-chain from a trusted checkpoint with `after_sequence`/`after_hash`.
    Deleting the *last* transactions leaves a shorter chain that is internally
    intact; passing the recorded `head_hash` catches that truncation too.
    """
    expected, previous, tenant, last_id = after_sequence + 1, after_hash, None, ""
    for tx in transactions:
        if tenant is not None and tx.tenant_id != tenant:
            return ChainProblem(tx.sequence, tx.id, f"belongs to tenant {tx.tenant_id!r}")
        tenant = tenant or tx.tenant_id
        if tx.sequence != expected:
            return ChainProblem(
                expected, tx.id, f"sequence {expected} missing or out of order; found {tx.sequence}"
            )
        if tx.previous_hash != previous:
            return ChainProblem(tx.sequence, tx.id, "previous_hash does not match the chain")
        if tx.hash != chain_hash(tx.previous_hash, tx):
            return ChainProblem(tx.sequence, tx.id, "hash does not match the contents")
        expected, previous, last_id = expected + 1, tx.hash, tx.id
    if head_hash is not None and previous != head_hash:
        return ChainProblem(expected, last_id, "chain ends before the recorded head")
    return None


def post(
    request: PostingRequest,
    *,
    transaction_id: str,
    tenant_id: str,
    sequence: int,
    post_time: datetime,
    previous_hash: str,
    trace_id: str = "",
    validated: bool = False,
) -> Transaction:
    """Validate `request` and seal it as the tenant's transaction number `sequence`."""
    if not validated:
        request.validate()
    fields_of_request = {f.name: getattr(request, f.name) for f in fields(request)}
    unsealed = Transaction(
        id=transaction_id,
        tenant_id=tenant_id,
        sequence=sequence,
        post_time=post_time,
        trace_id=trace_id,
        **fields_of_request,
    )
    return seal(unsealed, previous_hash)


def posting_from_nets(
    nets: Mapping[AccountRef, int],
    *,
    source_type: str,
    source_id: str,
    description: str,
    resource_type: str,
    resource_id: str,
) -> PostingRequest | None:
    """A posting from per-account signed nets (debit positive): balanced by
    construction, one entry per account; None when every net is zero."""
    entries = tuple(
        Entry(account, Direction.DEBIT if net > 0 else Direction.CREDIT, abs(net))
        for account, net in nets.items()
        if net
    )
    if not entries:
        return None
    assert sum(e.signed_minor for e in entries) == 0, "a posting from nets must balance"
    return PostingRequest(
        entries=entries,
        source_type=source_type,
        source_id=source_id,
        description=description,
        resource_type=resource_type,
        resource_id=resource_id,
    )


def reversal_of(tx: Transaction, *, reason: str) -> PostingRequest:
    """The correcting posting: every entry with its direction swapped.

    Its source is ("reversal", tx.id), so idempotency by source lets a
    transaction be reversed at most once.
    """
    if not reason.strip():
        raise ValidationFailed.on("reason", "a reversal must say why")
    return PostingRequest(
        entries=tuple(replace(e, direction=e.direction.opposite) for e in tx.entries),
        source_type="reversal",
        source_id=tx.id,
        description=f"reversal of {tx.id}",
        reason=reason,
        resource_type=tx.resource_type,
        resource_id=tx.resource_id,
        reverses_transaction_id=tx.id,
    )


def unsequenced(
    request: PostingRequest,
    *,
    transaction_id: str,
    tenant_id: str,
    post_time: datetime,
    trace_id: str = "",
) -> Transaction:
    """`request` as a committed-but-unnumbered transaction: sequence 0, no hashes yet.

    Where a sequencer numbers transactions after commit, the posting use case
    never sees the chain: the sequence and both hashes are given by `seal_next`.
    """
    fields_of_request = {f.name: getattr(request, f.name) for f in fields(request)}
    return Transaction(
        id=transaction_id,
        tenant_id=tenant_id,
        sequence=0,
        post_time=post_time,
        trace_id=trace_id,
        **fields_of_request,
    )


def seal_next(
    transactions: Iterable[Transaction], *, after_sequence: int, after_hash: str
) -> list[Transaction]:
    """Number `transactions` in the order given after the head (`after_sequence`,
    `after_hash`) and link each to the one before: the sequencer's one step."""
    sealed: list[Transaction] = []
    sequence, previous = after_sequence, after_hash
    for tx in transactions:
        sequence += 1
        linked = seal(evolve(tx, sequence=sequence), previous)
        sealed.append(linked)
        previous = linked.hash
    return sealed
