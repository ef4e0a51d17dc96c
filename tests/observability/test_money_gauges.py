"""The money-path gauges read the database as it is, and the rest of the machinery in isolation."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import create_engine

from accrue.bootstrap import build_application
from accrue.config import Settings
from accrue.metrics.pool import PoolMetrics
from accrue.metrics.psp import PspMetrics
from accrue.metrics.rpc import RpcMetrics, code_and_reason
from accrue.metrics.state import Backlog, StateCollector, StateSnapshot
from accrue.payments.psp.in_process import InProcessGateway
from accrue.payments.psp.port import PspOutcomeUnknown, PspRejected
from accrue.payments.psp.simulator import SimulatedPsp
from accrue.platform.clock import FixedClock
from accrue.platform.sampling import KeepErrorsProcessor, RecordAllSampler
from tests.reliability.test_bill_run_workers import SUBSCRIPTIONS, _seed

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    found = registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def test_due_subscriptions_and_their_age_follow_the_bill_run(tmp_path: Path) -> None:
    clock = FixedClock(NOW)
    app = build_application(
        Settings(database_url=f"sqlite:///{tmp_path / 'a.db'}", metrics_state_refresh_seconds=0),
        clock=clock,
    )
    try:
        registry = app.metrics.registry
        assert _value(registry, "accrue_subscriptions_due_unbilled") == 0
        _tenants, seeded = _seed(app, NOW)
        assert _value(registry, "accrue_subscriptions_due_unbilled") == SUBSCRIPTIONS
        # The oldest started 95 days (+ up to 10 h) ago; its first renewal was due a month later.
        oldest = min(s.subscription.current_period.end for s in seeded)
        age = _value(registry, "accrue_subscriptions_due_unbilled_oldest_age_seconds")
        assert age == (NOW - oldest).total_seconds()
        assert timedelta(days=60) < timedelta(seconds=age) < timedelta(days=70)
        batch = app.bill_run.run_batch(limit=50)
        assert batch.claimed == 50
        assert _value(registry, "accrue_subscriptions_due_unbilled") == SUBSCRIPTIONS - 50
        assert _value(registry, "accrue_sequencing_lag_rows", stream="ledger") == 0
        assert _value(registry, "accrue_payments_unknown") == 0
    finally:
        app.close()


def test_a_failing_state_query_is_reported_not_raised() -> None:
    class Broken:
        def snapshot(self, now: datetime) -> StateSnapshot:
            raise ConnectionError("database gone")

    registry = CollectorRegistry()
    registry.register(StateCollector(Broken(), lambda: NOW, refresh_seconds=0))
    assert _value(registry, "accrue_state_up") == 0
    assert registry.get_sample_value("accrue_payments_unknown") is None


def test_another_area_can_report_its_backlog() -> None:
    class Empty:
        def snapshot(self, now: datetime) -> StateSnapshot:
            return StateSnapshot(Backlog(0, 0), Backlog(0, 0), {}, {})

    registry = CollectorRegistry()
    collector = StateCollector(Empty(), lambda: NOW, refresh_seconds=0)
    registry.register(collector)
    assert registry.get_sample_value("accrue_backlog", {"queue": "webhooks"}) is None
    collector.add_backlog("webhooks", lambda now: Backlog(7, 42.0))
    assert _value(registry, "accrue_backlog", queue="webhooks") == 7
    assert _value(registry, "accrue_backlog_oldest_age_seconds", queue="webhooks") == 42


def test_psp_requests_retries_and_outcomes_are_counted_once_per_charge() -> None:
    registry = CollectorRegistry()
    metrics = PspMetrics(registry)
    gateway = metrics.wrap(InProcessGateway(SimulatedPsp(FixedClock(NOW))))

    def charge(key: str, token: str) -> object:
        return gateway.charge(
            idempotency_key=key,
            token=token,
            amount_minor=100,
            currency_code="USD",
            metadata={},
        )

    charge("k1", "tok_visa")
    charge("k1", "tok_visa")  # a resend of the same key: a retry, the same payment
    charge("k2", "tok_fraud")
    with pytest.raises(PspRejected):
        charge("k3", "not-a-token")
    for _ in range(3):
        with pytest.raises(PspOutcomeUnknown):
            charge("k4", "tok_5xx")
    assert gateway.retrieve_charge("k1") is not None
    assert gateway.retrieve_charge("nope") is None

    def requests(operation: str, result: str) -> float:
        return _value(
            registry,
            "accrue_psp_requests_total",
            psp="simulated",
            operation=operation,
            result=result,
        )

    assert requests("charge", "ok") == 2
    assert requests("charge", "declined") == 1
    assert requests("charge", "rejected") == 1
    assert requests("charge", "unknown") == 3
    assert requests("retrieve_charge", "ok") == 1
    assert requests("retrieve_charge", "not_found") == 1
    assert _value(registry, "accrue_psp_retries_total", psp="simulated", operation="charge") == 3
    payments = {
        outcome: _value(registry, "accrue_payments_total", psp="simulated", outcome=outcome)
        for outcome in ("succeeded", "declined", "rejected")
    }
    assert payments == {"succeeded": 1, "declined": 1, "rejected": 1}
    assert (
        _value(
            registry,
            "accrue_psp_request_duration_seconds_count",
            psp="simulated",
            operation="charge",
        )
        == 7
    )


def test_outcomes_map_to_bounded_codes_and_reasons() -> None:
    assert code_and_reason("OK") == ("OK", "")
    assert code_and_reason("RATE_LIMITED") == ("RESOURCE_EXHAUSTED", "RATE_LIMITED")
    assert code_and_reason("PSP_UNAVAILABLE") == ("UNAVAILABLE", "PSP_UNAVAILABLE")
    assert code_and_reason("cus_01HZY-not-a-reason") == ("UNKNOWN", "OTHER")
    registry = CollectorRegistry()
    rpc = RpcMetrics(registry)
    rpc.begin("pkg.Svc/Method", "grpc").end("something-unbounded-42", "", 0.01)
    text = generate_latest(registry).decode()
    assert "something-unbounded-42" not in text
    assert 'reason="OTHER"' in text


def test_sampling_keeps_the_ratio_and_every_error() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=RecordAllSampler(0.0))
    provider.add_span_processor(KeepErrorsProcessor(SimpleSpanProcessor(exporter)))
    tracer = provider.get_tracer("test")
    for _ in range(20):
        with tracer.start_as_current_span("fine") as span:
            assert span.get_span_context().trace_id  # recorded: ids for logs and exemplars
    with tracer.start_as_current_span("broken") as span:
        span.set_status(Status(StatusCode.ERROR, "boom"))
    assert [s.name for s in exporter.get_finished_spans()] == ["broken"]

    exporter.clear()
    everything = TracerProvider(sampler=RecordAllSampler(1.0))
    everything.add_span_processor(KeepErrorsProcessor(SimpleSpanProcessor(exporter)))
    for _ in range(5):
        with everything.get_tracer("test").start_as_current_span("fine"):
            pass
    assert len(exporter.get_finished_spans()) == 5


def test_pool_shows_use_saturation_and_waiters(tmp_path: Path) -> None:
    engine = create_engine(
        f"sqlite:///{tmp_path / 'pool.db'}", pool_size=1, max_overflow=0, pool_timeout=10
    )
    registry = CollectorRegistry()
    PoolMetrics(registry).watch(engine)
    held = engine.connect()
    waiter = threading.Thread(target=lambda: engine.connect().close())
    try:
        assert _value(registry, "accrue_db_pool_in_use") == 1
        assert _value(registry, "accrue_db_pool_saturated") == 1
        waiter.start()
        deadline = time.monotonic() + 5
        while _value(registry, "accrue_db_pool_waiting") != 1:
            assert time.monotonic() < deadline, "the waiting thread was never seen"
            time.sleep(0.01)
    finally:
        held.close()
        waiter.join(10)
        engine.dispose()
    assert _value(registry, "accrue_db_pool_waiting") == 0
    assert _value(registry, "accrue_db_pool_checkouts_total") == 2
