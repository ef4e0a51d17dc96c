"""Imports point inwards and areas talk in one allowed order, so the layout cannot decay.

kernel <- platform <- areas (in the order of `MAY_IMPORT`) <- composition
(`bootstrap`, `ports`, `unit_of_work`, `schema`, `payloads`, entry points).
Inside an area, model modules are pure: they import the standard library, the
kernel and other model modules, never a framework, the database or generated
code. Each rule is checked by `violations`, which a self-test below drives
with synthetic violations so the checker itself cannot silently pass.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "accrue"

# Generated code (protoc's absolute imports) lives at these import roots.
GENERATED = ("accrue.billing", "accrue.events", "buf")
FRAMEWORKS = (
    "grpc",
    "connectrpc",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "google",
    "opentelemetry",
    "nats",
    "httpx",
    "fpdf",
)

# Which area may import which (besides kernel and platform, which every area
# may use). The table must stay acyclic; `test_allowed_order_is_acyclic` checks it.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "tenancy": frozenset(),
    "event_log": frozenset(),
    "catalog": frozenset({"event_log"}),
    "customers": frozenset({"event_log"}),
    "ledger": frozenset({"event_log"}),
    "invoicing": frozenset({"event_log", "catalog", "customers", "ledger"}),
    "payments": frozenset({"event_log", "catalog", "customers", "ledger", "invoicing"}),
    "subscriptions": frozenset(
        {"event_log", "catalog", "customers", "ledger", "invoicing", "payments"}
    ),
    "test_clocks": frozenset(
        {"event_log", "catalog", "customers", "ledger", "invoicing", "payments", "subscriptions"}
    ),
    "reconciliation": frozenset({"tenancy", "event_log", "catalog", "ledger", "payments"}),
    "webhooks": frozenset({"event_log"}),
    "relay": frozenset({"tenancy", "event_log"}),
    "usage": frozenset({"tenancy", "event_log", "catalog", "invoicing", "subscriptions"}),
    "entitlements": frozenset({"event_log", "catalog", "customers", "subscriptions", "usage"}),
    "policies": frozenset(
        {"tenancy", "event_log", "catalog", "customers", "subscriptions", "usage", "entitlements"}
    ),
}
AREAS = frozenset(MAY_IMPORT)

# The combined unit of work is composition. Most areas type their use cases
# with their own narrow unit-of-work protocol (in their ports.py); the
# cross-area flows (bill run, test-clock runner, reconciliation import) still
# use the combined one, the one top-level module an area may import.
AREA_MAY_USE_FROM_TOP = frozenset({"accrue.ports"})

# Entry points that live in their area and build the application to run.
ENTRY_POINTS = frozenset(
    {
        "ledger/cli.py",
        "reconciliation/cli.py",
        "relay/main.py",
        "payments/psp/simulator_server.py",
    }
)

# Pure model modules: the rules of each area, importable without any framework.
MODEL_MODULES = frozenset(
    {
        "tenancy/model.py",
        "catalog/model.py",
        "customers/model.py",
        "ledger/model.py",
        "ledger/checkpoints.py",
        "invoicing/model.py",
        "invoicing/proration.py",
        "invoicing/line_text.py",
        "invoicing/tax.py",
        "invoicing/postings.py",
        "invoicing/documents/model.py",
        "invoicing/documents/page_links.py",
        "subscriptions/model.py",
        "subscriptions/charges.py",
        "test_clocks/model.py",
        "payments/model.py",
        "payments/postings.py",
        "payments/dunning.py",
        "reconciliation/matching.py",
        "reconciliation/breaks.py",
        "reconciliation/runs.py",
        "reconciliation/settlement.py",
        "webhooks/model.py",
        "usage/model.py",
        "usage/pricing.py",
        "subscriptions/guard.py",
        "entitlements/model.py",
        "policies/model.py",
    }
)

# Use cases and ports: no transport, no database driver, no generated code.
USE_CASE_NAMES = ("service.py", "ports.py", "use_cases.py")
# Handlers convert, call a use case and convert back: the use case owns the
# transaction, so a handler module reaches no unit of work, table or repository.
HANDLER_NAMES = ("handlers.py",)
HANDLERS_MAY_NOT_USE = ("sqlalchemy", "psycopg", "accrue.ports", "accrue.unit_of_work")
HANDLERS_MAY_NOT_USE_MODULES = ("repository", "tables", "unit_of_work")


def _imports(path: Path) -> set[str]:
    """Every module an import statement of `path` names (used by test_area_layering)."""
    return {name for _, names in _statements(path) for name in names}


def _statements(path: Path) -> list[tuple[int, list[str]]]:
    """(line, names) per import statement; `from p import x` names p and p.x."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((node.lineno, [alias.name]))
        elif isinstance(node, ast.ImportFrom) and node.module:
            # `from accrue.x import module`: the imported name may be a module.
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            found.append((node.lineno, [node.module, *names]))
    return sorted(found)


def _under(name: str, roots: tuple[str, ...] | frozenset[str]) -> bool:
    return any(name == root or name.startswith(root + ".") for root in roots)


def _owner(name: str) -> str | None:
    """The first package under `accrue` an import names (None for non-accrue)."""
    parts = name.split(".")
    if parts[0] != "accrue" or len(parts) < 2:
        return None
    return parts[1]


def _module_of_file(relative: str) -> str:
    return "accrue." + relative.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def violations(root: Path) -> list[str]:
    """Every import in `root` (a tree shaped like src/accrue) that breaks a rule."""
    model_modules = {_module_of_file(m) for m in MODEL_MODULES}
    found = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        top = relative.split("/")[0]
        for line, names in _statements(path):
            problems = [p for p in (_judge(relative, top, n, model_modules) for n in names) if p]
            if problems:
                found.append(f"{relative}:{line} imports {names[-1]}: {problems[0]}")
    return found


def _judge(relative: str, top: str, name: str, model_modules: set[str]) -> str | None:
    # A `from pkg import name` also yields `pkg.name`, which may be a
    # class rather than a module; judge the package a name lives in.
    owner = _owner(name)
    bad = None
    if top == "kernel":
        if _under(name, FRAMEWORKS + GENERATED) or (owner and owner != "kernel"):
            bad = "kernel imports only the standard library and the kernel"
    elif top == "platform":
        if owner in AREAS or (
            owner
            and owner not in ("kernel", "platform", "migrations")
            and not _under(name, GENERATED)
        ):
            bad = "platform imports no area and no composition"
    elif top in AREAS:
        if owner in AREAS and owner != top and owner not in MAY_IMPORT[top]:
            bad = f"{top} may not import {owner} (see MAY_IMPORT)"
        elif (
            owner
            and owner not in AREAS
            and owner not in ("kernel", "platform")
            and not _under(name, GENERATED)
            and not _under(name, AREA_MAY_USE_FROM_TOP)
            and relative not in ENTRY_POINTS
        ):
            bad = f"{top} imports composition ({name})"
    if relative in MODEL_MODULES and bad is None:
        if _under(name, FRAMEWORKS + GENERATED):
            bad = "model modules import no framework, database or generated code"
        elif (
            owner
            and owner != "kernel"
            and not any(_under(name, (m,)) or m.startswith(name + ".") for m in model_modules)
        ):
            bad = "model modules import only the kernel and other model modules"
    if (
        bad is None
        and top in AREAS
        and relative.endswith(USE_CASE_NAMES)
        and _under(name, FRAMEWORKS + GENERATED)
        and not _under(name, ("google.protobuf",))
    ):
        bad = "use cases and ports import no transport, database or generated code"
    if (
        bad is None
        and top in AREAS
        and relative.endswith(HANDLER_NAMES)
        and (
            _under(name, HANDLERS_MAY_NOT_USE)
            or any(part in HANDLERS_MAY_NOT_USE_MODULES for part in name.split(".")[2:])
        )
    ):
        bad = "handlers reach no unit of work, table or repository (the use case owns it)"
    return bad


def test_the_source_tree_follows_every_rule() -> None:
    assert violations(SRC) == []


def test_allowed_order_is_acyclic() -> None:
    done: set[str] = set()
    remaining = dict(MAY_IMPORT)
    while remaining:
        ready = [area for area, uses in remaining.items() if uses <= done]
        assert ready, f"MAY_IMPORT has a cycle among {sorted(remaining)}"
        for area in ready:
            done.add(area)
            del remaining[area]


def test_every_area_package_is_in_the_table() -> None:
    packages = {
        p.name
        for p in SRC.iterdir()
        if p.is_dir() and (p / "__init__.py").exists()
        if p.name not in ("kernel", "platform", "billing", "events", "migrations", "metrics")
    }
    assert packages == AREAS


def test_listed_modules_exist() -> None:
    missing = sorted(m for m in MODEL_MODULES | ENTRY_POINTS if not (SRC / m).exists())
    assert missing == []


def _write(root: Path, relative: str, source: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)


@pytest.mark.parametrize(
    ("relative", "source", "expected"),
    [
        ("kernel/money.py", "from accrue.catalog.model import Price\n", "kernel imports only"),
        ("kernel/money.py", "import sqlalchemy\n", "kernel imports only"),
        ("platform/db/engine.py", "from accrue.payments import tables\n", "platform imports no"),
        ("platform/errors.py", "from accrue.bootstrap import build\n", "platform imports no"),
        ("catalog/service.py", "from accrue.payments.model import Payment\n", "catalog may not"),
        ("invoicing/issuing.py", "from accrue.subscriptions import model\n", "invoicing may not"),
        ("payments/engine.py", "from accrue.bootstrap import build\n", "imports composition"),
        ("catalog/model.py", "from sqlalchemy import Table\n", "model modules import no"),
        (
            "catalog/model.py",
            "from accrue.billing.v1 import price_pb2\n",
            "model modules import no",
        ),
        ("catalog/model.py", "from accrue.catalog import tables\n", "model modules import only"),
        ("ledger/service.py", "import grpc\n", "use cases and ports import no"),
        ("ledger/use_cases.py", "import sqlalchemy\n", "use cases and ports import no"),
        ("ledger/handlers.py", "from accrue.ports import UnitOfWork\n", "handlers reach no"),
        ("customers/handlers.py", "from accrue.customers import repository\n", "handlers reach"),
        ("usage/handlers.py", "from sqlalchemy import select\n", "handlers reach no"),
    ],
)
def test_the_checker_reports_a_violation(
    tmp_path: Path, relative: str, source: str, expected: str
) -> None:
    _write(tmp_path, relative, source)
    found = violations(tmp_path)
    assert len(found) == 1
    assert expected in found[0]


def test_the_checker_accepts_allowed_imports(tmp_path: Path) -> None:
    _write(tmp_path, "kernel/money.py", "from accrue.kernel.errors import ValidationFailed\n")
    _write(tmp_path, "platform/db/engine.py", "import sqlalchemy\nfrom accrue.kernel import ids\n")
    _write(tmp_path, "payments/engine.py", "from accrue.invoicing.model import Invoice\n")
    _write(tmp_path, "subscriptions/model.py", "from accrue.invoicing.model import Invoice\n")
    _write(tmp_path, "relay/main.py", "from accrue.bootstrap import build_application\n")
    assert violations(tmp_path) == []
