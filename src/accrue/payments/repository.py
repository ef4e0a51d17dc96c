"""SQL persistence of payments, refunds, their status history and PSP webhook ids."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    DateTime,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    column,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from accrue.kernel.errors import ConcurrentModification
from accrue.kernel.paging import PageRequest
from accrue.payments import tables as t
from accrue.payments.model import Cause, Payment, PaymentStatus, Refund, RefundStatus, StatusChange
from accrue.platform.ports import DueItem

_p = t.payments.c
_r = t.refunds.c
_h = t.payment_transitions.c
_IN_PROGRESS = (
    PaymentStatus.PENDING.value,
    PaymentStatus.PROCESSING.value,
    PaymentStatus.UNKNOWN.value,
)
_PAYMENT_FIXED = frozenset({"tenant_id", "id", "customer_id", "create_time", "request_id"})
_REFUND_FIXED = frozenset({"tenant_id", "id", "payment_id", "create_time", "request_id"})


def _with_history(where: Any) -> Select[Any]:
    """A payment row per status change (or one row with none), oldest first."""
    return (
        select(t.payments)
        .add_columns(
            _h.from_status.label("h_from"),
            _h.to_status.label("h_to"),
            _h.time.label("h_time"),
            _h.cause.label("h_cause"),
        )
        .outerjoin(
            t.payment_transitions,
            and_(_h.tenant_id == _p.tenant_id, _h.subject_id == _p.id),
        )
        .where(_p.tenant_id == bindparam("k_tenant_id"), where)
        .order_by(_h.seq)
    )


# Reads of the payment hot path, built once (see `_bound` for why).
_PAYMENT_BY_ID = _with_history(_p.id == bindparam("k_id"))
_PAYMENT_BY_ID_LOCKED = _PAYMENT_BY_ID.with_for_update(of=t.payments)
_PAYMENT_BY_REQUEST = _with_history(_p.request_id == bindparam("k_request_id"))
_IN_PROGRESS_FOR_INVOICE = (
    select(_p.id)
    .where(
        _p.tenant_id == bindparam("k_tenant_id"),
        _p.invoice_id == bindparam("k_invoice_id"),
        _p.status.in_(_IN_PROGRESS),
    )
    .limit(1)
)


def _claim(table: Any) -> Select[Any]:
    c = table.c
    return (
        select(c.tenant_id, c.id, c.next_inquiry_time)
        .where(c.next_inquiry_time.is_not(None), c.next_inquiry_time <= bindparam("now"))
        .order_by(c.next_inquiry_time, c.tenant_id, c.id)
        .limit(bindparam("limit"))
    )


def _webhook_insert(dialect: Any) -> Any:
    # preserve_rowcount: psycopg reports -1 for an INSERT otherwise, which reads as "first".
    return (
        dialect.insert(t.psp_webhook_events)
        .on_conflict_do_nothing(index_elements=["psp", "event_id"])
        .execution_options(preserve_rowcount=True)
    )


_RECORD_WEBHOOK = {"postgresql": _webhook_insert(postgresql), "sqlite": _webhook_insert(sqlite)}


class SqlPaymentRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._postgres = conn.dialect.name == "postgresql"

    # -- payments -------------------------------------------------------

    def add(self, payment: Payment) -> None:
        row = _payment_row(payment)
        if self._postgres and payment.transitions:
            # One round trip: the row and its history in one statement.
            history = _history_params(payment.tenant_id, payment.id, payment.transitions, 0)
            params = _bound(row) | history
            self._conn.execute(_insert_with_history(tuple(row)), params)
            return
        self._conn.execute(insert(t.payments), row)
        self._add_transitions(payment.tenant_id, payment.id, payment.transitions, start=0)

    def get(self, tenant_id: str, payment_id: str, *, for_update: bool = False) -> Payment | None:
        lock = for_update and self._postgres
        query = _PAYMENT_BY_ID_LOCKED if lock else _PAYMENT_BY_ID
        return self._one_payment(query, {"k_tenant_id": tenant_id, "k_id": payment_id})

    def get_by_request(self, tenant_id: str, request_id: str) -> Payment | None:
        params = {"k_tenant_id": tenant_id, "k_request_id": request_id}
        return self._one_payment(_PAYMENT_BY_REQUEST, params)

    def find_by_psp_key(self, psp_idempotency_key: str) -> tuple[str, str] | None:
        query = select(_p.tenant_id, _p.id).where(_p.psp_idempotency_key == psp_idempotency_key)
        row = self._conn.execute(query).first()
        return None if row is None else (row.tenant_id, row.id)

    def update(self, payment: Payment, *, previous: Payment) -> None:
        changed = {k: v for k, v in _payment_row(payment).items() if k not in _PAYMENT_FIXED}
        params = _bound(changed) | {
            "w_tenant_id": payment.tenant_id,
            "w_id": payment.id,
            "w_version": previous.version,
        }
        start = len(previous.transitions)
        if self._postgres and len(payment.transitions) > start:
            # One round trip: the guarded update, and the new history only if
            # the update matched (the count tells a concurrent change).
            params |= _history_params(payment.tenant_id, payment.id, payment.transitions, start)
            statement = _guarded_update_with_history(tuple(changed))
            matched = self._conn.execute(statement, params).scalar_one()
        else:
            matched = self._conn.execute(_guarded_update(tuple(changed)), params).rowcount
            self._add_transitions(payment.tenant_id, payment.id, payment.transitions, start=start)
        if matched == 0:
            raise ConcurrentModification(
                f"payment {payment.id!r} changed concurrently; retry",
                retry_after_seconds=0.1,
            )

    def set_ledger_transaction(self, tenant_id: str, payment_id: str, transaction_id: str) -> None:
        self._conn.execute(
            update(t.payments)
            .where(_p.tenant_id == tenant_id, _p.id == payment_id)
            .values(ledger_transaction_id=transaction_id)
        )

    def list(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        customer_id: str,
        invoice_id: str,
        status: PaymentStatus | None,
    ) -> Sequence[Payment]:
        query = select(t.payments).where(_p.tenant_id == tenant_id, _p.id > page.after_id)
        if customer_id:
            query = query.where(_p.customer_id == customer_id)
        if invoice_id:
            query = query.where(_p.invoice_id == invoice_id)
        if status is not None:
            query = query.where(_p.status == status.value)
        rows = list(self._conn.execute(query.order_by(_p.id).limit(page.size + 1)))
        history = self._transitions(tenant_id, [row.id for row in rows])
        return [_payment_of(row, history[row.id]) for row in rows]

    def in_progress_for_invoice(self, tenant_id: str, invoice_id: str) -> bool:
        params = {"k_tenant_id": tenant_id, "k_invoice_id": invoice_id}
        return self._conn.execute(_IN_PROGRESS_FOR_INVOICE, params).first() is not None

    def claim_inquiries(self, *, now: datetime, limit: int) -> Sequence[DueItem]:
        return self._claim_due(t.payments, now, limit)

    # -- refunds --------------------------------------------------------

    def add_refund(self, refund: Refund) -> None:
        self._conn.execute(insert(t.refunds), _refund_row(refund))
        self._add_transitions(refund.tenant_id, refund.id, refund.transitions, start=0)

    def get_refund(
        self, tenant_id: str, refund_id: str, *, for_update: bool = False
    ) -> Refund | None:
        query = select(t.refunds).where(_r.tenant_id == tenant_id, _r.id == refund_id)
        return self._one_refund(query, for_update)

    def get_refund_by_request(self, tenant_id: str, request_id: str) -> Refund | None:
        query = select(t.refunds).where(_r.tenant_id == tenant_id, _r.request_id == request_id)
        return self._one_refund(query, False)

    def find_refund_by_psp_key(self, psp_idempotency_key: str) -> tuple[str, str] | None:
        query = select(_r.tenant_id, _r.id).where(_r.psp_idempotency_key == psp_idempotency_key)
        row = self._conn.execute(query).first()
        return None if row is None else (row.tenant_id, row.id)

    def update_refund(self, refund: Refund, *, previous: Refund) -> None:
        values = {k: v for k, v in _refund_row(refund).items() if k not in _REFUND_FIXED}
        statement = (
            update(t.refunds)
            .where(
                _r.tenant_id == refund.tenant_id,
                _r.id == refund.id,
                _r.version == previous.version,
            )
            .values(**values)
        )
        if self._conn.execute(statement).rowcount == 0:
            raise ConcurrentModification(
                f"refund {refund.id!r} changed concurrently; retry", retry_after_seconds=0.1
            )
        self._add_transitions(
            refund.tenant_id, refund.id, refund.transitions, start=len(previous.transitions)
        )

    def list_refunds(
        self, tenant_id: str, page: PageRequest, *, payment_id: str
    ) -> Sequence[Refund]:
        query = select(t.refunds).where(_r.tenant_id == tenant_id, _r.id > page.after_id)
        if payment_id:
            query = query.where(_r.payment_id == payment_id)
        rows = list(self._conn.execute(query.order_by(_r.id).limit(page.size + 1)))
        history = self._transitions(tenant_id, [row.id for row in rows])
        return [_refund_of(row, history[row.id]) for row in rows]

    def credit_refunds_in_progress(self, tenant_id: str, customer_id: str) -> int:
        query = (
            select(func.coalesce(func.sum(_r.amount_minor), 0))
            .select_from(
                t.refunds.join(
                    t.payments, and_(_p.tenant_id == _r.tenant_id, _p.id == _r.payment_id)
                )
            )
            .where(
                _r.tenant_id == tenant_id,
                _r.customer_id == customer_id,
                _r.status.in_((RefundStatus.PROCESSING.value, RefundStatus.UNKNOWN.value)),
                _p.invoice_id.is_(None),
            )
        )
        return int(self._conn.execute(query).scalar_one())

    def claim_refund_inquiries(self, *, now: datetime, limit: int) -> Sequence[DueItem]:
        return self._claim_due(t.refunds, now, limit)

    def postpone_inquiries(
        self, payment_ids: Sequence[str], refund_ids: Sequence[str], until: datetime
    ) -> None:
        for table, ids in ((t.payments, payment_ids), (t.refunds, refund_ids)):
            if ids:
                self._conn.execute(
                    update(table).where(table.c.id.in_(ids)).values(next_inquiry_time=until)
                )

    # -- webhooks -------------------------------------------------------

    def webhook_seen(self, psp: str, event_id: str) -> bool:
        w = t.psp_webhook_events.c
        query = select(w.event_id).where(w.psp == psp, w.event_id == event_id)
        return self._conn.execute(query).first() is not None

    def record_webhook(self, psp: str, event_id: str, *, type: str, now: datetime) -> bool:
        statement = _RECORD_WEBHOOK[self._conn.dialect.name]
        row = {
            "psp": psp,
            "event_id": event_id,
            "type": type,
            "outcome": "received",
            "receive_time": now,
        }
        return bool(self._conn.execute(statement, row).rowcount)

    # -- helpers --------------------------------------------------------

    def _claim_due(self, table: Any, now: datetime, limit: int) -> Sequence[DueItem]:
        query = _claim(table)
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        rows = self._conn.execute(query, {"now": now, "limit": limit})
        return [DueItem(row.tenant_id, row.id, row.next_inquiry_time) for row in rows]

    def _one_payment(self, query: Select[Any], params: dict[str, Any]) -> Payment | None:
        """The payment and its status history in one round trip (a row per transition)."""
        rows = list(self._conn.execute(query, params))
        if not rows:
            return None
        history = [
            StatusChange(row.h_from, row.h_to, row.h_time, Cause(row.h_cause))
            for row in rows
            if row.h_to is not None
        ]
        return _payment_of(rows[0], history)

    def _one_refund(self, query: Select[Any], for_update: bool) -> Refund | None:
        if for_update and self._postgres:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        if row is None:
            return None
        return _refund_of(row, self._transitions(row.tenant_id, [row.id])[row.id])

    def _add_transitions(
        self, tenant_id: str, subject_id: str, changes: Sequence[StatusChange], *, start: int
    ) -> None:
        rows = [
            {
                "tenant_id": tenant_id,
                "subject_id": subject_id,
                "seq": seq,
                "from_status": change.from_status,
                "to_status": change.to_status,
                "cause": change.cause.value,
                "time": change.time,
            }
            for seq, change in enumerate(changes)
            if seq >= start
        ]
        if rows:
            self._conn.execute(insert(t.payment_transitions), rows)

    def _transitions(self, tenant_id: str, subject_ids: Sequence[str]) -> _History:
        return _history(self._conn, tenant_id, subject_ids)


_History = defaultdict[str, list[StatusChange]]
_TRANSITION_COLUMNS = [
    "tenant_id",
    "subject_id",
    "seq",
    "from_status",
    "to_status",
    "cause",
    "time",
]


# The payment statements of the hot path are built once per column set and
# bound at execution. Built per call, SQLAlchemy generated their cache key on
# every execution (a walk over every bound value and its type): 18% of the
# server's CPU under the payments benchmark, more than the rest of the
# payment's statements together.


def _bound(row: dict[str, Any]) -> dict[str, Any]:
    return {f"p_{name}": value for name, value in row.items()}


def _values(columns: tuple[str, ...]) -> dict[str, Any]:
    return {name: bindparam(f"p_{name}", type_=_p[name].type) for name in columns}


def _history_params(
    tenant_id: str, subject_id: str, changes: Sequence[StatusChange], start: int
) -> dict[str, Any]:
    new = [(seq, change) for seq, change in enumerate(changes) if seq >= start]
    return {
        "h_tenant_id": tenant_id,
        "h_subject_id": subject_id,
        "h_seq": [seq for seq, _ in new],
        "h_from_status": [c.from_status for _, c in new],
        "h_to_status": [c.to_status for _, c in new],
        "h_cause": [c.cause.value for _, c in new],
        "h_time": [c.time for _, c in new],
    }


def _history_rows() -> Select[Any]:
    """The new status changes as rows of unnested arrays, ready to be inserted by
    SELECT (PostgreSQL). Arrays, not a VALUES list: the statement's shape is then
    the same however many changes there are, so it is built and compiled once."""
    rows = (
        func.unnest(
            bindparam("h_seq", type_=postgresql.ARRAY(Integer)),
            bindparam("h_from_status", type_=postgresql.ARRAY(String)),
            bindparam("h_to_status", type_=postgresql.ARRAY(String)),
            bindparam("h_cause", type_=postgresql.ARRAY(String)),
            bindparam("h_time", type_=postgresql.ARRAY(DateTime(timezone=True))),
        )
        .table_valued(
            column("seq", Integer),
            column("from_status", String),
            column("to_status", String),
            column("cause", String),
            column("time", DateTime(timezone=True)),
        )
        .render_derived(name="changes")
    )
    return select(
        bindparam("h_tenant_id", type_=String).label("tenant_id"),
        bindparam("h_subject_id", type_=String).label("subject_id"),
        rows.c.seq,
        rows.c.from_status,
        rows.c.to_status,
        rows.c.cause,
        rows.c.time,
    )


@functools.cache
def _insert_with_history(columns: tuple[str, ...]) -> Any:
    """A payment row and its status history, one statement (PostgreSQL)."""
    row = insert(t.payments).values(_values(columns)).cte("written")
    history = insert(t.payment_transitions).from_select(_TRANSITION_COLUMNS, _history_rows())
    return history.add_cte(row)


@functools.cache
def _guarded_update(columns: tuple[str, ...]) -> Any:
    """Update a payment only if it is still at the version it was read at."""
    return (
        update(t.payments)
        .where(
            _p.tenant_id == bindparam("w_tenant_id"),
            _p.id == bindparam("w_id"),
            _p.version == bindparam("w_version"),
        )
        .values(_values(columns))
    )


@functools.cache
def _guarded_update_with_history(columns: tuple[str, ...]) -> Any:
    """The guarded update and, only if it matched, the new history; returns how
    many rows it matched (PostgreSQL, one round trip)."""
    written = _guarded_update(columns).returning(_p.id).cte("written")
    new_rows = _history_rows().where(exists(select(written.c.id)))
    history = insert(t.payment_transitions).from_select(_TRANSITION_COLUMNS, new_rows)
    return select(func.count()).select_from(written).add_cte(history.cte("history"))


def _history(conn: Connection, tenant_id: str, subject_ids: Sequence[str]) -> _History:
    found: _History = defaultdict(list)
    if not subject_ids:
        return found
    query = (
        select(t.payment_transitions)
        .where(_h.tenant_id == tenant_id, _h.subject_id.in_(subject_ids))
        .order_by(_h.subject_id, _h.seq)
    )
    for row in conn.execute(query):
        found[row.subject_id].append(
            StatusChange(row.from_status, row.to_status, row.time, Cause(row.cause))
        )
    return found


def _payment_row(payment: Payment) -> dict[str, Any]:
    return {
        "tenant_id": payment.tenant_id,
        "id": payment.id,
        "customer_id": payment.customer_id,
        "invoice_id": payment.invoice_id or None,
        "amount_minor": payment.amount_minor,
        "currency_code": payment.currency_code,
        "status": payment.status.value,
        "payment_method_id": payment.payment_method_id,
        "psp": payment.psp,
        "psp_idempotency_key": payment.psp_idempotency_key,
        "psp_charge_id": payment.psp_charge_id or None,
        "failure_code": payment.failure_code,
        "fee_minor": payment.fee_minor,
        "amount_refunded_minor": payment.amount_refunded_minor,
        "refund_reserved_minor": payment.refund_reserved_minor,
        "psp_request_count": payment.psp_request_count,
        "description": payment.description,
        "metadata": dict(payment.metadata),
        "request_id": payment.request_id,
        "request_fingerprint": payment.request_fingerprint,
        "ledger_transaction_id": payment.ledger_transaction_id or None,
        "next_inquiry_time": payment.next_inquiry_time,
        "collection_attempt": payment.collection_attempt,
        "create_time": payment.create_time,
        "update_time": payment.update_time,
        "version": payment.version,
    }


def _payment_of(row: Any, history: Sequence[StatusChange]) -> Payment:
    return Payment(
        id=row.id,
        tenant_id=row.tenant_id,
        customer_id=row.customer_id,
        invoice_id=row.invoice_id or "",
        amount_minor=row.amount_minor,
        currency_code=row.currency_code,
        status=PaymentStatus(row.status),
        payment_method_id=row.payment_method_id,
        psp=row.psp,
        request_id=row.request_id,
        request_fingerprint=row.request_fingerprint,
        create_time=row.create_time,
        update_time=row.update_time,
        description=row.description,
        metadata=dict(row.metadata),
        psp_charge_id=row.psp_charge_id or "",
        failure_code=row.failure_code,
        fee_minor=row.fee_minor,
        amount_refunded_minor=row.amount_refunded_minor,
        refund_reserved_minor=row.refund_reserved_minor,
        psp_request_count=row.psp_request_count,
        ledger_transaction_id=row.ledger_transaction_id or "",
        next_inquiry_time=row.next_inquiry_time,
        collection_attempt=row.collection_attempt,
        transitions=tuple(history),
        version=row.version,
    )


def _refund_row(refund: Refund) -> dict[str, Any]:
    return {
        "tenant_id": refund.tenant_id,
        "id": refund.id,
        "payment_id": refund.payment_id,
        "customer_id": refund.customer_id,
        "amount_minor": refund.amount_minor,
        "currency_code": refund.currency_code,
        "status": refund.status.value,
        "reason": refund.reason,
        "psp_idempotency_key": refund.psp_idempotency_key,
        "psp_refund_id": refund.psp_refund_id or None,
        "failure_code": refund.failure_code,
        "request_id": refund.request_id,
        "request_fingerprint": refund.request_fingerprint,
        "ledger_transaction_id": refund.ledger_transaction_id or None,
        "next_inquiry_time": refund.next_inquiry_time,
        "create_time": refund.create_time,
        "update_time": refund.update_time,
        "version": refund.version,
    }


def _refund_of(row: Any, history: Sequence[StatusChange]) -> Refund:
    return Refund(
        id=row.id,
        tenant_id=row.tenant_id,
        payment_id=row.payment_id,
        customer_id=row.customer_id,
        amount_minor=row.amount_minor,
        currency_code=row.currency_code,
        status=RefundStatus(row.status),
        reason=row.reason,
        request_id=row.request_id,
        request_fingerprint=row.request_fingerprint,
        create_time=row.create_time,
        update_time=row.update_time,
        psp_refund_id=row.psp_refund_id or "",
        failure_code=row.failure_code,
        ledger_transaction_id=row.ledger_transaction_id or "",
        next_inquiry_time=row.next_inquiry_time,
        transitions=tuple(history),
        version=row.version,
    )
