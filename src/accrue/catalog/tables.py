"""Products and prices.

On the platform's one metadata; `accrue.schema` gathers every area's tables.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.types import CHAR

from accrue.platform.db.tables import ID, UtcDateTime, metadata

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
    Column("meter_id", ID, nullable=True),
    Column("tax_behavior", String(16), nullable=False),
    # PACKAGE prices: units per package; NULL for every other scheme.
    Column("package_size", BigInteger, nullable=True),
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
