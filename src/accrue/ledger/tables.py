"""The ledger: chain heads, accounts, transactions, entries, signed checkpoints.

On the platform's one metadata; `accrue.schema` gathers every area's tables.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
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

# Balances: stored amounts plus the entries not yet sequenced always equal the
# sum of the account's entries (VerifyLedger checks). SQLite adds a posting's
# amounts at its commit; on PostgreSQL the sequencer adds them per batch (see
# sequencer.py). net = debits - credits.
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
