"""SQL persistence of invoices with their lines, credit notes and document numbers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from accrue.invoicing import tables as t
from accrue.invoicing.codec import LINE_COLUMNS, line_fields, line_of, line_values
from accrue.invoicing.model import (
    BillingReason,
    CollectionMethod,
    CreditNote,
    CreditNoteReason,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
)
from accrue.kernel.paging import PageRequest
from accrue.platform.db.any_of import any_of
from accrue.platform.db.json_rows import JsonInsert
from accrue.platform.ports import DueItem

_i = t.invoices.c
_INSERT_INVOICE = insert(t.invoices)
# The SET clause comes from the parameters; the key's names differ from the
# columns' because SQLAlchemy reserves column names for SET values.
_UPDATE_INVOICE = update(t.invoices).where(
    _i.tenant_id == bindparam("key_tenant_id"), _i.id == bindparam("key_id")
)
# What may change after an invoice is created; its lines (and so its totals,
# rewritten only to keep them next to the settled amounts) never do.
_MUTABLE = (
    "status",
    "number",
    "subtotal_minor",
    "tax_minor",
    "total_minor",
    "credit_applied_minor",
    "credited_minor",
    "credited_to_due_minor",
    "amount_paid_minor",
    "amount_due_minor",
    "finalize_time",
    "close_time",
    "ledger_transaction_id",
    "version",
    "attempt_count",
    "next_payment_attempt_time",
)
_l = t.invoice_lines.c
# One invoice with its lines in one round trip: a row per line (or one row
# for an invoice without lines), the line's columns prefixed `l_`. Locking
# takes the invoice row only (the lines of a finalised invoice never change).
_INVOICE_WITH_LINES = (
    select(t.invoices, *(column.label(f"l_{column.name}") for column in t.invoice_lines.c))
    .outerjoin(t.invoice_lines, and_(_l.tenant_id == _i.tenant_id, _l.invoice_id == _i.id))
    .where(_i.tenant_id == bindparam("tenant_id"), _i.id == bindparam("id"))
    .order_by(_l.line_number)
)
_LOCK_INVOICE_WITH_LINES = _INVOICE_WITH_LINES.with_for_update(of=t.invoices)
_INSERT_LINES = insert(t.invoice_lines)
_LINES_OF = (
    select(t.invoice_lines)
    .where(
        _l.tenant_id == bindparam("tenant_id"),
        any_of(_l.invoice_id, "ids"),
    )
    .order_by(_l.invoice_id, _l.line_number)
)
_COLLECTIONS_DUE = (
    select(_i.tenant_id, _i.id, _i.next_payment_attempt_time)
    .where(_i.test_clock_id.is_(None), _i.next_payment_attempt_time <= bindparam("now"))
    .order_by(_i.next_payment_attempt_time, _i.tenant_id, _i.id)
    .limit(bindparam("limit"))
)
_CLAIM_COLLECTIONS = _COLLECTIONS_DUE.with_for_update(skip_locked=True)
_COLLECTIONS_ON_CLOCK = (
    select(_i.tenant_id, _i.id, _i.next_payment_attempt_time)
    .where(
        _i.tenant_id == bindparam("tenant_id"),
        _i.test_clock_id == bindparam("clock_id"),
        _i.next_payment_attempt_time <= bindparam("until"),
    )
    .order_by(_i.next_payment_attempt_time, _i.id)
    .limit(bindparam("limit"))
)
# Every `invoices` column, in the table's order: the order `_invoice_values` gives them.
_INVOICE_COLUMNS = tuple(column.name for column in t.invoices.c)
# A batch of invoices and of their lines, one JSON text each (PostgreSQL).
_INSERT_INVOICES_JSON = JsonInsert(t.invoices, _INVOICE_COLUMNS)
_INSERT_LINES_JSON = JsonInsert(t.invoice_lines, ("tenant_id", "invoice_id", *LINE_COLUMNS))
_n = t.credit_notes.c
_INSERT_CREDIT_NOTE = insert(t.credit_notes)
_d = t.document_counters.c


def _next_number(dialect: Any) -> Any:
    # Creates the counter at 1 on first use, else increments it; either way
    # the row stays locked until commit, which is what makes numbers gapless.
    statement = dialect.insert(t.document_counters)
    return statement.on_conflict_do_update(
        index_elements=["tenant_id", "series"], set_={"last_number": _d.last_number + 1}
    ).returning(_d.last_number)


_NEXT_NUMBER = {"postgresql": _next_number(postgresql), "sqlite": _next_number(sqlite)}


def _next_numbers(dialect: Any) -> Any:
    # A block of `count` numbers in one statement: created at `count`, else advanced by it.
    statement = dialect.insert(t.document_counters)
    return statement.on_conflict_do_update(
        index_elements=["tenant_id", "series"],
        set_={"last_number": _d.last_number + statement.excluded.last_number},
    ).returning(_d.last_number)


_NEXT_NUMBERS = {"postgresql": _next_numbers(postgresql), "sqlite": _next_numbers(sqlite)}


class SqlInvoiceRepository:
    """On PostgreSQL an invoice's update is written at commit, not when made.

    An update is the last thing a use case does to an invoice, and a finaliser
    makes it while holding the tenant's gapless number counter: sent with the
    events and the COMMIT (`write_pending`, one round trip for all of them),
    it no longer lengthens that hold by a round trip of its own. Nothing reads
    a stale invoice: every read of this repository writes what is pending
    first, and no other repository reads the invoices table.
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._defer = conn.dialect.name == "postgresql"
        self._pending: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, invoice: Invoice) -> None:
        self._conn.execute(_INSERT_INVOICE, _invoice_row(invoice))
        if invoice.lines:
            rows = [
                {"tenant_id": invoice.tenant_id, "invoice_id": invoice.id, **line_fields(line)}
                for line in invoice.lines
            ]
            self._conn.execute(_INSERT_LINES, rows)

    def add_many(self, invoices: Sequence[Invoice]) -> None:
        """Insert invoices and their lines: one statement per table."""
        if not invoices:
            return
        if self._conn.dialect.name == "postgresql":
            # Each table's rows as one JSON text: cheaper for this process than
            # executemany (values adapted one by one) or a multi-row VALUES list
            # (a statement of thousands of parameters, parsed anew per batch size).
            _INSERT_INVOICES_JSON.execute(self._conn, [_invoice_values(i) for i in invoices])
            values = [
                (invoice.tenant_id, invoice.id, *line_values(line))
                for invoice in invoices
                for line in invoice.lines
            ]
            if values:
                _INSERT_LINES_JSON.execute(self._conn, values)
            return
        self._conn.execute(_INSERT_INVOICE, [_invoice_row(invoice) for invoice in invoices])
        lines = [
            {"tenant_id": invoice.tenant_id, "invoice_id": invoice.id, **line_fields(line)}
            for invoice in invoices
            for line in invoice.lines
        ]
        if lines:
            self._conn.execute(_INSERT_LINES, lines)

    def get(self, tenant_id: str, invoice_id: str, *, for_update: bool = False) -> Invoice | None:
        self.write_pending()
        # SQLite has no row locks; its writers already hold the database lock.
        lock = for_update and self._conn.dialect.name == "postgresql"
        query = _LOCK_INVOICE_WITH_LINES if lock else _INVOICE_WITH_LINES
        rows = list(self._conn.execute(query, {"tenant_id": tenant_id, "id": invoice_id}))
        if not rows:
            return None
        lines = tuple(
            line_of(_LineFields(row._mapping)) for row in rows if row.l_line_number is not None
        )
        return _invoice_from_row(rows[0], lines)

    def update(self, invoice: Invoice) -> None:
        row = _invoice_row(invoice)
        params = {"key_tenant_id": invoice.tenant_id, "key_id": invoice.id}
        params.update({name: row[name] for name in _MUTABLE})
        if self._defer:
            # The latest state of the invoice wins: every update sets all of _MUTABLE.
            self._pending[(invoice.tenant_id, invoice.id)] = params
        else:
            self._conn.execute(_UPDATE_INVOICE, params)

    def write_pending(self) -> None:
        """Send the updates made so far (at commit, with the unit of work's other
        final writes; or before any read of invoices)."""
        if self._pending:
            pending, self._pending = list(self._pending.values()), {}
            self._conn.execute(_UPDATE_INVOICE, pending[0] if len(pending) == 1 else pending)

    def list(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        customer_id: str,
        subscription_id: str,
        status: InvoiceStatus | None,
    ) -> Sequence[Invoice]:
        self.write_pending()
        query = select(t.invoices).where(_i.tenant_id == tenant_id, _i.id > page.after_id)
        if customer_id:
            query = query.where(_i.customer_id == customer_id)
        if subscription_id:
            query = query.where(_i.subscription_id == subscription_id)
        if status is not None:
            query = query.where(_i.status == status.value)
        rows = list(self._conn.execute(query.order_by(_i.id).limit(page.size + 1)))
        lines = self._lines(tenant_id, [row.id for row in rows])
        return [_invoice_from_row(row, lines.get(row.id, ())) for row in rows]

    def next_number(self, tenant_id: str, series: str) -> int:
        statement = _NEXT_NUMBER[self._conn.dialect.name]
        params = {"tenant_id": tenant_id, "series": series, "last_number": 1}
        number: int = self._conn.execute(statement, params).scalar_one()
        return number

    def next_numbers(self, tenant_id: str, series: str, count: int) -> int:
        statement = _NEXT_NUMBERS[self._conn.dialect.name]
        params = {"tenant_id": tenant_id, "series": series, "last_number": count}
        last: int = self._conn.execute(statement, params).scalar_one()
        return last - count + 1

    def claim_collections(self, *, now: datetime, limit: int) -> Sequence[DueItem]:
        self.write_pending()
        postgres = self._conn.dialect.name == "postgresql"
        query = _CLAIM_COLLECTIONS if postgres else _COLLECTIONS_DUE
        rows = self._conn.execute(query, {"now": now, "limit": limit})
        return [DueItem(row.tenant_id, row.id, row.next_payment_attempt_time) for row in rows]

    def collections_on_clock(
        self, tenant_id: str, clock_id: str, *, until: datetime, limit: int
    ) -> Sequence[DueItem]:
        self.write_pending()
        params = {"tenant_id": tenant_id, "clock_id": clock_id, "until": until, "limit": limit}
        rows = self._conn.execute(_COLLECTIONS_ON_CLOCK, params)
        return [DueItem(row.tenant_id, row.id, row.next_payment_attempt_time) for row in rows]

    def add_credit_note(self, note: CreditNote) -> None:
        self._conn.execute(_INSERT_CREDIT_NOTE, _credit_note_row(note))

    def list_credit_notes(
        self, tenant_id: str, page: PageRequest, *, invoice_id: str, customer_id: str
    ) -> Sequence[CreditNote]:
        query = select(t.credit_notes).where(_n.tenant_id == tenant_id, _n.id > page.after_id)
        if invoice_id:
            query = query.where(_n.invoice_id == invoice_id)
        if customer_id:
            query = query.where(_n.customer_id == customer_id)
        rows = self._conn.execute(query.order_by(_n.id).limit(page.size + 1))
        return [_credit_note_from_row(row) for row in rows]

    def _lines(
        self, tenant_id: str, invoice_ids: Sequence[str]
    ) -> dict[str, tuple[InvoiceLine, ...]]:
        """Lines by invoice, fetched in one query for a whole page rather than one per invoice."""
        if not invoice_ids:
            return {}
        found: dict[str, list[InvoiceLine]] = defaultdict(list)
        params = {"tenant_id": tenant_id, "ids": list(invoice_ids)}
        for row in self._conn.execute(_LINES_OF, params):
            found[row.invoice_id].append(line_of(row._mapping))
        return {key: tuple(value) for key, value in found.items()}


class _LineFields(Mapping[str, Any]):
    """A line's columns of an `_INVOICE_WITH_LINES` row, by their own names."""

    def __init__(self, row: Mapping[Any, Any]) -> None:
        self._row = row

    def __getitem__(self, name: str) -> Any:
        return self._row[f"l_{name}"]

    def __iter__(self) -> Iterator[str]:
        return (column.name for column in t.invoice_lines.c)

    def __len__(self) -> int:
        return len(t.invoice_lines.c)


def _invoice_values(invoice: Invoice) -> tuple[Any, ...]:
    """An invoice's column values in the table's column order (`_INVOICE_COLUMNS`)."""
    return (
        invoice.tenant_id,
        invoice.id,
        invoice.customer_id,
        invoice.subscription_id or None,
        invoice.test_clock_id or None,
        invoice.number or None,
        invoice.status.value,
        invoice.billing_reason.value,
        invoice.currency_code,
        invoice.subtotal_minor,
        invoice.tax_minor,
        invoice.total_minor,
        invoice.credit_applied_minor,
        invoice.credited_minor,
        invoice.credited_to_due_minor,
        invoice.amount_paid_minor,
        invoice.amount_due_minor,
        invoice.period_start,
        invoice.period_end,
        invoice.create_time,
        invoice.finalize_time,
        invoice.close_time,
        invoice.ledger_transaction_id or None,
        invoice.version,
        invoice.collection_method.value,
        invoice.attempt_count,
        invoice.next_payment_attempt_time,
    )


def _invoice_row(invoice: Invoice) -> dict[str, Any]:
    return dict(zip(_INVOICE_COLUMNS, _invoice_values(invoice), strict=True))


def _invoice_from_row(row: Any, lines: Sequence[InvoiceLine]) -> Invoice:
    return Invoice(
        id=row.id,
        tenant_id=row.tenant_id,
        customer_id=row.customer_id,
        subscription_id=row.subscription_id or "",
        currency_code=row.currency_code,
        status=InvoiceStatus(row.status),
        billing_reason=BillingReason(row.billing_reason),
        lines=tuple(lines),
        period_start=row.period_start,
        period_end=row.period_end,
        test_clock_id=row.test_clock_id or "",
        create_time=row.create_time,
        number=row.number or "",
        credit_applied_minor=row.credit_applied_minor,
        credited_minor=row.credited_minor,
        credited_to_due_minor=row.credited_to_due_minor,
        amount_paid_minor=row.amount_paid_minor,
        finalize_time=row.finalize_time,
        close_time=row.close_time,
        ledger_transaction_id=row.ledger_transaction_id or "",
        version=row.version,
        collection_method=CollectionMethod(row.collection_method),
        attempt_count=row.attempt_count,
        next_payment_attempt_time=row.next_payment_attempt_time,
    )


def _credit_note_row(note: CreditNote) -> dict[str, Any]:
    return {
        "tenant_id": note.tenant_id,
        "id": note.id,
        "number": note.number,
        "invoice_id": note.invoice_id,
        "customer_id": note.customer_id,
        "currency_code": note.currency_code,
        "amount_minor": note.amount_minor,
        "tax_minor": note.tax_minor,
        "applied_to_invoice_minor": note.applied_to_invoice_minor,
        "credit_balance_added_minor": note.credit_balance_added_minor,
        "reason": note.reason.value,
        "memo": note.memo,
        "create_time": note.create_time,
        "ledger_transaction_id": note.ledger_transaction_id or None,
    }


def _credit_note_from_row(row: Any) -> CreditNote:
    return CreditNote(
        id=row.id,
        tenant_id=row.tenant_id,
        number=row.number,
        invoice_id=row.invoice_id,
        customer_id=row.customer_id,
        currency_code=row.currency_code,
        amount_minor=row.amount_minor,
        tax_minor=row.tax_minor,
        applied_to_invoice_minor=row.applied_to_invoice_minor,
        credit_balance_added_minor=row.credit_balance_added_minor,
        reason=CreditNoteReason(row.reason),
        memo=row.memo,
        create_time=row.create_time,
        ledger_transaction_id=row.ledger_transaction_id or "",
    )
