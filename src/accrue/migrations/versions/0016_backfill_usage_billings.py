"""Backfill `usage_billings` from the metered invoice lines issued before it existed.

Revision ID: 0016
Revises: 0015

Periods billed before revision 0014 have no billing record, so a renewal never
re-checks them for late usage or corrections. Their invoice lines carry what
the record needs: subscription, price (and through it the meter), usage period
and amount as columns; the exact quantity heads the line's explanation
("usage 12.5 for the period; ..." or "late usage 3 ..."), and the dimension
group is the `key=value` text after the label in the description.

A (subscription, price, usage period) is backfilled only when it has no record
at all (records made since 0014 are complete), and only whole: if any of its
lines cannot be read back unambiguously (a dimension value or label that
contains the text that separates them, or a dimension group of a price no
longer on the subscription, whose label is not known), none is written, so the period stays
as it was - not re-checked - rather than being re-checked against a partial
record, which would bill usage twice. Backfilled rows have ids starting
`ubf_` (derived from the invoice line, so the revision is repeatable), which is
what the downgrade deletes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from alembic import op

from accrue.platform.db.tables import UtcDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_UNIT = 1_000_000  # usage quantities are stored in millionths
_BATCH = 1000
_EXPLAINED = re.compile(
    r"^(usage|late usage|usage adjustment) (-?[0-9]+(?:\.[0-9]+)?) for the period;"
)
_ID = sa.String(40)

_prices = sa.table(
    "prices",
    sa.column("tenant_id", _ID),
    sa.column("id", _ID),
    sa.column("usage_type", sa.String(16)),
    sa.column("meter_id", _ID),
)
_meters = sa.table(
    "meters",
    sa.column("tenant_id", _ID),
    sa.column("id", _ID),
    sa.column("dimension_keys", sa.JSON),
)
_invoices = sa.table(
    "invoices",
    sa.column("tenant_id", _ID),
    sa.column("id", _ID),
    sa.column("create_time", UtcDateTime()),
)
_lines = sa.table(
    "invoice_lines",
    sa.column("tenant_id", _ID),
    sa.column("invoice_id", _ID),
    sa.column("line_number", sa.Integer),
    sa.column("description", sa.Text),
    sa.column("price_id", _ID),
    sa.column("subscription_id", _ID),
    sa.column("amount_minor", sa.BigInteger),
    sa.column("period_start", UtcDateTime()),
    sa.column("period_end", UtcDateTime()),
    sa.column("proration", sa.Boolean),
    sa.column("explanation", sa.Text),
)
_subscriptions = sa.table(
    "subscriptions", sa.column("tenant_id", _ID), sa.column("id", _ID), sa.column("items", sa.JSON)
)
_billings = sa.table(
    "usage_billings",
    sa.column("tenant_id", _ID),
    sa.column("id", _ID),
    sa.column("subscription_id", _ID),
    sa.column("price_id", _ID),
    sa.column("meter_id", _ID),
    sa.column("group_key", sa.String(700)),
    sa.column("period_start", UtcDateTime()),
    sa.column("period_end", UtcDateTime()),
    sa.column("quantity_micros", sa.BigInteger),
    sa.column("amount_minor", sa.BigInteger),
    sa.column("invoice_id", sa.String(40)),
    sa.column("create_time", UtcDateTime()),
)


def upgrade() -> None:
    conn = op.get_bind()
    recorded = {
        (r.tenant_id, r.subscription_id, r.price_id, r.period_start, r.period_end)
        for r in conn.execute(
            sa.select(
                _billings.c.tenant_id,
                _billings.c.subscription_id,
                _billings.c.price_id,
                _billings.c.period_start,
                _billings.c.period_end,
            ).distinct()
        )
    }
    keys = {
        (r.tenant_id, r.id): tuple(r.dimension_keys or ())
        for r in conn.execute(
            sa.select(_meters.c.tenant_id, _meters.c.id, _meters.c.dimension_keys)
        )
    }
    labels = _labels(conn)
    slots: dict[tuple[Any, ...], list[dict[str, Any]] | None] = {}
    for line in _metered_lines(conn):
        slot = (
            line.tenant_id,
            line.subscription_id,
            line.price_id,
            line.period_start,
            line.period_end,
        )
        if slot in recorded:
            continue
        label = labels.get((line.tenant_id, line.subscription_id, line.price_id))
        row = _row(line, keys.get((line.tenant_id, line.meter_id), ()), label)
        kept = slots.setdefault(slot, [])
        if row is None or kept is None:
            slots[slot] = None  # one line unreadable: the whole period is left alone
        else:
            kept.append(row)
    rows = [row for found in slots.values() if found for row in found]
    for start in range(0, len(rows), _BATCH):
        conn.execute(_billings.insert(), rows[start : start + _BATCH])


def downgrade() -> None:
    op.get_bind().execute(_billings.delete().where(_billings.c.id.like("ubf\\_%", escape="\\")))


def _labels(conn: Any) -> dict[tuple[str, str, str], str]:
    """What each subscription item's lines begin with: its label, else its price id."""
    found = {}
    for row in conn.execute(
        sa.select(_subscriptions.c.tenant_id, _subscriptions.c.id, _subscriptions.c["items"])
    ):
        for item in row.items or ():
            price_id = item["price_id"]
            found[(row.tenant_id, row.id, price_id)] = item.get("label", "") or price_id
    return found


def _metered_lines(conn: Any) -> Iterator[Any]:
    query = (
        sa.select(
            _lines.c.tenant_id,
            _lines.c.invoice_id,
            _lines.c.line_number,
            _lines.c.description,
            _lines.c.price_id,
            _lines.c.subscription_id,
            _lines.c.amount_minor,
            _lines.c.period_start,
            _lines.c.period_end,
            _lines.c.explanation,
            _prices.c.meter_id,
            _invoices.c.create_time,
        )
        .select_from(
            _lines.join(
                _prices,
                sa.and_(
                    _prices.c.tenant_id == _lines.c.tenant_id, _prices.c.id == _lines.c.price_id
                ),
            ).join(
                _invoices,
                sa.and_(
                    _invoices.c.tenant_id == _lines.c.tenant_id,
                    _invoices.c.id == _lines.c.invoice_id,
                ),
            )
        )
        .where(
            _prices.c.usage_type == "metered",
            _prices.c.meter_id.is_not(None),
            _lines.c.subscription_id != "",
            _lines.c.period_start.is_not(None),
            _lines.c.period_end.is_not(None),
            _lines.c.proration.is_(False),
        )
        .order_by(_lines.c.tenant_id, _lines.c.invoice_id, _lines.c.line_number)
    )
    yield from conn.execute(query)


def _row(line: Any, keys: Sequence[str], label: str | None) -> dict[str, Any] | None:
    """The billing record of one metered line, or None if it cannot be read back."""
    found = _EXPLAINED.match(line.explanation or "")
    if found is None:
        return None
    what, exact = found.groups()
    try:
        micros = Decimal(exact) * _UNIT
    except InvalidOperation:
        return None
    if micros != micros.to_integral_value():
        return None
    group = _group(line.description, f", {what} {exact}, ", keys, label)
    if group is None:
        return None
    digest = hashlib.sha256(f"{line.tenant_id}/{line.invoice_id}/{line.line_number}".encode())
    return {
        "tenant_id": line.tenant_id,
        "id": "ubf_" + digest.hexdigest()[:32],
        "subscription_id": line.subscription_id,
        "price_id": line.price_id,
        "meter_id": line.meter_id,
        "group_key": group,
        "period_start": line.period_start,
        "period_end": line.period_end,
        "quantity_micros": int(micros),
        "amount_minor": line.amount_minor,
        "invoice_id": line.invoice_id,
        "create_time": line.create_time,
    }


def _group(description: str, marker: str, keys: Sequence[str], label: str | None) -> str | None:
    """The group key of a line described `label[, k1=v1, k2=v2], <marker>...`.

    "" for a meter without dimensions or a line without group text (a zero line).
    The label is the subscription item's (None when the price has left the
    subscription); None when the text does not split into label and values one
    way only.
    """
    at = description.rfind(marker)
    if at < 0:
        return None
    if not keys:
        return ""
    head = description[:at]
    if label is None:
        # Without the label, "label, k1=v" could be a label alone: only no group is sure.
        return "" if f", {keys[0]}=" not in head else None
    if head == label:
        return ""
    if not head.startswith(label + ", "):
        return None
    return _values(head[len(label) + 2 :], keys)


def _values(text: str, keys: Sequence[str]) -> str | None:
    """The group key of `k1=v1, k2=v2`, if it splits into the keys' values one way only."""
    parses = set()
    for pattern in (_pattern(keys, lazy=False), _pattern(keys, lazy=True)):
        matched = pattern.fullmatch(text)
        if matched is None:
            return None
        parses.add(matched.groups())
    if len(parses) > 1:
        return None
    (values,) = parses
    return json.dumps(list(values), separators=(",", ":"))


def _pattern(keys: Sequence[str], *, lazy: bool) -> re.Pattern[str]:
    value = "(.*?)" if lazy else "(.*)"
    return re.compile(", ".join(f"{re.escape(key)}={value}" for key in keys), re.DOTALL)
