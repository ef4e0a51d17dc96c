"""Customers and their payment methods.

On the platform's one metadata; `accrue.schema` gathers every area's tables.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    ForeignKeyConstraint,
    Index,
    String,
    Table,
)
from sqlalchemy.types import CHAR

from accrue.platform.db.tables import ID, UtcDateTime, metadata

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
