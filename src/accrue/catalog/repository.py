"""SQL persistence of products and prices. Every query is scoped by tenant_id."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, insert, select, update

from accrue.catalog import tables as t
from accrue.catalog.mapping import price_from_row, price_row, product_from_row, product_row
from accrue.catalog.model import Price, Product
from accrue.kernel.lifecycle import LifecycleState
from accrue.kernel.paging import PageRequest
from accrue.platform.db.rows import by_key, get_row

_GET = {table.name: by_key(table) for table in (t.products, t.prices)}
_INSERT = {table.name: insert(table) for table in (t.products, t.prices)}


class SqlProductRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, product: Product) -> None:
        self._conn.execute(_INSERT["products"], product_row(product))

    def get(self, tenant_id: str, product_id: str, *, for_update: bool = False) -> Product | None:
        row = get_row(self._conn, _GET["products"], tenant_id, product_id, for_update)
        return None if row is None else product_from_row(row)

    def update(self, product: Product) -> None:
        values = product_row(product)
        self._conn.execute(
            update(t.products)
            .where(
                t.products.c.tenant_id == product.tenant_id,
                t.products.c.id == product.id,
            )
            .values(
                {k: v for k, v in values.items() if k not in ("tenant_id", "id", "create_time")}
            )
        )

    def list(self, tenant_id: str, page: PageRequest, *, show_archived: bool) -> Sequence[Product]:
        c = t.products.c
        query = select(t.products).where(c.tenant_id == tenant_id, c.id > page.after_id)
        if not show_archived:
            query = query.where(c.state == LifecycleState.ACTIVE.value)
        rows = self._conn.execute(query.order_by(c.id).limit(page.size + 1))
        return [product_from_row(row) for row in rows]


class SqlPriceRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, price: Price) -> None:
        self._conn.execute(_INSERT["prices"], price_row(price))

    def get(self, tenant_id: str, price_id: str, *, for_update: bool = False) -> Price | None:
        row = get_row(self._conn, _GET["prices"], tenant_id, price_id, for_update)
        return None if row is None else price_from_row(row)

    def update(self, price: Price) -> None:
        values = price_row(price)
        immutable = ("tenant_id", "id", "product_id", "currency_code", "create_time", "in_use")
        self._conn.execute(
            update(t.prices)
            .where(
                t.prices.c.tenant_id == price.tenant_id,
                t.prices.c.id == price.id,
            )
            .values({k: v for k, v in values.items() if k not in immutable})
        )

    def list(
        self, tenant_id: str, page: PageRequest, *, product_id: str, show_archived: bool
    ) -> Sequence[Price]:
        c = t.prices.c
        query = select(t.prices).where(c.tenant_id == tenant_id, c.id > page.after_id)
        if product_id:
            query = query.where(c.product_id == product_id)
        if not show_archived:
            query = query.where(c.state == LifecycleState.ACTIVE.value)
        rows = self._conn.execute(query.order_by(c.id).limit(page.size + 1))
        return [price_from_row(row) for row in rows]

    def mark_in_use(self, tenant_id: str, price_id: str) -> None:
        self._conn.execute(
            update(t.prices)
            .where(
                t.prices.c.tenant_id == tenant_id,
                t.prices.c.id == price_id,
            )
            .values(in_use=True)
        )
