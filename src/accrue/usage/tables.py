"""The usage area's tables, on the platform's one metadata (so migrations are checked).

Quantities are BIGINT millionths (see `accrue.usage.model`). `usage_events` is
the raw record, keyed by the caller's event id per tenant forever (its primary
key is the exactly-once guarantee). `usage_rollups` are the running aggregates
per customer, meter, hour and group of dimension values, updated in the
ingestion transaction; `usage_unique_values` does the same for UNIQUE_COUNT
meters (distinct values cannot be added up hour by hour, their sets can).
`usage_billings` is what each metered invoice line billed, per subscription,
price, usage period and group: a renewal bills the difference between a
period's price now and the sum billed, so late usage and corrections are
billed once, whenever they come inside the grace.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKeyConstraint,
    Index,
    String,
    Table,
    Text,
)

from accrue.platform.db.tables import ID, UtcDateTime, metadata

meters = Table(
    "meters",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("aggregation", String(16), nullable=False),
    Column("value_property", String(100), nullable=False),
    Column("dimension_keys", JSON, nullable=False),
    Column("grace_seconds", BigInteger, nullable=False),
    Column("allow_negative", Boolean, nullable=False),
    Column("archived", Boolean, nullable=False),
    Column("create_time", UtcDateTime(), nullable=False),
    Column("update_time", UtcDateTime(), nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
)

usage_events = Table(
    "usage_events",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("id", String(200), primary_key=True),
    Column("meter_id", ID, nullable=False),
    Column("customer_id", ID, nullable=False),
    Column("timestamp", UtcDateTime(), nullable=False),
    Column("properties", JSON, nullable=False),
    # SHA-256 of the body as first sent: a resend with the same body is a duplicate.
    Column("fingerprint", String(64), nullable=False),
    Column("value_micros", BigInteger, nullable=False),
    Column("unique_value", String(200), nullable=False),
    Column("group_key", String(700), nullable=False),
    Column("canceled", Boolean, nullable=False),
    # Recorded after its period had ended (inside the grace). Billing no longer
    # reads it (`usage_billings` says what was billed); kept for the reads' filter.
    Column("late", Boolean, nullable=False),
    Column("revision", BigInteger, nullable=False),
    Column("create_time", UtcDateTime(), nullable=False),
    Index(
        "ix_usage_events_tenant_id_customer_id_meter_id_timestamp",
        "tenant_id",
        "customer_id",
        "meter_id",
        "timestamp",
    ),
)

usage_rollups = Table(
    "usage_rollups",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("customer_id", ID, primary_key=True),
    Column("meter_id", ID, primary_key=True),
    Column("bucket_start", UtcDateTime(), primary_key=True),
    Column("group_key", String(700), primary_key=True),
    Column("late", Boolean, primary_key=True),
    Column("event_count", BigInteger, nullable=False),
    Column("sum_micros", BigInteger, nullable=False),
    Column("max_micros", BigInteger, nullable=False),
    Column("last_time", UtcDateTime(), nullable=False),
    Column("last_event_id", String(200), nullable=False),
    Column("last_micros", BigInteger, nullable=False),
)

usage_unique_values = Table(
    "usage_unique_values",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("customer_id", ID, primary_key=True),
    Column("meter_id", ID, primary_key=True),
    Column("bucket_start", UtcDateTime(), primary_key=True),
    Column("group_key", String(700), primary_key=True),
    Column("late", Boolean, primary_key=True),
    Column("value", String(200), primary_key=True),
    Column("event_count", BigInteger, nullable=False),
)

# Every correction of an event: who, when, why, and the properties before it.
usage_event_corrections = Table(
    "usage_event_corrections",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("event_id", String(200), primary_key=True),
    Column("revision", BigInteger, primary_key=True),
    Column("action", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("previous_properties", JSON, nullable=False),
    Column("create_time", UtcDateTime(), nullable=False),
)

usage_billings = Table(
    "usage_billings",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("subscription_id", ID, nullable=False),
    Column("price_id", ID, nullable=False),
    Column("meter_id", ID, nullable=False),
    Column("group_key", String(700), nullable=False),
    # The usage period the line billed (a part of a billing period after a change).
    Column("period_start", UtcDateTime(), nullable=False),
    Column("period_end", UtcDateTime(), nullable=False),
    # What this line added: signed, so the sums are what the period has been billed.
    Column("quantity_micros", BigInteger, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    # The invoice that billed it; "" while it waits on the subscription for the next one.
    Column("invoice_id", String(40), nullable=False),
    Column("create_time", UtcDateTime(), nullable=False),
    Index(
        "ix_usage_billings_tenant_id_subscription_id_period_end",
        "tenant_id",
        "subscription_id",
        "period_end",
    ),
)
