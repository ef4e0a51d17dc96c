"""Invoices, their lines, credit notes, document numbers and rendered-document fingerprints.

On the platform's one metadata; `accrue.schema` gathers every area's tables.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
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

# The totals are derivable from the lines but stored too, so lists and
# reports can filter and sum invoices without reading their lines.
invoices = Table(
    "invoices",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("customer_id", ID, nullable=False),
    Column("subscription_id", ID, nullable=True),
    Column("test_clock_id", ID, nullable=True),
    # NULL while DRAFT; numbers are handed out at finalisation.
    Column("number", String(32), nullable=True),
    Column("status", String(16), nullable=False),
    Column("billing_reason", String(32), nullable=False),
    Column("currency_code", CHAR(3), nullable=False),
    Column("subtotal_minor", BigInteger, nullable=False),
    Column("tax_minor", BigInteger, nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("credit_applied_minor", BigInteger, nullable=False),
    Column("credited_minor", BigInteger, nullable=False),
    Column("credited_to_due_minor", BigInteger, nullable=False),
    Column("amount_paid_minor", BigInteger, nullable=False),
    Column("amount_due_minor", BigInteger, nullable=False),
    Column("period_start", UtcDateTime(), nullable=True),
    Column("period_end", UtcDateTime(), nullable=True),
    Column("create_time", UtcDateTime(), nullable=False),
    Column("finalize_time", UtcDateTime(), nullable=True),
    Column("close_time", UtcDateTime(), nullable=True),
    Column("ledger_transaction_id", ID, nullable=True),
    Column("version", BigInteger, nullable=False),
    Column("collection_method", String(24), nullable=False, server_default="send_invoice"),
    Column("attempt_count", Integer, nullable=False, server_default="0"),
    Column("next_payment_attempt_time", UtcDateTime(), nullable=True),
    # No foreign key to subscriptions: a subscription's first invoice may be
    # written before the subscription row in the same transaction.
    ForeignKeyConstraint(["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"]),
    ForeignKeyConstraint(
        ["tenant_id", "test_clock_id"], ["test_clocks.tenant_id", "test_clocks.id"]
    ),
    UniqueConstraint("tenant_id", "number"),
    Index("ix_invoices_tenant_id_customer_id", "tenant_id", "customer_id"),
    Index("ix_invoices_tenant_id_subscription_id", "tenant_id", "subscription_id"),
    # The collector's queue: invoices with an automatic collection attempt due.
    Index(
        "ix_invoices_next_payment_attempt_time_tenant_id_id",
        "next_payment_attempt_time",
        "tenant_id",
        "id",
        postgresql_where=text("next_payment_attempt_time IS NOT NULL"),
        sqlite_where=text("next_payment_attempt_time IS NOT NULL"),
    ),
)

# Fractions are "p/q" text: proration and tax fractions can exceed 64 bits,
# and the derivation must read back exactly as it was computed.
invoice_lines = Table(
    "invoice_lines",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("invoice_id", ID, primary_key=True),
    Column("line_number", Integer, primary_key=True),
    Column("description", Text, nullable=False),
    Column("price_id", String(40), nullable=False),
    Column("subscription_id", String(40), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("unit_amount_minor", BigInteger, nullable=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("tax_behavior", String(16), nullable=False),
    Column("net_minor", BigInteger, nullable=False),
    Column("tax_minor", BigInteger, nullable=False),
    # All three NULL for an untaxed line.
    Column("tax_jurisdiction", Text, nullable=True),
    Column("tax_name", Text, nullable=True),
    Column("tax_rate", Text, nullable=True),
    Column("unrounded_tax", Text, nullable=False),
    Column("period_start", UtcDateTime(), nullable=True),
    Column("period_end", UtcDateTime(), nullable=True),
    Column("proration", Boolean, nullable=False),
    Column("fraction", Text, nullable=False),
    Column("full_period_amount_minor", BigInteger, nullable=False),
    Column("unrounded", Text, nullable=False),
    Column("rounding", String(32), nullable=False),
    Column("explanation", Text, nullable=False),
    ForeignKeyConstraint(["tenant_id", "invoice_id"], ["invoices.tenant_id", "invoices.id"]),
)

credit_notes = Table(
    "credit_notes",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("number", String(32), nullable=False),
    Column("invoice_id", ID, nullable=False),
    Column("customer_id", ID, nullable=False),
    Column("currency_code", CHAR(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("tax_minor", BigInteger, nullable=False),
    Column("applied_to_invoice_minor", BigInteger, nullable=False),
    Column("credit_balance_added_minor", BigInteger, nullable=False),
    Column("reason", String(32), nullable=False),
    Column("memo", Text, nullable=False),
    Column("create_time", UtcDateTime(), nullable=False),
    Column("ledger_transaction_id", ID, nullable=True),
    ForeignKeyConstraint(["tenant_id", "invoice_id"], ["invoices.tenant_id", "invoices.id"]),
    UniqueConstraint("tenant_id", "number"),
    Index("ix_credit_notes_tenant_id_invoice_id", "tenant_id", "invoice_id"),
)

# Gapless document numbers: the counter row is created on first use and then
# incremented in place, and its row lock is held until commit, so concurrent
# finalisations queue and a rolled-back one leaves no hole.
document_counters = Table(
    "document_counters",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("series", String(32), primary_key=True),
    Column("last_number", BigInteger, nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
)

# The SHA-256 of each state (version) of an invoice's or credit note's PDF,
# recorded when that state is first rendered: a later rendering must match.
document_renders = Table(
    "document_renders",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("document_id", ID, primary_key=True),
    Column("version", BigInteger, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("sha256", CHAR(64), nullable=False),
    Column("byte_size", BigInteger, nullable=False),
    Column("first_render_time", UtcDateTime(), nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
)
