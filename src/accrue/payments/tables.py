"""Payments, refunds, their status history and PSP webhook ids.

On the platform's one metadata; `accrue.schema` gathers every area's tables.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import CHAR

from accrue.platform.db.tables import ID, UtcDateTime, metadata

# A payment is written (PROCESSING) before the PSP is called; its PSP key is
# derived from its id and unique across tenants, so a webhook can find it.
payments = Table(
    "payments",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("customer_id", ID, nullable=False),
    Column("invoice_id", ID, nullable=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency_code", CHAR(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("payment_method_id", ID, nullable=False),
    Column("psp", String(64), nullable=False),
    Column("psp_idempotency_key", String(80), nullable=False),
    Column("psp_charge_id", String(128), nullable=True),
    Column("failure_code", String(64), nullable=False),
    Column("fee_minor", BigInteger, nullable=False),
    Column("amount_refunded_minor", BigInteger, nullable=False),
    Column("refund_reserved_minor", BigInteger, nullable=False),
    Column("psp_request_count", Integer, nullable=False),
    Column("description", Text, nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("request_fingerprint", String(64), nullable=False),
    Column("ledger_transaction_id", ID, nullable=True),
    Column("next_inquiry_time", UtcDateTime(), nullable=True),
    Column("collection_attempt", Integer, nullable=False),
    # The reconciliation run whose report settled it; NULL until then.
    Column("settlement_run_id", ID, nullable=True),
    Column("create_time", UtcDateTime(), nullable=False),
    Column("update_time", UtcDateTime(), nullable=False),
    Column("version", BigInteger, nullable=False),
    ForeignKeyConstraint(["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"]),
    ForeignKeyConstraint(["tenant_id", "invoice_id"], ["invoices.tenant_id", "invoices.id"]),
    UniqueConstraint("psp_idempotency_key"),
    UniqueConstraint("tenant_id", "request_id"),
    Index("ix_payments_tenant_id_customer_id", "tenant_id", "customer_id"),
    Index("ix_payments_tenant_id_invoice_id", "tenant_id", "invoice_id"),
    # The resolver's queue: payments whose outcome is not known yet.
    Index(
        "ix_payments_next_inquiry_time_tenant_id_id",
        "next_inquiry_time",
        "tenant_id",
        "id",
        postgresql_where=text("next_inquiry_time IS NOT NULL"),
        sqlite_where=text("next_inquiry_time IS NOT NULL"),
    ),
)

refunds = Table(
    "refunds",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("payment_id", ID, nullable=False),
    Column("customer_id", ID, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency_code", CHAR(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("psp_idempotency_key", String(80), nullable=False),
    Column("psp_refund_id", String(128), nullable=True),
    Column("failure_code", String(64), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("request_fingerprint", String(64), nullable=False),
    Column("ledger_transaction_id", ID, nullable=True),
    Column("next_inquiry_time", UtcDateTime(), nullable=True),
    Column("settlement_run_id", ID, nullable=True),
    Column("create_time", UtcDateTime(), nullable=False),
    Column("update_time", UtcDateTime(), nullable=False),
    Column("version", BigInteger, nullable=False),
    ForeignKeyConstraint(["tenant_id", "payment_id"], ["payments.tenant_id", "payments.id"]),
    UniqueConstraint("psp_idempotency_key"),
    UniqueConstraint("tenant_id", "request_id"),
    Index("ix_refunds_tenant_id_payment_id", "tenant_id", "payment_id"),
    Index(
        "ix_refunds_next_inquiry_time_tenant_id_id",
        "next_inquiry_time",
        "tenant_id",
        "id",
        postgresql_where=text("next_inquiry_time IS NOT NULL"),
        sqlite_where=text("next_inquiry_time IS NOT NULL"),
    ),
)

# Append-only history of every payment and refund status change.
payment_transitions = Table(
    "payment_transitions",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("subject_id", ID, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("from_status", String(16), nullable=False),
    Column("to_status", String(16), nullable=False),
    Column("cause", String(32), nullable=False),
    Column("time", UtcDateTime(), nullable=False),
)

# PSP webhook deliveries already applied, by the PSP's event id: a repeat is
# acknowledged and changes nothing.
psp_webhook_events = Table(
    "psp_webhook_events",
    metadata,
    Column("psp", String(64), primary_key=True),
    Column("event_id", String(128), primary_key=True),
    Column("type", String(64), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("receive_time", UtcDateTime(), nullable=False),
)
