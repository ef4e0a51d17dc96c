"""SQL persistence of the ledger: chain heads, transactions, entries, balances."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    bindparam,
    case,
    cast,
    func,
    insert,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from accrue.kernel.paging import PageRequest
from accrue.ledger import tables as t
from accrue.ledger.model import GENESIS_HASH, AccountRef, Direction, Entry, Transaction
from accrue.ledger.ports import AccountBalance, ChainHead, TransactionQuery, Unsequenced
from accrue.platform.db.any_of import any_of
from accrue.platform.db.json_rows import JsonInsert, encode_rows

_h = t.ledger_heads.c
_HEAD = select(_h.last_sequence, _h.last_hash).where(_h.tenant_id == bindparam("tenant_id"))
_SET_HEAD = (
    update(t.ledger_heads)
    .where(_h.tenant_id == bindparam("t_id"))
    .values(last_sequence=bindparam("seq"), last_hash=bindparam("hash"))
)
_tx = t.ledger_transactions.c
_e = t.ledger_entries.c
_a = t.ledger_accounts.c


def _upsert_account(dialect: Any) -> Any:
    statement = dialect.insert(t.ledger_accounts)
    return statement.on_conflict_do_update(
        index_elements=["tenant_id", "id"],
        set_={
            "net_minor": _a.net_minor + statement.excluded.net_minor,
            "debits_minor": _a.debits_minor + statement.excluded.debits_minor,
            "credits_minor": _a.credits_minor + statement.excluded.credits_minor,
            "update_time": statement.excluded.update_time,
        },
    )


_UPSERT_ACCOUNT = {"postgresql": _upsert_account(postgresql), "sqlite": _upsert_account(sqlite)}
_ACCOUNT_COLUMNS = (
    "tenant_id",
    "id",
    "code",
    "currency_code",
    "customer_id",
    "net_minor",
    "debits_minor",
    "credits_minor",
    "create_time",
    "update_time",
)
# The same on PostgreSQL with the rows as one JSON text (see `json_rows`): a
# sequencer batch of bill-run postings touches a receivable per customer.
_UPSERT_ACCOUNTS_JSON = JsonInsert(
    t.ledger_accounts,
    _ACCOUNT_COLUMNS,
    suffix="ON CONFLICT (tenant_id, id) DO UPDATE SET"
    " net_minor = ledger_accounts.net_minor + EXCLUDED.net_minor,"
    " debits_minor = ledger_accounts.debits_minor + EXCLUDED.debits_minor,"
    " credits_minor = ledger_accounts.credits_minor + EXCLUDED.credits_minor,"
    " update_time = EXCLUDED.update_time",
)
# A posting batch and its entries in one statement (PostgreSQL), inserted
# unless the source already posted (waiting for an in-flight poster of the
# same source to finish first); returns the ids that went in. The rows travel
# as two JSON texts (see `platform/db/json_rows.py`) instead of two
# driver-side executemany calls that adapt every value of every row in Python:
# a posting is one round trip, and `post_many` one statement whatever its
# size. jsonb, so that a row is parsed once, not once per column read.
# Amounts stay exact (JSON integers cast to bigint from their text); times are
# ISO 8601 with their UTC offset. Entries of a transaction whose source had
# already posted are not inserted (`tx` returns only the rows that went in).
_POST_UNSEQUENCED = text(
    """
    WITH tx AS (
        INSERT INTO ledger_transactions (tenant_id, id, sequence, source_type, source_id,
            description, reason, resource_type, resource_id, reverses_transaction_id,
            trace_id, post_time, previous_hash, hash, writer_xid)
        SELECT r->>0, r->>1, NULL, r->>2, r->>3, r->>4, r->>5, r->>6, r->>7, r->>8, r->>9,
            CAST(r->>10 AS timestamptz), r->>11, r->>12, pg_current_xact_id()::text::bigint
        FROM jsonb_array_elements(CAST(:transactions AS jsonb)) AS r
        ON CONFLICT (tenant_id, source_type, source_id) DO NOTHING
        RETURNING tenant_id, id
    ), entries AS (
        INSERT INTO ledger_entries (tenant_id, transaction_id, position, account_id,
            currency_code, amount_minor)
        SELECT e->>0, e->>1, CAST(e->>2 AS integer), e->>3, e->>4, CAST(e->>5 AS bigint)
        FROM jsonb_array_elements(CAST(:entries AS jsonb)) AS e
        JOIN tx ON tx.tenant_id = e->>0 AND tx.id = e->>1
    )
    SELECT id FROM tx
    """
)
_NUMBER = (
    update(t.ledger_transactions)
    .where(_tx.tenant_id == bindparam("t_id"), _tx.id == bindparam("tx_id"))
    .values(sequence=bindparam("seq"), previous_hash=bindparam("prev"), hash=bindparam("hash_"))
)
# The same in one statement on PostgreSQL: a batch is one UPDATE joined to its
# rows, sent as one JSON text (see `json_rows`), not one UPDATE per transaction
# nor one array per column (which the driver dumped element by element).
_NUMBER_MANY = (
    "UPDATE ledger_transactions AS x"
    " SET sequence = CAST(r->>1 AS bigint), previous_hash = r->>2, hash = r->>3"
    " FROM jsonb_array_elements(CAST(%(rows)s AS jsonb)) AS r"
    " WHERE x.tenant_id = %(t_id)s AND x.id = r->>0"
)
_LOCK_CREDIT = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")
# Many at once, in the order given (the ordinality keeps the array's order).
_LOCK_CREDITS = text(
    "SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) FROM ("
    "SELECT k FROM unnest(CAST(:keys AS text[])) WITH ORDINALITY AS u(k, n) ORDER BY n"
    ") AS ordered"
)
_BY_SOURCES = select(t.ledger_transactions).where(
    _tx.tenant_id == bindparam("tenant_id"),
    tuple_(_tx.source_type, _tx.source_id).in_(bindparam("sources", expanding=True)),
)
_BY_ID = select(t.ledger_transactions).where(
    _tx.tenant_id == bindparam("tenant_id"), _tx.id == bindparam("id")
)
_ENTRIES_OF = (
    select(_e.transaction_id, _e.account_id, _e.amount_minor)
    .where(
        _e.tenant_id == bindparam("tenant_id"),
        any_of(_e.transaction_id, "ids"),
    )
    .order_by(_e.transaction_id, _e.position)
)


# The balance reads' parameters, bound at execution (see `_accounts_with_pending`).
_BALANCE_TENANT: Any = bindparam("balance_tenant", type_=t.ledger_accounts.c.tenant_id.type)


def _pending_deltas(*, filtered: bool) -> Any:
    """Per account, the entries of committed-but-unsequenced transactions (and
    of this unit of work's own), which the sequencer has not yet added to the
    stored balance. Served by the partial index on unsequenced transactions;
    small, because the sequencer keeps up within about a second."""
    debit = case((_e.amount_minor > 0, _e.amount_minor), else_=0)
    credit = case((_e.amount_minor < 0, -_e.amount_minor), else_=0)
    query = (
        select(
            _e.account_id.label("account_id"),
            _e.currency_code.label("currency_code"),
            cast(func.sum(_e.amount_minor), BigInteger).label("net"),
            cast(func.sum(debit), BigInteger).label("debits"),
            cast(func.sum(credit), BigInteger).label("credits"),
            func.min(_tx.post_time).label("first_time"),
            func.max(_tx.post_time).label("last_time"),
        )
        .select_from(
            t.ledger_transactions.join(
                t.ledger_entries,
                (_e.tenant_id == _tx.tenant_id) & (_e.transaction_id == _tx.id),
            )
        )
        .where(_tx.tenant_id == _BALANCE_TENANT, _tx.sequence.is_(None))
        .group_by(_e.account_id, _e.currency_code)
    )
    if filtered:
        query = query.where(any_of(_e.account_id, "balance_ids"))
    return query.subquery("pending")


@lru_cache(maxsize=2)
def _accounts_with_pending(*, filtered: bool) -> Any:
    """Stored balances plus what the sequencer has still to apply, in ONE
    statement (a sequencer batch moves a transaction from pending into the
    stored balance atomically, so a single snapshot counts it once), as a
    subquery with the columns of `ledger_accounts`. An account whose first
    postings are still pending has no row yet: the full join shows it, its
    code and customer read from its id (`code:CUR[:customer]`).

    Built once (per `filtered`), its values bound at execution (`_balance_params`):
    building this statement was most of a balance read's own work."""
    pending = _pending_deltas(filtered=filtered)
    stored = select(t.ledger_accounts).where(_a.tenant_id == _BALANCE_TENANT)
    if filtered:
        stored = stored.where(any_of(_a.id, "balance_ids"))
    a = stored.subquery("stored")
    account_id = func.coalesce(a.c.id, pending.c.account_id)
    return (
        select(
            cast(_BALANCE_TENANT, t.ledger_accounts.c.tenant_id.type).label("tenant_id"),
            account_id.label("id"),
            func.coalesce(a.c.code, func.split_part(pending.c.account_id, ":", 1)).label("code"),
            func.coalesce(a.c.currency_code, pending.c.currency_code).label("currency_code"),
            func.coalesce(a.c.customer_id, func.split_part(pending.c.account_id, ":", 3)).label(
                "customer_id"
            ),
            (func.coalesce(a.c.net_minor, 0) + func.coalesce(pending.c.net, 0)).label("net_minor"),
            (func.coalesce(a.c.debits_minor, 0) + func.coalesce(pending.c.debits, 0)).label(
                "debits_minor"
            ),
            (func.coalesce(a.c.credits_minor, 0) + func.coalesce(pending.c.credits, 0)).label(
                "credits_minor"
            ),
            func.coalesce(a.c.create_time, pending.c.first_time).label("create_time"),
            func.coalesce(pending.c.last_time, a.c.update_time).label("update_time"),
        )
        .select_from(a.join(pending, pending.c.account_id == a.c.id, full=True))
        .subquery("balances")
    )


@lru_cache(maxsize=2)
def _stored_accounts(*, filtered: bool) -> Any:
    """The stored balances alone (a one-writer database has nothing pending)."""
    query = select(t.ledger_accounts).where(_a.tenant_id == _BALANCE_TENANT)
    if filtered:
        query = query.where(any_of(_a.id, "balance_ids"))
    return query.subquery("balances")


@lru_cache(maxsize=8)
def _select_all(rows: Any) -> Any:
    return select(rows)


def _balance_params(tenant_id: str, account_ids: Sequence[str] | None) -> dict[str, Any]:
    params: dict[str, Any] = {"balance_tenant": tenant_id}
    if account_ids is not None:
        params["balance_ids"] = list(account_ids)
    return params


class SqlLedgerRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        # Sealed postings of this unit of work whose balance increments are
        # applied as late as possible (one-writer databases).
        self._deferred: list[Transaction] = []
        self._sequenced_later = conn.dialect.name == "postgresql"

    def create_head(self, tenant_id: str) -> None:
        self._conn.execute(
            insert(t.ledger_heads).values(
                tenant_id=tenant_id, last_sequence=0, last_hash=GENESIS_HASH
            )
        )

    def inline_head(self, tenant_id: str) -> ChainHead | None:
        """The head to seal new postings against now, or None where a sequencer
        numbers them after commit (PostgreSQL). SQLite has one writer, whose
        write lock already orders postings by commit, so it seals inline."""
        if self._conn.dialect.name == "postgresql":
            return None
        return self.read_head(tenant_id)

    def lock_customer_credit(self, tenant_id: str, customer_id: str, currency_code: str) -> None:
        """Serialise the use cases that *spend* a customer's credit balance (invoice
        finalisation applies it, a prepayment refund returns it) with each other:
        each reads the balance after taking this lock, so two cannot spend the
        same credit. Increases need no lock: a reader that missed one is only
        conservative. A transaction-scoped advisory lock on PostgreSQL (taken
        before any balance row lock, so it cannot join a deadlock with postings,
        which never wait for it); SQLite's write lock already serialises."""
        self.lock_customer_credits(tenant_id, [(customer_id, currency_code)])

    def lock_customer_credits(self, tenant_id: str, customers: Sequence[tuple[str, str]]) -> None:
        """`lock_customer_credit` for many (customer, currency) pairs in one
        statement, taken in sorted order (every multi-customer locker uses this
        order, so two batches cannot deadlock)."""
        if self._conn.dialect.name != "postgresql" or not customers:
            return
        keys = [
            f"customer_credit:{tenant_id}:{customer_id}:{currency_code}"
            for customer_id, currency_code in sorted(set(customers))
        ]
        if len(keys) == 1:
            self._conn.execute(_LOCK_CREDIT, {"key": keys[0]})
        else:
            self._conn.execute(_LOCK_CREDITS, {"keys": keys})

    def read_head(self, tenant_id: str) -> ChainHead:
        row = self._conn.execute(_HEAD, {"tenant_id": tenant_id}).one()
        return ChainHead(row.last_sequence, row.last_hash)

    def set_head(self, tenant_id: str, head: ChainHead) -> None:
        self._conn.execute(
            _SET_HEAD, {"t_id": tenant_id, "seq": head.last_sequence, "hash": head.last_hash}
        )

    def add_transactions(self, transactions: Sequence[Transaction]) -> None:
        if not transactions:
            return
        self._conn.execute(insert(t.ledger_transactions), [_tx_row(tx) for tx in transactions])
        self._conn.execute(insert(t.ledger_entries), _entry_rows(transactions))
        self._deferred.extend(transactions)

    def add_unsequenced(self, transactions: Sequence[Transaction]) -> set[str]:
        """Insert unnumbered transactions and their entries; returns the ids
        inserted. One whose source already posted (committed, or committing
        concurrently: the insert waits for it) is skipped, for the caller to
        look up. Their amounts reach the stored balances through the sequencer
        (`add_to_balances`). PostgreSQL only (SQLite seals at commit); one
        statement whatever the number of postings (`_POST_UNSEQUENCED`)."""
        if not transactions:
            return set()
        params = {
            "transactions": encode_rows([_tx_json(tx) for tx in transactions]),
            "entries": encode_rows(_entries_json(transactions)),
        }
        return set(self._conn.execute(_POST_UNSEQUENCED, params).scalars())

    def pending_batch(self, tenant_id: str, limit: int) -> list[Transaction]:
        """Up to `limit` committed, unnumbered transactions in sequencing order.

        Every row this statement sees is committed (or it would be invisible),
        so nothing here waits on a transaction still open; one that commits
        later stays NULL and is picked up by a later batch.
        """
        query = (
            select(t.ledger_transactions)
            .where(_tx.tenant_id == tenant_id, _tx.sequence.is_(None))
            .order_by(_tx.writer_xid, _tx.id)
            .limit(limit)
        )
        return self._with_entries(tenant_id, list(self._conn.execute(query)))

    def number(self, sealed: Sequence[Transaction]) -> None:
        """Store the sequence and hashes the sequencer gave (one statement)."""
        if sealed and self._sequenced_later:
            for batch in _by_tenant(sealed):
                rows = [(tx.id, tx.sequence, tx.previous_hash, tx.hash) for tx in batch]
                self._conn.exec_driver_sql(
                    _NUMBER_MANY, {"t_id": batch[0].tenant_id, "rows": encode_rows(rows)}
                )
        elif sealed:
            self._conn.execute(
                _NUMBER,
                [
                    {"t_id": tx.tenant_id, "tx_id": tx.id, "seq": tx.sequence}
                    | {"prev": tx.previous_hash, "hash_": tx.hash}
                    for tx in sealed
                ],
            )

    def unsequenced(self, tenant_id: str) -> Unsequenced:
        """How many committed transactions wait for the sequencer, and since when."""
        query = select(func.count(), func.min(_tx.post_time)).where(
            _tx.tenant_id == tenant_id, _tx.sequence.is_(None)
        )
        count, oldest = self._conn.execute(query).one()
        return Unsequenced(int(count), oldest)

    def apply_balances(self) -> None:
        """Bring this unit of work's sealed postings to the accounts table now.

        Sealed postings (SQLite, one writer) add their increments here: one
        upsert, accounts in sorted order, run by the unit of work as the last
        statement before COMMIT. Unsequenced postings (PostgreSQL) touch the
        accounts table not at all, not even to create a new account (an insert
        would wait on the sequencer's update of a hot row): the sequencer adds
        their amounts per batch (`add_to_balances`) and readers add what is
        still pending (`_accounts_with_pending`), so every balance read is
        exact. Any balance read of this repository calls this first, so a use
        case always reads its own postings.
        """
        if self._deferred:
            pending, self._deferred = self._deferred, []
            for tenant_transactions in _by_tenant(pending):
                self._apply(tenant_transactions)

    def add_to_balances(self, sealed: Sequence[Transaction]) -> None:
        """The sequencer's half of a posting: add a numbered batch's amounts to
        the stored balances, in the batch's own transaction, so a transaction
        leaves "pending" and enters the stored balance atomically. One
        statement per batch, however many postings hit a hot account: the lock
        a poster used to queue on is now taken once per batch by the one
        sequencer of the tenant."""
        for tenant_transactions in _by_tenant(sealed):
            self._apply(tenant_transactions)

    def _apply(self, transactions: Sequence[Transaction]) -> None:
        # One row per account: created on first use (dated by its first posting),
        # incremented otherwise; sorted, so two appliers lock rows in one order.
        totals: dict[AccountRef, list[int]] = defaultdict(lambda: [0, 0])
        first: dict[AccountRef, datetime] = {}
        last: dict[AccountRef, datetime] = {}
        tenant_id = transactions[0].tenant_id
        for tx in transactions:
            for entry in tx.entries:
                side = 0 if entry.direction is Direction.DEBIT else 1
                totals[entry.account][side] += entry.amount_minor
                ref = entry.account
                first[ref] = min(first.get(ref, tx.post_time), tx.post_time)
                last[ref] = max(last.get(ref, tx.post_time), tx.post_time)
        accounts = sorted(totals, key=lambda ref: ref.id)
        rows = [
            (
                tenant_id,
                ref.id,
                ref.code,
                ref.currency_code,
                ref.customer_id,
                totals[ref][0] - totals[ref][1],
                totals[ref][0],
                totals[ref][1],
                first[ref],
                last[ref],
            )
            for ref in accounts
        ]
        if self._conn.dialect.name == "postgresql":
            _UPSERT_ACCOUNTS_JSON.execute(self._conn, rows)
            return
        self._conn.execute(
            _UPSERT_ACCOUNT[self._conn.dialect.name],
            [dict(zip(_ACCOUNT_COLUMNS, row, strict=True)) for row in rows],
        )

    def find_by_sources(
        self, tenant_id: str, sources: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], Transaction]:
        if not sources:
            return {}
        params = {"tenant_id": tenant_id, "sources": list(dict.fromkeys(sources))}
        rows = list(self._conn.execute(_BY_SOURCES, params))
        found = self._with_entries(tenant_id, rows)
        return {(tx.source_type, tx.source_id): tx for tx in found}

    def get_transaction(self, tenant_id: str, transaction_id: str) -> Transaction | None:
        return self._one(_BY_ID, {"tenant_id": tenant_id, "id": transaction_id})

    def list_transactions(self, tenant_id: str, query: TransactionQuery) -> Sequence[Transaction]:
        statement = select(t.ledger_transactions).where(
            _tx.tenant_id == tenant_id, _tx.sequence > query.after_sequence
        )
        if query.account_id:
            touching = select(_e.transaction_id).where(
                _e.tenant_id == tenant_id, _e.account_id == query.account_id
            )
            statement = statement.where(_tx.id.in_(touching))
        if query.source_type:
            statement = statement.where(_tx.source_type == query.source_type)
        if query.source_id:
            statement = statement.where(_tx.source_id == query.source_id)
        if query.start_time is not None:
            statement = statement.where(_tx.post_time >= query.start_time)
        if query.end_time is not None:
            statement = statement.where(_tx.post_time < query.end_time)
        rows = list(self._conn.execute(statement.order_by(_tx.sequence).limit(query.limit)))
        return self._with_entries(tenant_id, rows)

    def _one(self, query: Any, params: dict[str, str]) -> Transaction | None:
        row = self._conn.execute(query, params).first()
        if row is None:
            return None
        return self._with_entries(row.tenant_id, [row])[0]

    def _with_entries(self, tenant_id: str, rows: list[Any]) -> list[Transaction]:
        if not rows:
            return []
        entries: dict[str, list[Entry]] = defaultdict(list)
        params = {"tenant_id": tenant_id, "ids": [row.id for row in rows]}
        for entry in self._conn.execute(_ENTRIES_OF, params):
            direction = Direction.DEBIT if entry.amount_minor > 0 else Direction.CREDIT
            entries[entry.transaction_id].append(
                Entry(AccountRef.parse(entry.account_id), direction, abs(entry.amount_minor))
            )
        return [_tx_from_row(row, tuple(entries[row.id])) for row in rows]

    def _balances(
        self, tenant_id: str, account_ids: Sequence[str] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """The balance rows (columns of `ledger_accounts`) as a prebuilt subquery and
        the parameters to execute it with: on PostgreSQL stored plus pending (see
        `apply_balances`); a one-writer database has nothing pending."""
        self.apply_balances()
        filtered = account_ids is not None
        rows = (
            _accounts_with_pending(filtered=filtered)
            if self._sequenced_later
            else _stored_accounts(filtered=filtered)
        )
        return rows, _balance_params(tenant_id, account_ids)

    def get_account(self, tenant_id: str, account_id: str) -> AccountBalance | None:
        rows, params = self._balances(tenant_id, [account_id])
        row = self._conn.execute(_select_all(rows), params).first()
        return None if row is None else _balance(row)

    def list_accounts(
        self, tenant_id: str, page: PageRequest, *, currency_code: str, customer_id: str, code: str
    ) -> Sequence[AccountBalance]:
        rows, params = self._balances(tenant_id)
        query = select(rows).where(rows.c.id > page.after_id)
        if currency_code:
            query = query.where(rows.c.currency_code == currency_code)
        if customer_id:
            query = query.where(rows.c.customer_id == customer_id)
        if code:
            query = query.where(rows.c.code == code)
        found = self._conn.execute(query.order_by(rows.c.id).limit(page.size + 1), params)
        return [_balance(row) for row in found]

    def nets(self, tenant_id: str, account_ids: Sequence[str]) -> dict[str, int]:
        if not account_ids:
            return {}
        rows, params = self._balances(tenant_id, account_ids)
        return {row.id: row.net_minor for row in self._conn.execute(_select_all(rows), params)}

    def stored_nets(self, tenant_id: str) -> dict[str, int]:
        rows, params = self._balances(tenant_id)
        return {row.id: row.net_minor for row in self._conn.execute(_select_all(rows), params)}

    def entry_nets(self, tenant_id: str) -> dict[str, int]:
        query = (
            select(_e.account_id, func.sum(_e.amount_minor).label("net"))
            .where(_e.tenant_id == tenant_id)
            .group_by(_e.account_id)
        )
        return {row.account_id: int(row.net) for row in self._conn.execute(query)}


def _by_tenant(transactions: Sequence[Transaction]) -> list[list[Transaction]]:
    grouped: dict[str, list[Transaction]] = defaultdict(list)
    for tx in transactions:
        grouped[tx.tenant_id].append(tx)
    return [grouped[tenant_id] for tenant_id in sorted(grouped)]


def _entry_rows(transactions: Sequence[Transaction]) -> list[dict[str, Any]]:
    return [
        {
            "tenant_id": tx.tenant_id,
            "transaction_id": tx.id,
            "position": position,
            "account_id": entry.account.id,
            "currency_code": entry.account.currency_code,
            "amount_minor": entry.signed_minor,
        }
        for tx in transactions
        for position, entry in enumerate(tx.entries)
    ]


def _tx_json(tx: Transaction) -> list[Any]:
    """A transaction as the positional JSON row `_POST_UNSEQUENCED` unpacks."""
    return [
        tx.tenant_id,
        tx.id,
        tx.source_type,
        tx.source_id,
        tx.description,
        tx.reason,
        tx.resource_type,
        tx.resource_id,
        tx.reverses_transaction_id,
        tx.trace_id,
        tx.post_time,
        tx.previous_hash,
        tx.hash,
    ]


def _entries_json(transactions: Sequence[Transaction]) -> list[list[Any]]:
    return [
        [
            tx.tenant_id,
            tx.id,
            position,
            entry.account.id,
            entry.account.currency_code,
            entry.signed_minor,
        ]
        for tx in transactions
        for position, entry in enumerate(tx.entries)
    ]


def _tx_row(tx: Transaction) -> dict[str, Any]:
    return {
        "tenant_id": tx.tenant_id,
        "id": tx.id,
        "sequence": tx.sequence,
        "source_type": tx.source_type,
        "source_id": tx.source_id,
        "description": tx.description,
        "reason": tx.reason,
        "resource_type": tx.resource_type,
        "resource_id": tx.resource_id,
        "reverses_transaction_id": tx.reverses_transaction_id,
        "trace_id": tx.trace_id,
        "post_time": tx.post_time,
        "previous_hash": tx.previous_hash,
        "hash": tx.hash,
    }


def _tx_from_row(row: Any, entries: tuple[Entry, ...]) -> Transaction:
    """An unsequenced row (sequence NULL) reads as sequence 0 with empty hashes
    (CHAR pads the stored empty string with blanks on PostgreSQL)."""
    return Transaction(
        id=row.id,
        tenant_id=row.tenant_id,
        sequence=row.sequence or 0,
        entries=entries,
        source_type=row.source_type,
        source_id=row.source_id,
        post_time=row.post_time,
        description=row.description,
        reason=row.reason,
        resource_type=row.resource_type,
        resource_id=row.resource_id,
        reverses_transaction_id=row.reverses_transaction_id,
        trace_id=row.trace_id,
        previous_hash=row.previous_hash.strip(),
        hash=row.hash.strip(),
    )


def _balance(row: Any) -> AccountBalance:
    return AccountBalance(
        account=AccountRef(row.code, row.currency_code, row.customer_id),
        net_minor=row.net_minor,
        debits_minor=row.debits_minor,
        credits_minor=row.credits_minor,
        create_time=row.create_time,
        update_time=row.update_time,
    )
