"""The alert and recording rules in deploy/prometheus are valid and behave.

`promtool check rules` checks them; `promtool test rules` runs their unit
tests (deploy/prometheus/tests), whose input series show the burn-rate
alerts firing on an outage and staying quiet on a healthy service.
"""

from __future__ import annotations

import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from accrue.bootstrap import build_application
from accrue.config import Settings
from accrue.metrics.state import Backlog
from tests.observability.prometheus_tools import binary

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus"

pytestmark = pytest.mark.timeout(60)


def test_rules_pass_promtool_check() -> None:
    promtool = binary("promtool")
    result = subprocess.run(
        [promtool, "check", "rules", "recording_rules.yml", "alerts.yml"],
        cwd=RULES,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rule_unit_tests_pass() -> None:
    promtool = binary("promtool")
    tests = sorted(str(p.relative_to(RULES)) for p in (RULES / "tests").glob("*.yml"))
    assert tests
    result = subprocess.run(
        [promtool, "test", "rules", *tests],
        cwd=RULES,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_scrape_config_passes_promtool_check() -> None:
    promtool = binary("promtool")
    result = subprocess.run(
        [promtool, "check", "config", "prometheus.yml"],
        cwd=RULES,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_queries_only_metrics_that_exist(tmp_path: Path) -> None:
    """Every metric a dashboard panel plots is exported by a real application
    (with a backlog source registered, as the webhook area would) or recorded
    by the rules."""
    app = build_application(Settings(database_url=f"sqlite:///{tmp_path / 'a.db'}"))
    try:
        app.metrics.add_backlog("webhooks", lambda _now: Backlog(0, 0.0))
        with ThreadPoolExecutor(1) as executor:  # as the server registers its own
            app.metrics.watch_executor("grpc", executor, 1)
            exported = generate_latest(app.metrics.registry).decode()
    finally:
        app.close()
    names = set(re.findall(r"^([a-z_:]+)", exported, re.MULTILINE))
    for declared in re.findall(r"^# HELP ([a-z_:]+)", exported, re.MULTILINE):
        names |= {declared, f"{declared}_bucket", f"{declared}_count", f"{declared}_sum"}
    recorded = set(
        re.findall(r"record: ([a-z0-9_:]+)", (RULES / "recording_rules.yml").read_text())
    )
    dashboard = json.loads((DEPLOY / "grafana" / "accrue.json").read_text())
    exprs = [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]
    assert len(exprs) > 10
    for expr in exprs:
        for name in re.findall(r"\b(accrue[:_][a-z0-9_:]+)", expr):
            assert name in names | recorded, f"{name} in {expr!r} is neither exported nor recorded"
    alerts = (RULES / "alerts.yml").read_text()
    for name in re.findall(r"\b(accrue[:_][a-z0-9_:]+)", alerts):
        assert name in names | recorded, f"{name} in alerts.yml is neither exported nor recorded"
