"""Alembic migrations on SQLite and PostgreSQL: up, down, up again; the models agree."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from accrue.platform.db import migrate
from accrue.platform.db.engine import build_engine
from accrue.schema import metadata
from tests.support import fresh_postgres_database

MODEL_TABLES = set(metadata.tables)


@pytest.fixture
def engine(empty_database_url: str) -> Iterator[Engine]:
    built = build_engine(empty_database_url, pool_size=2)
    yield built
    built.dispose()


def application_tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_migrations_go_up_to_head_down_to_base_and_up_again(engine: Engine) -> None:
    head = migrate.head_revision(engine)
    assert head is not None
    assert application_tables(engine) == set()
    assert migrate.current_revision(engine) is None

    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == head
    assert application_tables(engine) == MODEL_TABLES

    migrate.downgrade(engine, "base")
    assert migrate.current_revision(engine) is None
    assert application_tables(engine) == set()

    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == head
    assert application_tables(engine) == MODEL_TABLES


def test_upgrading_an_up_to_date_database_changes_nothing(engine: Engine) -> None:
    migrate.upgrade(engine)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision(engine)
    assert application_tables(engine) == MODEL_TABLES


def test_migrated_schema_matches_the_table_definitions(engine: Engine) -> None:
    migrate.upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


@contextmanager
def reference_database(empty_database_url: str, tmp_path: Path) -> Iterator[Engine]:
    """A second, empty database of the same kind, built straight from the table definitions."""
    if empty_database_url.startswith("sqlite"):
        built = build_engine(f"sqlite:///{tmp_path / 'reference.db'}", pool_size=1)
        metadata.create_all(built)
        yield built
        built.dispose()
        return
    with fresh_postgres_database(migrated=False) as url:
        built = build_engine(url, pool_size=1)
        metadata.create_all(built)
        yield built
        built.dispose()


def named_schema_objects(engine: Engine) -> dict[str, dict[str, Any]]:
    """Every table's constraint and index names, as the database reports them."""
    inspector = inspect(engine)
    return {
        table: {
            "primary_key": inspector.get_pk_constraint(table)["name"],
            "foreign_keys": sorted(str(fk["name"]) for fk in inspector.get_foreign_keys(table)),
            "unique": sorted(str(uq["name"]) for uq in inspector.get_unique_constraints(table)),
            "checks": sorted(str(ck["name"]) for ck in inspector.get_check_constraints(table)),
            "indexes": sorted(str(ix["name"]) for ix in inspector.get_indexes(table)),
        }
        for table in sorted(MODEL_TABLES)
    }


def test_migrated_constraint_and_index_names_match_the_table_definitions(
    empty_database_url: str, engine: Engine, tmp_path: Path
) -> None:
    # Autogenerate does not compare check constraints or most names, yet later migrations
    # address constraints by name, so the names must be exactly the ones the models produce.
    migrate.upgrade(engine)
    with reference_database(empty_database_url, tmp_path) as reference:
        expected = named_schema_objects(reference)
    assert named_schema_objects(engine) == expected
    assert expected["prices"]["checks"] == ["ck_prices_unit_amount"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCRUE_")}
    return subprocess.run(
        [sys.executable, "-m", "accrue.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_migrate_command_applies_migrations_and_prints_the_head_revision(
    empty_database_url: str, engine: Engine
) -> None:
    head = migrate.head_revision(engine)

    result = run_cli("migrate", "--database-url", empty_database_url)

    assert result.returncode == 0, result.stderr
    assert f"database at revision {head}" in result.stdout
    assert migrate.current_revision(engine) == head
    assert application_tables(engine) == MODEL_TABLES
