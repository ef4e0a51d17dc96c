"""Ledger rules: balanced postings per currency, the hash chain, reversals, signs."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accrue.kernel.errors import ValidationFailed
from accrue.kernel.money import MAX_AMOUNT_MINOR
from accrue.ledger.model import (
    ACCOUNT_KINDS,
    GENESIS_HASH,
    AccountRef,
    Direction,
    Entry,
    PostingRequest,
    Transaction,
    canonical_bytes,
    chain_hash,
    net_balances,
    normal_balance,
    post,
    reversal_of,
    seal,
    side_totals,
    verify_chain,
)

CURRENCIES = ["USD", "EUR", "JPY"]
CUSTOMERS = ["", "cus_1", "cus_2"]
T0 = datetime(2025, 1, 31, 12, 0, 0, 123456, tzinfo=UTC)
DEBIT, CREDIT = Direction.DEBIT, Direction.CREDIT
fast = settings(max_examples=50, deadline=None)
chains = settings(max_examples=25, deadline=None)  # each example builds and hashes a chain


@st.composite
def account_refs(draw: st.DrawFn, currency: str | None = None) -> AccountRef:
    kind = ACCOUNT_KINDS[draw(st.sampled_from(sorted(ACCOUNT_KINDS)))]
    customer = draw(st.sampled_from(CUSTOMERS)) if kind.per_customer else ""
    return AccountRef(kind.code, currency or draw(st.sampled_from(CURRENCIES)), customer)


@st.composite
def split(draw: st.DrawFn, total: int) -> list[int]:
    """`total` cut into 1..3 positive parts."""
    if total == 1:
        return [1]
    cuts = draw(st.lists(st.integers(1, total - 1), max_size=2, unique=True))
    return [b - a for a, b in pairwise([0, *sorted(cuts), total])]


@st.composite
def balanced_postings(draw: st.DrawFn) -> PostingRequest:
    """Postings over 1-3 currencies, each balancing on its own, entries shuffled."""
    entries = []
    for currency in draw(
        st.lists(st.sampled_from(CURRENCIES), min_size=1, max_size=3, unique=True)
    ):
        debits = draw(st.lists(st.integers(1, 10**12), min_size=1, max_size=3))
        for direction, amounts in ((DEBIT, debits), (CREDIT, draw(split(sum(debits))))):
            entries += [Entry(draw(account_refs(currency)), direction, a) for a in amounts]
    source_id = draw(st.text("abcdef0123456789", min_size=1, max_size=12))
    return PostingRequest(tuple(draw(st.permutations(entries))), "invoice", source_id)


def _sealed_chain(postings: list[PostingRequest]) -> list[Transaction]:
    chain: list[Transaction] = []
    for n, request in enumerate(postings, start=1):
        chain.append(
            post(
                request,
                transaction_id=f"ltx_{n:04d}",
                tenant_id="ten_1",
                sequence=n,
                post_time=T0 + timedelta(seconds=n),
                previous_hash=chain[-1].hash if chain else GENESIS_HASH,
                trace_id=f"{n:032x}",
            )
        )
    return chain


def _violations(request: PostingRequest) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as caught:
        request.validate()
    return [(v.field, v.description) for v in caught.value.field_violations]


def _simple(n: int, currency: str = "USD") -> PostingRequest:
    legs = (("bank", currency, DEBIT, n), ("revenue", currency, CREDIT, n))
    return PostingRequest(_entries(*legs), "test", f"src_{n}")


def _entries(*legs: tuple[str, str, Direction, int]) -> tuple[Entry, ...]:
    return tuple(Entry(AccountRef(code, cur), d, amount) for code, cur, d, amount in legs)


# --- balancing -----------------------------------------------------------------------


@fast
@given(postings=st.lists(balanced_postings(), min_size=1, max_size=8))
def test_balanced_postings_keep_debits_equal_to_credits_per_currency(
    postings: list[PostingRequest],
) -> None:
    running: dict[AccountRef, int] = defaultdict(int)
    posted: list[Entry] = []
    for request in postings:
        request.validate()
        for entry in request.entries:
            running[entry.account] += entry.signed_minor
        posted += request.entries
        for debits, credits in side_totals(posted).values():
            assert debits == credits
    by_account: dict[AccountRef, list[int]] = defaultdict(list)
    for entry in posted:
        by_account[entry.account].append(entry.signed_minor)
    balances = net_balances(posted)
    assert balances == dict(running)
    assert balances == {account: sum(signed) for account, signed in by_account.items()}
    for currency in {e.currency_code for e in posted}:
        assert sum(v for a, v in balances.items() if a.currency_code == currency) == 0


@fast
@given(request=balanced_postings(), data=st.data())
def test_a_posting_off_by_any_amount_is_rejected_naming_its_currency(
    request: PostingRequest, data: st.DataObject
) -> None:
    i = data.draw(st.integers(0, len(request.entries) - 1))
    delta = data.draw(st.integers(1, 1000))
    entries = list(request.entries)
    entries[i] = replace(entries[i], amount_minor=entries[i].amount_minor + delta)
    problems = _violations(replace(request, entries=tuple(entries)))
    currency = entries[i].currency_code
    assert [f for f, d in problems if d.startswith(f"{currency} does not balance")] == ["entries"]


def test_mixed_currencies_that_only_balance_in_total_are_rejected_per_currency() -> None:
    request = PostingRequest(
        _entries(("accounts_receivable", "USD", DEBIT, 100), ("revenue", "EUR", CREDIT, 100)),
        "invoice",
        "in_1",
    )
    problems = _violations(request)
    assert ("entries", "EUR does not balance: debits 0, credits 100 (off by -100)") in problems
    assert ("entries", "USD does not balance: debits 100, credits 0 (off by 100)") in problems


def test_mixed_currencies_balancing_each_on_its_own_are_accepted() -> None:
    PostingRequest(
        _entries(
            ("accounts_receivable", "USD", DEBIT, 100),
            ("accounts_receivable", "JPY", DEBIT, 7),
            ("revenue", "JPY", CREDIT, 7),
            ("revenue", "USD", CREDIT, 100),
        ),
        "invoice",
        "in_1",
    ).validate()


@pytest.mark.parametrize("amount", [0, -5, MAX_AMOUNT_MINOR + 1])
def test_an_amount_outside_one_to_the_maximum_is_rejected_at_its_entry(amount: int) -> None:
    request = PostingRequest(
        _entries(
            ("bank", "USD", DEBIT, 5),
            ("psp_fees", "USD", DEBIT, amount),
            ("psp_clearing", "USD", CREDIT, 5),
        ),
        "settlement",
        "st_1",
    )
    assert "entries[1].amount_minor" in [f for f, _ in _violations(request)]


@pytest.mark.parametrize("count", [0, 1])
def test_fewer_than_two_entries_are_rejected(count: int) -> None:
    entries = _entries(("bank", "USD", DEBIT, 5))[:count]
    assert "entries" in [f for f, _ in _violations(PostingRequest(entries, "x", "y"))]


def test_every_violation_is_reported_at_once() -> None:
    request = PostingRequest(
        (
            Entry(AccountRef("petty_cash", "USD"), DEBIT, 5),
            Entry(AccountRef("revenue", "USD", "cus_1"), CREDIT, 5),
            Entry(AccountRef("bank", "XYZ"), DEBIT, 5),
            Entry(AccountRef("customer_credit", "XYZ", "cus_1"), CREDIT, 5),
        ),
        source_type="",
        source_id="s" * 101,
    )
    fields = {f for f, _ in _violations(request)}
    assert fields == {
        "entries[0].account.code",
        "entries[1].account.customer_id",
        "entries[2].account.currency_code",
        "entries[3].account.currency_code",
        "source_type",
        "source_id",
    }


def test_a_customer_id_is_allowed_on_receivables_and_customer_credit() -> None:
    PostingRequest(
        (
            Entry(AccountRef("customer_credit", "USD", "cus_1"), DEBIT, 5),
            Entry(AccountRef("accounts_receivable", "USD", "cus_1"), CREDIT, 5),
        ),
        "credit_applied",
        "in_1",
    ).validate()


# --- hash chain ----------------------------------------------------------------------


def _altered(tx: Transaction, what: str) -> Transaction:
    """`tx` with one thing changed and, like a tampering UPDATE would, not re-sealed."""
    first = tx.entries[0]
    other_code = "bad_debt" if first.account.code != "bad_debt" else "bank"
    entry = {
        "amount": replace(first, amount_minor=first.amount_minor + 1),
        "account": replace(first, account=AccountRef(other_code, first.currency_code)),
        "direction": replace(first, direction=first.direction.opposite),
    }.get(what)
    if entry is not None:
        return replace(tx, entries=(entry, *tx.entries[1:]))
    value: Any = {
        "description": tx.description + "!",
        "source_id": tx.source_id + "x",
        "post_time": tx.post_time + timedelta(microseconds=1),
        "trace_id": "f" * 32,
        "hash": "a" * 64,
        "previous_hash": "b" * 64,
    }[what]
    return replace(tx, **{what: value})


ALTERATIONS = [
    "amount",
    "account",
    "direction",
    "description",
    "source_id",
    "post_time",
    "trace_id",
    "hash",
    "previous_hash",
]


@chains
@given(postings=st.lists(balanced_postings(), min_size=1, max_size=6), data=st.data())
def test_an_intact_chain_verifies_and_any_altered_field_names_its_transaction(
    postings: list[PostingRequest], data: st.DataObject
) -> None:
    chain = _sealed_chain(postings)
    assert verify_chain(chain) is None
    assert verify_chain(chain, head_hash=chain[-1].hash) is None
    i = data.draw(st.integers(0, len(chain) - 1))
    tampered = [
        *chain[:i],
        _altered(chain[i], data.draw(st.sampled_from(ALTERATIONS))),
        *chain[i + 1 :],
    ]
    problem = verify_chain(tampered)
    assert problem is not None
    assert (problem.sequence, problem.transaction_id) == (i + 1, chain[i].id)


@chains
@given(postings=st.lists(balanced_postings(), min_size=2, max_size=6), data=st.data())
def test_deleting_any_transaction_reports_the_gap_at_its_position(
    postings: list[PostingRequest], data: st.DataObject
) -> None:
    chain = _sealed_chain(postings)
    i = data.draw(st.integers(0, len(chain) - 1))
    remaining = chain[:i] + chain[i + 1 :]
    problem = verify_chain(remaining, head_hash=chain[-1].hash)
    assert problem is not None
    assert problem.sequence == i + 1
    if i < len(chain) - 1:
        assert problem.transaction_id == chain[i + 1].id


@chains
@given(postings=st.lists(balanced_postings(), min_size=2, max_size=6), data=st.data())
def test_reordering_transactions_is_detected_where_the_order_first_differs(
    postings: list[PostingRequest], data: st.DataObject
) -> None:
    chain = _sealed_chain(postings)
    shuffled = data.draw(st.permutations(chain))
    if shuffled == chain:
        shuffled = shuffled[1:] + shuffled[:1]
    first = next(n for n, (a, b) in enumerate(zip(chain, shuffled, strict=True)) if a != b)
    problem = verify_chain(shuffled)
    assert problem is not None
    assert (problem.sequence, problem.transaction_id) == (first + 1, shuffled[first].id)


def test_renumbering_after_a_deletion_still_breaks_the_hash_links() -> None:
    chain = _sealed_chain([_simple(n) for n in (1, 2, 3)])
    renumbered = [chain[0], replace(chain[2], sequence=2)]
    problem = verify_chain(renumbered)
    assert problem is not None
    assert (problem.sequence, problem.transaction_id) == (2, chain[2].id)


def test_verification_can_start_from_a_trusted_checkpoint() -> None:
    chain = _sealed_chain([_simple(n, "EUR") for n in (1, 2, 3)])
    assert verify_chain(chain[1:], after_sequence=1, after_hash=chain[0].hash) is None
    assert verify_chain(chain[1:]) is not None


def test_the_canonical_encoding_is_pinned() -> None:
    tx = seal(
        Transaction(
            id="ltx_1",
            tenant_id="ten_1",
            sequence=1,
            entries=_entries(
                ("accounts_receivable", "USD", DEBIT, 1250), ("revenue", "USD", CREDIT, 1250)
            ),
            source_type="invoice",
            source_id="in_1",
            post_time=datetime(2025, 3, 1, 9, 30, tzinfo=UTC),
            trace_id="ab" * 16,
        ),
        GENESIS_HASH,
    )
    assert canonical_bytes(tx) == (
        b'{"description":"","entries":[{"account":"accounts_receivable:USD","amount_minor":1250,'
        b'"currency_code":"USD","direction":"debit"},{"account":"revenue:USD","amount_minor":1250,'
        b'"currency_code":"USD","direction":"credit"}],"format":"accrue.ledger.v1","id":"ltx_1",'
        b'"post_time":"2025-03-01T09:30:00.000000Z","previous_hash":"' + GENESIS_HASH.encode()
        + b'","reason":"","resource_id":"","resource_type":"","reverses_transaction_id":"",'
        b'"sequence":1,"source_id":"in_1","source_type":"invoice","tenant_id":"ten_1",'
        b'"trace_id":"abababababababababababababababab"}'
    )  # fmt: skip
    assert tx.hash == chain_hash(GENESIS_HASH, tx)
    assert tx.hash == "bcc4d561dd26a7cef2a670e54dede571b5a93adc70acf9352c490bc9c99b75fd"


def test_post_time_in_another_zone_hashes_like_the_same_utc_instant() -> None:
    tx = _sealed_chain([_simple(1)])[0]
    shifted = replace(tx, post_time=tx.post_time.astimezone(timezone(timedelta(hours=5))))
    assert chain_hash(tx.previous_hash, shifted) == tx.hash


def test_a_naive_post_time_cannot_be_hashed() -> None:
    tx = _sealed_chain([_simple(1)])[0]
    with pytest.raises(ValidationFailed):
        canonical_bytes(replace(tx, post_time=datetime(2025, 1, 1)))


def test_an_invalid_posting_is_never_sealed() -> None:
    with pytest.raises(ValidationFailed):
        _sealed_chain([PostingRequest(_entries(("bank", "USD", DEBIT, 1)), "t", "1")])


# --- reversals -----------------------------------------------------------------------


@fast
@given(request=balanced_postings())
def test_a_transaction_and_its_reversal_net_every_account_to_zero(request: PostingRequest) -> None:
    tx = _sealed_chain([request])[0]
    reversal = reversal_of(tx, reason="billed the wrong customer")
    reversal.validate()
    nets = net_balances([*tx.entries, *reversal.entries])
    assert set(nets.values()) == {0}
    assert (reversal.source_type, reversal.source_id) == ("reversal", tx.id)
    assert reversal.reverses_transaction_id == tx.id


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_reversal_needs_a_reason(reason: str) -> None:
    tx = _sealed_chain([_simple(1)])[0]
    with pytest.raises(ValidationFailed):
        reversal_of(tx, reason=reason)
    unexplained = replace(reversal_of(tx, reason="x"), reason=reason)
    assert "reason" in [f for f, _ in _violations(unexplained)]


# --- account ids ---------------------------------------------------------------------


@given(ref=account_refs())
def test_an_account_id_parses_back_to_the_same_account(ref: AccountRef) -> None:
    assert AccountRef.parse(ref.id) == ref
    assert ref.kind is ACCOUNT_KINDS[ref.code]


@pytest.mark.parametrize(
    "account_id",
    [
        "",
        "revenue",
        ":USD",
        "revenue:",
        "revenue:USD:",
        "accounts_receivable:USD:cus:1",
        "petty_cash:USD",
        "revenue:usd",
        "revenue:USD:cus_1",
        "accounts_receivable:USD:" + "c" * 101,
    ],
)
def test_a_malformed_account_id_is_rejected_on_its_field(account_id: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        AccountRef.parse(account_id, field="entries[0].account_id")
    assert {v.field for v in caught.value.field_violations} == {"entries[0].account_id"}


def test_an_unknown_account_code_has_no_kind() -> None:
    with pytest.raises(ValidationFailed):
        _ = AccountRef("petty_cash", "USD").kind


# --- normal balances -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "direction", "expected"),
    [
        ("accounts_receivable", DEBIT, 100),
        ("revenue", CREDIT, 100),
        ("refunds", DEBIT, 100),
        ("revenue", DEBIT, -100),
        ("customer_credit", CREDIT, 100),
        ("psp_fees", DEBIT, 100),
    ],
)
def test_a_balance_is_positive_on_the_accounts_normal_side(
    code: str, direction: Direction, expected: int
) -> None:
    net = Entry(AccountRef(code, "USD"), direction, 100).signed_minor
    assert normal_balance(ACCOUNT_KINDS[code], net) == expected
