"""Inside the area packages (webhooks, relay, usage, entitlements, policies), imports point
inwards too:
model <- ports/use cases <- adapters/handlers/entry points."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_layering import _imports

SRC = Path(__file__).resolve().parents[2] / "src" / "accrue"
OUTER = (
    "grpc",
    "connectrpc",
    "sqlalchemy",
    "alembic",
    "google",
    "nats",
    "accrue.billing",
    "accrue.platform.transport",
    "accrue.platform.db",
)
RULES = {
    "webhooks/model.py": (*OUTER, "accrue.ports", "accrue.webhooks"),
    "webhooks/ports.py": OUTER,
    "webhooks/service.py": OUTER,
    "webhooks/dispatcher.py": OUTER,
    "relay/ports.py": OUTER,
    "relay/relay.py": OUTER,
    "usage/model.py": (*OUTER, "accrue.usage"),
    "usage/ports.py": OUTER,
    "usage/service.py": OUTER,
    "usage/periods.py": OUTER,
    "usage/pricing.py": OUTER,
    "usage/billing.py": OUTER,
    "entitlements/model.py": (*OUTER, "accrue.entitlements"),
    "entitlements/ports.py": OUTER,
    "entitlements/resolver.py": OUTER,
    "entitlements/service.py": OUTER,
    "entitlements/thresholds.py": OUTER,
    "policies/model.py": (*OUTER, "accrue.policies", "accrue.entitlements"),
    "policies/ports.py": OUTER,
    "policies/service.py": OUTER,
    "policies/guard.py": OUTER,
}


@pytest.mark.parametrize("module", sorted(RULES))
def test_area_model_and_use_cases_do_not_import_outer_layers(module: str) -> None:
    bad = [
        name
        for name in _imports(SRC / module)
        if any(name == b or name.startswith(b + ".") for b in RULES[module])
    ]
    assert bad == []
