"""SQL persistence of customers and their payment methods. Every query is scoped by tenant_id."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    insert,
    select,
    update,
)

from accrue.customers import tables as t
from accrue.customers.mapping import (
    customer_from_row,
    customer_row,
    payment_method_from_row,
    payment_method_row,
)
from accrue.customers.model import Customer, PaymentMethod, PaymentMethodType
from accrue.kernel.lifecycle import LifecycleState
from accrue.kernel.paging import PageRequest
from accrue.platform.db.any_of import any_of
from accrue.platform.db.rows import by_key

# Hot-path statements are built once: constructing a SQLAlchemy statement per
# call costs more CPU than SQLite takes to run it.
_GET = by_key(t.customers)
_INSERT = {table.name: insert(table) for table in (t.customers, t.payment_methods)}
_pm = t.payment_methods.c
_METHODS_OF = (
    select(t.payment_methods)
    .where(
        _pm.tenant_id == bindparam("tenant_id"),
        any_of(_pm.customer_id, "customer_ids"),
        _pm.detach_time.is_(None),
    )
    .order_by(_pm.id)
)
_c = t.customers.c
_MANY = select(t.customers).where(_c.tenant_id == bindparam("tenant_id"), any_of(_c.id, "ids"))
_CLOCKS_OF_MANY = select(_c.id, _c.test_clock_id).where(
    _c.tenant_id == bindparam("tenant_id"), any_of(_c.id, "ids")
)
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
        params = {"tenant_id": tenant_id, "ids": list(customer_ids)}
        rows = list(self._conn.execute(_MANY, params))
        methods = self._methods(tenant_id, [row.id for row in rows])
        return {row.id: customer_from_row(row, methods.get(row.id, ())) for row in rows}

    def test_clock_ids(self, tenant_id: str, customer_ids: Sequence[str]) -> dict[str, str]:
        if not customer_ids:
            return {}
        params = {"tenant_id": tenant_id, "ids": list(customer_ids)}
        rows = self._conn.execute(_CLOCKS_OF_MANY, params)
        return {row.id: row.test_clock_id or "" for row in rows}

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
