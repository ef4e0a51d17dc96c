"""SQLAlchemy Core repositories. Every query is scoped by tenant_id."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    Table,
    and_,
    bindparam,
    insert,
    select,
    text,
    update,
)

from accrue.catalog.model import Price, Product
from accrue.customers.mapping import (
    customer_from_row,
    customer_row,
    payment_method_from_row,
    payment_method_row,
    price_from_row,
    price_row,
    product_from_row,
    product_row,
)
from accrue.customers.model import Customer, PaymentMethod, PaymentMethodType
from accrue.kernel.lifecycle import LifecycleState
from accrue.kernel.paging import PageRequest
from accrue.platform.db import tables as t
from accrue.platform.db.key_locks import KeyLocks
from accrue.ports import StoredResponse
from accrue.tenancy.model import ApiKey, Tenant

# Hot-path statements are built once: constructing a SQLAlchemy statement per
# call costs more CPU than SQLite takes to run it.


def _by_key(table: Table) -> tuple[Select[Any], Select[Any]]:
    query = select(table).where(
        table.c.tenant_id == bindparam("tenant_id"), table.c.id == bindparam("id")
    )
    return query, query.with_for_update()


_GET = {table.name: _by_key(table) for table in (t.products, t.prices, t.customers)}
_INSERT = {
    table.name: insert(table)
    for table in (t.products, t.prices, t.customers, t.payment_methods, t.idempotency_keys)
}
_pm = t.payment_methods.c
_METHODS_OF = (
    select(t.payment_methods)
    .where(
        _pm.tenant_id == bindparam("tenant_id"),
        _pm.customer_id.in_(bindparam("customer_ids", expanding=True)),
        _pm.detach_time.is_(None),
    )
    .order_by(_pm.id)
)
_c = t.customers.c
# A customer and its attached methods in one round trip (a row per method).
_CUSTOMER_WITH_METHODS = (
    select(
        t.customers,
        _pm.id.label("pm_id"),
        _pm.psp.label("pm_psp"),
        _pm.token.label("pm_token"),
        _pm.type.label("pm_type"),
        _pm.create_time.label("pm_create_time"),
    )
    .select_from(
        t.customers.outerjoin(
            t.payment_methods,
            and_(
                _pm.tenant_id == _c.tenant_id,
                _pm.customer_id == _c.id,
                _pm.detach_time.is_(None),
            ),
        )
    )
    .where(_c.tenant_id == bindparam("tenant_id"), _c.id == bindparam("id"))
    .order_by(_pm.id)
)
_CUSTOMER_WITH_METHODS_LOCKED = _CUSTOMER_WITH_METHODS.with_for_update(of=t.customers)
_ik = t.idempotency_keys.c
_STORED_RESPONSE = select(_ik.method, _ik.fingerprint, _ik.response).where(
    _ik.tenant_id == bindparam("tenant_id"), _ik.request_id == bindparam("request_id")
)
_KEY_TENANT = select(t.api_keys.c.tenant_id).where(
    t.api_keys.c.key_hash == bindparam("key_hash"), t.api_keys.c.revoke_time.is_(None)
)


def _get_row(conn: Connection, table: Table, tenant_id: str, key: str, for_update: bool) -> Any:
    plain, locking = _GET[table.name]
    # SQLite has no row locks; its writers already hold the database lock.
    query = locking if for_update and conn.dialect.name == "postgresql" else plain
    return conn.execute(query, {"tenant_id": tenant_id, "id": key}).first()


class SqlTenantRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, tenant: Tenant) -> None:
        self._conn.execute(
            insert(t.tenants).values(id=tenant.id, name=tenant.name, create_time=tenant.create_time)
        )

    def get(self, tenant_id: str) -> Tenant | None:
        row = self._conn.execute(select(t.tenants).where(t.tenants.c.id == tenant_id)).first()
        return None if row is None else Tenant(row.id, row.name, row.create_time)

    def get_by_name(self, name: str) -> Tenant | None:
        query = select(t.tenants).where(t.tenants.c.name == name).order_by(t.tenants.c.id).limit(1)
        row = self._conn.execute(query).first()
        return None if row is None else Tenant(row.id, row.name, row.create_time)

    def add_api_key(
        self,
        *,
        key_id: str,
        tenant_id: str,
        key_hash: str,
        create_time: datetime,
        prefix: str | None = None,
    ) -> None:
        self._conn.execute(
            insert(t.api_keys).values(
                id=key_id,
                tenant_id=tenant_id,
                key_hash=key_hash,
                create_time=create_time,
                prefix=prefix,
            )
        )

    def tenant_for_key_hash(self, key_hash: str) -> str | None:
        return self._conn.execute(_KEY_TENANT, {"key_hash": key_hash}).scalar_one_or_none()

    def list_api_keys(self, tenant_id: str) -> Sequence[ApiKey]:
        c = t.api_keys.c
        query = select(c.id, c.tenant_id, c.prefix, c.create_time, c.revoke_time).where(
            c.tenant_id == tenant_id
        )
        rows = self._conn.execute(query.order_by(c.create_time, c.id))
        return [
            ApiKey(row.id, row.tenant_id, row.prefix or "", row.create_time, row.revoke_time)
            for row in rows
        ]

    def revoke_api_key(self, tenant_id: str, key_id: str, *, at: datetime) -> bool:
        c = t.api_keys.c
        result = self._conn.execute(
            update(t.api_keys)
            .where(c.tenant_id == tenant_id, c.id == key_id, c.revoke_time.is_(None))
            .values(revoke_time=at)
        )
        return result.rowcount == 1


class SqlProductRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, product: Product) -> None:
        self._conn.execute(_INSERT["products"], product_row(product))

    def get(self, tenant_id: str, product_id: str, *, for_update: bool = False) -> Product | None:
        row = _get_row(self._conn, t.products, tenant_id, product_id, for_update)
        return None if row is None else product_from_row(row)

    def update(self, product: Product) -> None:
        values = product_row(product)
        self._conn.execute(
            update(t.products)
            .where(t.products.c.tenant_id == product.tenant_id, t.products.c.id == product.id)
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
        row = _get_row(self._conn, t.prices, tenant_id, price_id, for_update)
        return None if row is None else price_from_row(row)

    def update(self, price: Price) -> None:
        values = price_row(price)
        immutable = ("tenant_id", "id", "product_id", "currency_code", "create_time", "in_use")
        self._conn.execute(
            update(t.prices)
            .where(t.prices.c.tenant_id == price.tenant_id, t.prices.c.id == price.id)
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
            .where(t.prices.c.tenant_id == tenant_id, t.prices.c.id == price_id)
            .values(in_use=True)
        )


class SqlCustomerRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, customer: Customer) -> None:
        self._conn.execute(_INSERT["customers"], customer_row(customer))
        for method in customer.payment_methods:
            self.add_payment_method(customer.tenant_id, customer.id, method)

    def get(self, tenant_id: str, customer_id: str, *, for_update: bool = False) -> Customer | None:
        # SQLite has no row locks; its writers already hold the database lock.
        locking = for_update and self._conn.dialect.name == "postgresql"
        query = _CUSTOMER_WITH_METHODS_LOCKED if locking else _CUSTOMER_WITH_METHODS
        rows = list(self._conn.execute(query, {"tenant_id": tenant_id, "id": customer_id}))
        if not rows:
            return None
        methods = tuple(
            PaymentMethod(
                id=row.pm_id,
                psp=row.pm_psp,
                token=row.pm_token,
                type=PaymentMethodType(row.pm_type),
                create_time=row.pm_create_time,
            )
            for row in rows
            if row.pm_id is not None
        )
        return customer_from_row(rows[0], methods)

    def get_many(self, tenant_id: str, customer_ids: Sequence[str]) -> dict[str, Customer]:
        if not customer_ids:
            return {}
        c = t.customers.c
        query = select(t.customers).where(c.tenant_id == tenant_id, c.id.in_(customer_ids))
        rows = list(self._conn.execute(query))
        methods = self._methods(tenant_id, [row.id for row in rows])
        return {row.id: customer_from_row(row, methods.get(row.id, ())) for row in rows}

    def update(self, customer: Customer) -> None:
        values = customer_row(customer)
        # A customer never moves between real and simulated time.
        immutable = ("tenant_id", "id", "create_time", "test_clock_id")
        self._conn.execute(
            update(t.customers)
            .where(t.customers.c.tenant_id == customer.tenant_id, t.customers.c.id == customer.id)
            .values({k: v for k, v in values.items() if k not in immutable})
        )

    def list(
        self, tenant_id: str, page: PageRequest, *, show_archived: bool, email: str
    ) -> Sequence[Customer]:
        c = t.customers.c
        query = select(t.customers).where(c.tenant_id == tenant_id, c.id > page.after_id)
        if not show_archived:
            query = query.where(c.state == LifecycleState.ACTIVE.value)
        if email:
            query = query.where(c.email == email)
        rows = list(self._conn.execute(query.order_by(c.id).limit(page.size + 1)))
        methods = self._methods(tenant_id, [row.id for row in rows])
        return [customer_from_row(row, methods.get(row.id, ())) for row in rows]

    def add_payment_method(self, tenant_id: str, customer_id: str, method: PaymentMethod) -> None:
        self._conn.execute(
            _INSERT["payment_methods"], payment_method_row(tenant_id, customer_id, method)
        )

    def detach_payment_method(
        self, tenant_id: str, payment_method_id: str, *, when: datetime
    ) -> None:
        c = t.payment_methods.c
        self._conn.execute(
            update(t.payment_methods)
            .where(c.tenant_id == tenant_id, c.id == payment_method_id, c.detach_time.is_(None))
            .values(detach_time=when)
        )

    def _methods(
        self, tenant_id: str, customer_ids: Sequence[str]
    ) -> dict[str, tuple[PaymentMethod, ...]]:
        if not customer_ids:
            return {}
        found: dict[str, list[PaymentMethod]] = {}
        params = {"tenant_id": tenant_id, "customer_ids": list(customer_ids)}
        for row in self._conn.execute(_METHODS_OF, params):
            found.setdefault(row.customer_id, []).append(payment_method_from_row(row))
        return {key: tuple(value) for key, value in found.items()}


class SqlIdempotencyRepository:
    """Stored responses, plus a per-key lock that spans processes on PostgreSQL."""

    def __init__(self, conn: Connection, locks: KeyLocks) -> None:
        self._conn = conn
        self._locks = locks
        self.held: list[tuple[str, str]] = []

    def lock(self, tenant_id: str, request_id: str) -> bool:
        key = (tenant_id, request_id)
        if not self._locks.try_acquire(key):
            return False
        self.held.append(key)
        if self._conn.dialect.name == "postgresql" and not self._locks.spans_processes(key):
            digest = hashlib.sha256(f"{tenant_id}\0{request_id}".encode()).digest()
            lock_id = int.from_bytes(digest[:8], "big", signed=True)
            acquired = self._conn.execute(
                text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": lock_id}
            ).scalar_one()
            return bool(acquired)
        return True

    def release_all(self) -> None:
        for key in self.held:
            self._locks.release(key)
        self.held.clear()

    def get(self, tenant_id: str, request_id: str) -> StoredResponse | None:
        params = {"tenant_id": tenant_id, "request_id": request_id}
        row = self._conn.execute(_STORED_RESPONSE, params).first()
        if row is None:
            return None
        return StoredResponse(
            method=row.method, fingerprint=row.fingerprint, response=bytes(row.response)
        )

    def add(
        self, tenant_id: str, request_id: str, stored: StoredResponse, *, create_time: datetime
    ) -> None:
        self._conn.execute(
            _INSERT["idempotency_keys"],
            {
                "tenant_id": tenant_id,
                "request_id": request_id,
                "method": stored.method,
                "fingerprint": stored.fingerprint,
                "response": stored.response,
                "create_time": create_time,
            },
        )
