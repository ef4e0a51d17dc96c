"""SQL repositories through a unit of work, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, func, select

from accrue import schema as t
from accrue.catalog.model import Product
from accrue.customers.model import (
    Customer,
    PaymentMethod,
    PaymentMethodType,
    PostalAddress,
    TaxLocation,
)
from accrue.kernel.lifecycle import LifecycleState
from accrue.kernel.paging import PageRequest
from accrue.platform.db import migrate
from accrue.platform.db.engine import build_engine
from accrue.platform.db.statements import count_statements
from accrue.platform.ports import StoredResponse
from accrue.tenancy.model import Tenant
from accrue.unit_of_work import SqlUnitOfWorkFactory

CREATED = datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=UTC)
UPDATED = datetime(2024, 3, 1, 0, 0, 0, 1, tzinfo=UTC)
EVERYTHING = PageRequest(size=100, after_id="", query_fingerprint="")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    built = build_engine(database_url, pool_size=2)
    migrate.upgrade(built)
    yield built
    built.dispose()


@pytest.fixture
def uow_factory(engine: Engine) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(engine)


def add_tenant(uow_factory: SqlUnitOfWorkFactory, tenant_id: str) -> None:
    with uow_factory(write=True) as uow:
        uow.tenants.add(Tenant(id=tenant_id, name=tenant_id, create_time=CREATED))
        uow.commit()


def product(tenant_id: str, product_id: str) -> Product:
    return Product(
        id=product_id,
        tenant_id=tenant_id,
        display_name=f"Product {product_id}",
        description="",
        state=LifecycleState.ACTIVE,
        metadata={},
        create_time=CREATED,
        update_time=CREATED,
    )


def bare_customer(tenant_id: str, customer_id: str) -> Customer:
    return Customer(
        id=customer_id,
        tenant_id=tenant_id,
        display_name="Bare",
        email="",
        currency_code="USD",
        billing_address=None,
        tax_location=None,
        time_zone="UTC",
        metadata={},
        payment_methods=(),
        default_payment_method_id="",
        state=LifecycleState.ACTIVE,
        create_time=CREATED,
        update_time=CREATED,
    )


def count(engine: Engine, table: t.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_customer_with_payment_methods_round_trips_every_field(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    add_tenant(uow_factory, "ten_a")
    methods = (
        PaymentMethod(
            id="pm_01",
            psp="stripe",
            token="pm_card_visa",
            type=PaymentMethodType.CARD,
            create_time=CREATED,
        ),
        PaymentMethod(
            id="pm_02",
            psp="adyen",
            token="tok_sepa_Üñï",
            type=PaymentMethodType.BANK_ACCOUNT,
            # Stored with an offset; read back as the same instant in UTC.
            create_time=datetime(2024, 3, 1, 5, 30, 0, 999999, tzinfo=timezone(timedelta(hours=5))),
        ),
    )
    customer = Customer(
        id="cus_01",
        tenant_id="ten_a",
        display_name="Ada Lovelace & Co. \u00e9",
        email="ada@example.com",
        currency_code="EUR",
        billing_address=PostalAddress(
            line1="1 Analytical Way",
            line2="Floor 2",
            city="London",
            region="LND",
            postal_code="N1 9GU",
            country_code="GB",
        ),
        tax_location=TaxLocation(country_code="GB", region_code="ENG", postal_code="N1 9GU"),
        time_zone="Europe/London",
        metadata={"crm": "42", "ünïcode": "✓"},
        payment_methods=methods,
        default_payment_method_id="pm_02",
        state=LifecycleState.ARCHIVED,
        create_time=CREATED,
        update_time=UPDATED,
    )
    with uow_factory(write=True) as uow:
        uow.customers.add(customer)
        uow.commit()

    with uow_factory(write=False) as uow:
        loaded = uow.customers.get("ten_a", "cus_01")
        listed = uow.customers.list("ten_a", EVERYTHING, show_archived=True, email="")

    assert loaded == customer
    assert listed == [customer]
    assert loaded is not None
    stamps = [
        loaded.create_time,
        loaded.update_time,
        *(method.create_time for method in loaded.payment_methods),
    ]
    assert all(stamp.utcoffset() == timedelta(0) for stamp in stamps)
    assert loaded.create_time.microsecond == 123456
    assert loaded.update_time.microsecond == 1
    assert loaded.payment_methods[1].create_time == datetime(
        2024, 3, 1, 0, 30, 0, 999999, tzinfo=UTC
    )


def test_customer_without_optional_parts_round_trips(uow_factory: SqlUnitOfWorkFactory) -> None:
    add_tenant(uow_factory, "ten_a")
    customer = bare_customer("ten_a", "cus_02")
    with uow_factory(write=True) as uow:
        uow.customers.add(customer)
        uow.commit()

    with uow_factory(write=False) as uow:
        assert uow.customers.get("ten_a", "cus_02") == customer


def test_detached_payment_method_is_no_longer_read_but_is_kept(
    engine: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    add_tenant(uow_factory, "ten_a")
    method = PaymentMethod("pm_01", "stripe", "tok", PaymentMethodType.WALLET, CREATED)
    with uow_factory(write=True) as uow:
        uow.customers.add(
            replace(
                bare_customer("ten_a", "cus_01"),
                payment_methods=(method,),
                default_payment_method_id="pm_01",
            )
        )
        uow.customers.detach_payment_method("ten_a", "pm_01", when=UPDATED)
        uow.commit()

    with uow_factory(write=False) as uow:
        loaded = uow.customers.get("ten_a", "cus_01")
    assert loaded is not None
    assert loaded.payment_methods == ()
    assert count(engine, t.payment_methods) == 1


def test_unit_of_work_without_commit_writes_nothing(
    engine: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    with uow_factory(write=True) as uow:
        uow.tenants.add(Tenant(id="ten_a", name="a", create_time=CREATED))
        uow.products.add(product("ten_a", "prod_1"))
        # Visible inside its own transaction...
        assert uow.products.get("ten_a", "prod_1") is not None
        # ...but never committed.

    with uow_factory(write=False) as uow:
        assert uow.tenants.get("ten_a") is None
        assert uow.products.get("ten_a", "prod_1") is None
    assert count(engine, t.tenants) == 0
    assert count(engine, t.products) == 0


def test_unit_of_work_left_by_an_exception_writes_nothing(
    engine: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    add_tenant(uow_factory, "ten_a")
    with pytest.raises(RuntimeError, match="boom"), uow_factory(write=True) as uow:
        uow.products.add(product("ten_a", "prod_1"))
        raise RuntimeError("boom")

    assert count(engine, t.products) == 0
    # The connection went back to the pool in a usable state.
    with uow_factory(write=True) as uow:
        uow.products.add(product("ten_a", "prod_1"))
        uow.commit()
    assert count(engine, t.products) == 1


def test_product_of_one_tenant_is_invisible_to_another(uow_factory: SqlUnitOfWorkFactory) -> None:
    add_tenant(uow_factory, "ten_a")
    add_tenant(uow_factory, "ten_b")
    with uow_factory(write=True) as uow:
        uow.products.add(product("ten_a", "prod_1"))
        uow.commit()

    with uow_factory(write=False) as uow:
        assert uow.products.get("ten_a", "prod_1") == product("ten_a", "prod_1")
        assert uow.products.get("ten_b", "prod_1") is None
        assert uow.products.get("ten_b", "prod_1", for_update=True) is None
        assert uow.products.list("ten_b", EVERYTHING, show_archived=True) == []
        assert [p.id for p in uow.products.list("ten_a", EVERYTHING, show_archived=True)] == [
            "prod_1"
        ]


def test_same_product_id_in_two_tenants_are_two_products(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    add_tenant(uow_factory, "ten_a")
    add_tenant(uow_factory, "ten_b")
    with uow_factory(write=True) as uow:
        uow.products.add(product("ten_a", "prod_1"))
        uow.products.add(product("ten_b", "prod_1"))
        uow.commit()

    with uow_factory(write=False) as uow:
        a = uow.products.get("ten_a", "prod_1")
        b = uow.products.get("ten_b", "prod_1")
    assert a is not None and a.tenant_id == "ten_a"
    assert b is not None and b.tenant_id == "ten_b"


def test_product_list_pages_in_id_order(uow_factory: SqlUnitOfWorkFactory) -> None:
    add_tenant(uow_factory, "ten_a")
    add_tenant(uow_factory, "ten_b")
    ids = ["prod_3", "prod_1", "prod_5", "prod_2", "prod_4"]
    with uow_factory(write=True) as uow:
        for product_id in ids:  # inserted out of order on purpose
            uow.products.add(product("ten_a", product_id))
        uow.products.add(product("ten_b", "prod_0"))
        uow.commit()

    seen: list[str] = []
    after = ""
    with uow_factory(write=False) as uow:
        while True:
            # A repository fetches one row more than the page, to know whether another follows.
            page_request = PageRequest(size=2, after_id=after, query_fingerprint="")
            fetched = uow.products.list("ten_a", page_request, show_archived=True)
            assert [p.id for p in fetched] == sorted(p.id for p in fetched)
            page = fetched[:2]
            seen.extend(p.id for p in page)
            if len(fetched) <= 2:
                break
            after = page[-1].id
    assert seen == sorted(ids)


def test_a_transient_database_conflict_becomes_a_retryable_error(database_url: str) -> None:
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from accrue.kernel.errors import ConcurrentModification

    engine = build_engine(database_url)
    migrate.upgrade(engine)
    factory = SqlUnitOfWorkFactory(engine)
    with pytest.raises(ConcurrentModification) as caught, factory(write=True):
        raise OperationalError("COMMIT", {}, sqlite3.OperationalError("database is locked"))
    assert caught.value.retry_after_seconds is not None
    with pytest.raises(OperationalError), factory(write=True):
        raise OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x"))
    engine.dispose()


def test_a_stored_response_is_written_with_or_without_events_and_only_on_commit(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """On PostgreSQL a stored response waits for the commit's statement (the events'
    insert); a unit of work that recorded no event, or that is rolled back, must still
    store it, respectively store nothing."""
    add_tenant(uow_factory, "ten_r")
    stored = StoredResponse(method="/m", fingerprint="f" * 64, response=b"\x00\x01answer")
    with uow_factory(write=True) as uow:
        uow.idempotency.add("ten_r", "committed", stored, create_time=CREATED)
        uow.commit()
    with uow_factory(write=True) as uow:
        uow.idempotency.add("ten_r", "rolled-back", stored, create_time=CREATED)
    with uow_factory(write=False) as uow:
        assert uow.idempotency.get("ten_r", "committed") == stored
        assert uow.idempotency.get("ten_r", "rolled-back") is None


def test_a_lookup_by_many_ids_is_one_statement_text_whatever_the_count(
    uow_factory: SqlUnitOfWorkFactory, engine: Engine
) -> None:
    """Batch reads (a bill run's customers, subscriptions, lines, entries) find
    exactly the ids asked for, of their tenant only; on PostgreSQL the ids go
    as one array, so the text is prepared once rather than parsed per length."""
    add_tenant(uow_factory, "ten_m")
    add_tenant(uow_factory, "ten_other")
    with uow_factory(write=True) as uow:
        for i in range(300):
            uow.customers.add(bare_customer("ten_m", f"cus_{i:03}"))
        uow.customers.add(bare_customer("ten_other", "cus_001"))
        uow.commit()

    asked = [[f"cus_{i:03}" for i in range(n)] + ["cus_missing"] for n in (1, 3, 300)]
    with count_statements(engine) as counted, uow_factory(write=False) as uow:
        found = [uow.customers.get_many("ten_m", ids) for ids in asked]
        clocks = uow.customers.test_clock_ids("ten_m", asked[1])
    assert [sorted(each) for each in found] == [sorted(ids[:-1]) for ids in asked]
    assert {c.tenant_id for each in found for c in each.values()} == {"ten_m"}
    assert clocks == {"cus_000": "", "cus_001": "", "cus_002": ""}
    if engine.dialect.name == "postgresql":
        customer_reads = [s for s in counted.sql if "FROM customers" in s]
        assert len(set(customer_reads)) == 2, counted.describe()  # get_many, test_clock_ids
        assert all(len(s) < 1000 for s in counted.sql), counted.describe()
