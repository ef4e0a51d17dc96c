"""The schema, as SQLAlchemy Core tables that run on SQLite and PostgreSQL.

Every business table has `tenant_id` as the first primary-key column, so a
row can only ever be addressed together with its tenant and the data can be
partitioned by tenant later. Money is BigInteger minor units + CHAR(3).
Alembic migrations must match this module; a test compares them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import CHAR, TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps stored as UTC and always read back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

ID = String(40)

tenants = Table(
    "tenants",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(256), nullable=False),
    Column("create_time", UtcDateTime(), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, nullable=False, index=True),
    Column("key_hash", CHAR(64), nullable=False, unique=True),
    Column("create_time", UtcDateTime(), nullable=False),
    Column("revoke_time", UtcDateTime(), nullable=True),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    # The first characters of the secret, shown to tell keys apart (never enough to use one).
    Column("prefix", String(16), nullable=True),
)

products = Table(
    "products",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("display_name", String(256), nullable=False),
    Column("description", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("create_time", UtcDateTime(), nullable=False),
    Column("update_time", UtcDateTime(), nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
)

prices = Table(
    "prices",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("product_id", ID, nullable=False),
    Column("currency_code", CHAR(3), nullable=False),
    Column("pricing_scheme", String(16), nullable=False),
    Column("unit_amount_minor", BigInteger, nullable=True),
    Column("tiers", JSON, nullable=False),
    Column("interval_unit", String(8), nullable=True),
    Column("interval_count", Integer, nullable=True),
    Column("usage_type", String(16), nullable=True),
    Column("tax_behavior", String(16), nullable=False),
    Column("nickname", String(256), nullable=False),
    Column("state", String(16), nullable=False),
    Column("in_use", Boolean, nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("create_time", UtcDateTime(), nullable=False),
    Column("update_time", UtcDateTime(), nullable=False),
    ForeignKeyConstraint(["tenant_id", "product_id"], ["products.tenant_id", "products.id"]),
    CheckConstraint("unit_amount_minor IS NULL OR unit_amount_minor >= 0", name="unit_amount"),
    Index("ix_prices_tenant_id_product_id", "tenant_id", "product_id"),
)

customers = Table(
    "customers",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("display_name", String(256), nullable=False),
    Column("email", String(254), nullable=False),
    Column("currency_code", CHAR(3), nullable=False),
    Column("billing_address", JSON, nullable=True),
    Column("tax_location", JSON, nullable=True),
    Column("time_zone", String(64), nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("default_payment_method_id", String(40), nullable=False),
    Column("state", String(16), nullable=False),
    Column("create_time", UtcDateTime(), nullable=False),
    Column("update_time", UtcDateTime(), nullable=False),
    # NULL for a customer on real time. No foreign key: it would be a composite
    # table constraint, which SQLite can only add by copying the whole table;
    # the clock exists before the customer and the id never changes.
    Column("test_clock_id", ID, nullable=True),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    Index("ix_customers_tenant_id_email", "tenant_id", "email"),
)

payment_methods = Table(
    "payment_methods",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("customer_id", ID, nullable=False),
    Column("psp", String(32), nullable=False),
    Column("token", String(255), nullable=False),
    Column("type", String(16), nullable=False),
    Column("create_time", UtcDateTime(), nullable=False),
    # Detached methods are kept (payments may refer to them), never deleted.
    Column("detach_time", UtcDateTime(), nullable=True),
    ForeignKeyConstraint(["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"]),
    Index("ix_payment_methods_tenant_id_customer_id", "tenant_id", "customer_id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("request_id", String(128), primary_key=True),
    Column("method", String(200), nullable=False),
    Column("fingerprint", CHAR(64), nullable=False),
    Column("response", LargeBinary, nullable=False),
    Column("create_time", UtcDateTime(), nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
)

# --- ledger -----------------------------------------------------------------
# The head row of each tenant's chain: the last sequence and hash given out.
# On PostgreSQL only the sequencer locks it (SKIP LOCKED: one sequencer per
# tenant at a time); postings never do. On SQLite the single writer extends it
# at commit. Created with the tenant.
ledger_heads = Table(
    "ledger_heads",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("last_sequence", BigInteger, nullable=False),
    Column("last_hash", CHAR(64), nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
)

# Balances, kept current in the posting transaction; always equal to the sum
# of the account's entries (VerifyLedger checks). net = debits - credits.
ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("id", String(200), primary_key=True),
    Column("code", String(64), nullable=False),
    Column("currency_code", CHAR(3), nullable=False),
    Column("customer_id", String(100), nullable=False),
    Column("net_minor", BigInteger, nullable=False),
    Column("debits_minor", BigInteger, nullable=False),
    Column("credits_minor", BigInteger, nullable=False),
    Column("create_time", UtcDateTime(), nullable=False),
    Column("update_time", UtcDateTime(), nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    Index("ix_ledger_accounts_tenant_id_customer_id", "tenant_id", "customer_id"),
)

ledger_transactions = Table(
    "ledger_transactions",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    # NULL until the sequencer numbers it (PostgreSQL); see ledger_sequencer.py.
    Column("sequence", BigInteger, nullable=True),
    Column("source_type", String(100), nullable=False),
    Column("source_id", String(100), nullable=False),
    Column("description", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("resource_type", String(100), nullable=False),
    Column("resource_id", String(100), nullable=False),
    Column("reverses_transaction_id", String(100), nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("post_time", UtcDateTime(), nullable=False),
    Column("previous_hash", CHAR(64), nullable=False),
    Column("hash", CHAR(64), nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    UniqueConstraint("tenant_id", "sequence"),
    # Idempotent by source: the same cause can never post twice.
    UniqueConstraint("tenant_id", "source_type", "source_id"),
    Index("ix_ledger_transactions_tenant_id_post_time", "tenant_id", "post_time"),
    # The writer's transaction id (PostgreSQL), ordering a sequencing batch.
    Column("writer_xid", BigInteger, nullable=True),
    Index(
        "ix_ledger_transactions_unsequenced",
        "tenant_id",
        "writer_xid",
        postgresql_where=text("sequence IS NULL"),
        sqlite_where=text("sequence IS NULL"),
    ),
)

# amount_minor is signed: debits positive, credits negative.
ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("transaction_id", ID, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("account_id", String(200), nullable=False),
    Column("currency_code", CHAR(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["tenant_id", "transaction_id"], ["ledger_transactions.tenant_id", "ledger_transactions.id"]
    ),
    CheckConstraint("amount_minor <> 0", name="nonzero"),
    Index("ix_ledger_entries_tenant_id_account_id", "tenant_id", "account_id"),
)

# --- events -----------------------------------------------------------------
# The event head hands out per-tenant sequences in commit order: on SQLite
# under the writer's lock at commit, on PostgreSQL by the sequencer after
# commit (events wait in `event_queue` until then), so a reader polling
# "after N" can never skip an event that commits later.
event_heads = Table(
    "event_heads",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("last_sequence", BigInteger, nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
)

events = Table(
    "events",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("sequence", BigInteger, primary_key=True),
    Column("id", ID, nullable=False, unique=True),
    Column("type", String(100), nullable=False),
    Column("resource_type", String(100), nullable=False),
    Column("resource_id", String(100), nullable=False),
    Column("occur_time", UtcDateTime(), nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("payload_type", String(200), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    Index("ix_events_tenant_id_type_sequence", "tenant_id", "type", "sequence"),
    Index("ix_events_tenant_id_resource_id_sequence", "tenant_id", "resource_id", "sequence"),
)

# --- billing ------------------------------------------------------------------
# Ids of other rows that may be absent (test clock, subscription, invoice,
# ledger transaction) are NULL rather than "", so "on real time" is `IS NULL`
# and a partial index can leave simulated-time rows out.
test_clocks = Table(
    "test_clocks",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("display_name", String(256), nullable=False),
    Column("frozen_time", UtcDateTime(), nullable=False),
    Column("work_items_run", BigInteger, nullable=False),
    Column("create_time", UtcDateTime(), nullable=False),
    Column("update_time", UtcDateTime(), nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    # Asynchronous advances (migration 0011): READY, ADVANCING or FAILED, where
    # it is going, its progress, and the failed step's typed error.
    Column("state", String(16), nullable=False, server_default="READY"),
    Column("target_time", UtcDateTime(), nullable=True),
    Column("advance_work_items_run", BigInteger, nullable=False, server_default="0"),
    Column("failure_reason", String(64), nullable=True),
    Column("failure_message", Text, nullable=True),
    Column("failure_time", UtcDateTime(), nullable=True),
    Index("ix_test_clocks_state", "state"),
)

# Items, anchor and pending lines are stored whole as JSON: they are only ever
# read and written with the subscription, never queried. `next_action_time`
# is derived from the rest on every write, so the scheduler needs no JSON.
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("customer_id", ID, nullable=False),
    Column("test_clock_id", ID, nullable=True),
    Column("status", String(16), nullable=False),
    Column("currency_code", CHAR(3), nullable=False),
    Column("items", JSON, nullable=False),
    Column("anchor", JSON, nullable=False),
    Column("interval_unit", String(8), nullable=False),
    Column("interval_count", Integer, nullable=False),
    Column("period_start", UtcDateTime(), nullable=False),
    Column("period_end", UtcDateTime(), nullable=False),
    Column("trial_end", UtcDateTime(), nullable=True),
    Column("cancel_at_period_end", Boolean, nullable=False),
    Column("canceled_at", UtcDateTime(), nullable=True),
    Column("pause_start", UtcDateTime(), nullable=True),
    Column("pause_resume_at", UtcDateTime(), nullable=True),
    Column("pending_lines", JSON, nullable=False),
    Column("latest_invoice_id", ID, nullable=True),
    Column("metadata", JSON, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("create_time", UtcDateTime(), nullable=False),
    Column("update_time", UtcDateTime(), nullable=True),
    Column("next_action_time", UtcDateTime(), nullable=True),
    Column("collection_method", String(24), nullable=False, server_default="send_invoice"),
    ForeignKeyConstraint(["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"]),
    ForeignKeyConstraint(
        ["tenant_id", "test_clock_id"], ["test_clocks.tenant_id", "test_clocks.id"]
    ),
    Index("ix_subscriptions_tenant_id_customer_id", "tenant_id", "customer_id"),
    # The real-time scheduler's queue: only rows with work due on real time,
    # in the order it claims them, so a claim reads the head of the index.
    Index(
        "ix_subscriptions_next_action_time_tenant_id_id",
        "next_action_time",
        "tenant_id",
        "id",
        postgresql_where=text("test_clock_id IS NULL AND next_action_time IS NOT NULL"),
        sqlite_where=text("test_clock_id IS NULL AND next_action_time IS NOT NULL"),
    ),
    # Advancing a test clock walks its subscriptions in (time, id) order.
    Index(
        "ix_subscriptions_tenant_id_test_clock_id_next_action_time_id",
        "tenant_id",
        "test_clock_id",
        "next_action_time",
        "id",
    ),
)

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

# One import of a settlement report. The same bytes (per tenant and PSP) are
# one run: a re-import finds it by digest and changes nothing.
reconciliation_runs = Table(
    "reconciliation_runs",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("psp", String(64), nullable=False),
    Column("format", String(32), nullable=False),
    Column("file_name", String(256), nullable=False),
    Column("report_sha256", CHAR(64), nullable=False),
    Column("cut_off_time", UtcDateTime(), nullable=False),
    Column("line_count", BigInteger, nullable=False),
    Column("matched_count", BigInteger, nullable=False),
    Column("break_count", BigInteger, nullable=False),
    Column("breaks_by_category", JSON, nullable=False),
    Column("totals", JSON, nullable=False),
    Column("payout_count", BigInteger, nullable=False),
    Column("payouts_tied_out", BigInteger, nullable=False),
    Column("ledger_transaction_count", BigInteger, nullable=False),
    Column("create_time", UtcDateTime(), nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    UniqueConstraint("tenant_id", "psp", "report_sha256"),
)

reconciliation_breaks = Table(
    "reconciliation_breaks",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("run_id", ID, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("category", String(32), nullable=False),
    Column("line_number", BigInteger, nullable=False),
    Column("reference", String(128), nullable=False),
    Column("record_id", String(64), nullable=False),
    Column("payout_id", String(128), nullable=False),
    Column("currency_code", String(3), nullable=False),
    Column("expected_minor", BigInteger, nullable=True),
    Column("actual_minor", BigInteger, nullable=True),
    Column("detail", Text, nullable=False),
    Column("resolved", Boolean, nullable=False),
    Column("resolution_note", Text, nullable=False),
    Column("resolved_by", String(64), nullable=False),
    Column("resolve_time", UtcDateTime(), nullable=True),
    ForeignKeyConstraint(
        ["tenant_id", "run_id"], ["reconciliation_runs.tenant_id", "reconciliation_runs.id"]
    ),
    Index("ix_reconciliation_breaks_tenant_id_run_id_category", "tenant_id", "run_id", "category"),
)

# Secrets the servers of one deployment share (the page-token key), generated
# once by whichever process needs one first; a configured secret overrides.
server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("secret", String(128), nullable=False),
    Column("create_time", UtcDateTime(), nullable=False),
)

# --- sequencing (PostgreSQL) ---------------------------------------------------
# Events committed but not yet numbered: the sequencer moves them into `events`
# in commit order. `writer_xid` is the writing transaction's id, `position` the
# order within it. SQLite numbers events at commit and never uses this table.
event_queue = Table(
    "event_queue",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("writer_xid", BigInteger, nullable=True),
    Column("position", Integer, nullable=False),
    Column("type", String(100), nullable=False),
    Column("resource_type", String(100), nullable=False),
    Column("resource_id", String(100), nullable=False),
    Column("occur_time", UtcDateTime(), nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("payload_type", String(200), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    Index("ix_event_queue_tenant_id_writer_xid_position", "tenant_id", "writer_xid", "position"),
)

# Signed statements "tenant's chain had this head hash at this sequence";
# exported and kept outside the database, they expose a rewritten chain.
ledger_checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("sequence", BigInteger, primary_key=True),
    Column("head_hash", CHAR(64), nullable=False),
    Column("sign_time", UtcDateTime(), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
)

# The reconciliation run that settled a payment or refund (ids are unique across
# both): written once per record by an import, never updated, so settling a
# million records is a bulk insert rather than a million row rewrites. A record
# is settled when it has a mark or (settled before marks existed) a
# `settlement_run_id`.
settlement_marks = Table(
    "settlement_marks",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("record_id", ID, primary_key=True),
    Column("run_id", ID, nullable=False),
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


# Business-area packages keep their tables next to their SQL; importing them
# here puts them on the one metadata that migrations are checked against.
from accrue.entitlements import tables as _entitlement_tables  # noqa: E402, F401
from accrue.policies import tables as _policy_tables  # noqa: E402, F401
from accrue.relay import tables as _relay_tables  # noqa: E402, F401
from accrue.webhooks import tables as _webhook_tables  # noqa: E402, F401
