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
# The head row of each tenant's chain is locked by every posting: it hands out
# gapless sequences and the previous hash, and serialises a tenant's postings
# so the chain is a line, not a tree. Created with the tenant.
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
    Column("sequence", BigInteger, nullable=False),
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
# Like the ledger head, the event head hands out per-tenant sequences under a
# row lock held to commit, so sequence order is commit order and a reader
# polling "after N" can never skip an event that commits later.
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
