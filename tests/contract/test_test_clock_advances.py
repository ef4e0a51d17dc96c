"""Asynchronous test-clock advances, through the public API over both transports.

AdvanceTestClock answers at once with the clock ADVANCING; a runner in the
server does the work in batches and the clock becomes READY (or FAILED with the
failed step's typed error and the time reached). GetTestClock shows progress.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from accrue.billing.v1 import event_pb2 as evt
from accrue.billing.v1 import test_clock_pb2 as clk
from accrue.kernel.errors import AmountOutOfRange
from accrue.subscriptions.billing import SubscriptionBilling
from accrue.test_clocks.service import TestClockRunner
from tests.conftest import Transport
from tests.contract.billing_steps import CLOCKS, Scenario, rid, stamp, utc, when
from tests.support import ConnectClients, GrpcClients, RunningServer, running_server

pytestmark = pytest.mark.timeout(120)

ADVANCING, READY = clk.TestClock.STATE_ADVANCING, clk.TestClock.STATE_READY
FAILED = clk.TestClock.STATE_FAILED
START = utc(2026, 1, 1)
TRANSPORTS = ["grpc", "connect"]


def advance(s: Scenario, to: datetime, *, wait: bool = False, request_id: str = "") -> Any:
    request = clk.AdvanceTestClockRequest(
        id=s.clock.id, frozen_time=stamp(to), request_id=request_id or rid(), wait=wait
    )
    return s.call(CLOCKS, "AdvanceTestClock", request)


def get(s: Scenario) -> clk.TestClock:
    return s.call(CLOCKS, "GetTestClock", clk.GetTestClockRequest(id=s.clock.id))


def settled(s: Scenario, timeout: float = 30.0) -> clk.TestClock:
    """Poll GetTestClock until the advance is over."""
    deadline = time.monotonic() + timeout
    while True:
        clock = get(s)
        if clock.state != ADVANCING:
            return clock
        assert time.monotonic() < deadline, f"still advancing: {clock}"
        time.sleep(0.05)


def clock_events(s: Scenario) -> list[str]:
    page = s.call(
        "accrue.billing.v1.EventService",
        "ListEvents",
        evt.ListEventsRequest(page_size=1000, types=["test_clock.ready", "test_clock.failed"]),
    )
    return [e.type for e in page.events if e.resource_id == s.clock.id]


def monthly(s: Scenario, subscriptions: int, amount: int = 1000) -> list[str]:
    customer = s.customer()
    price = s.price(amount)
    return [s.subscribe(customer.id, price.id).id for _ in range(subscriptions)]


def invoice_facts(s: Scenario) -> list[tuple[str, int, int, int]]:
    return sorted(
        (i.number, i.period_start.seconds, i.period_end.seconds, i.total.amount_minor)
        for i in s.invoices()
    )


def test_advance_answers_at_once_then_becomes_ready_with_progress(rpc: Transport) -> None:
    s = Scenario(rpc, START)
    monthly(s, 3)
    to = utc(2027, 1, 1)

    started = advance(s, to)
    assert started.state == ADVANCING
    assert when(started.target_time) == to
    assert when(started.frozen_time) == START
    assert started.advance_work_items_run == 0

    done = settled(s)
    assert done.state == READY
    assert when(done.frozen_time) == to
    assert not done.HasField("target_time") and not done.HasField("failure")
    assert done.advance_work_items_run == 3 * 12  # twelve renewals each
    assert done.work_items_run == 36
    assert len(s.invoices()) == 3 * 13  # the first invoices and twelve renewals each
    assert clock_events(s) == ["test_clock.ready"]


def test_wait_answers_when_done_and_a_retry_replays_without_running_twice(
    rpc: Transport,
) -> None:
    s = Scenario(rpc, START)
    monthly(s, 2)
    key = rid()
    first = advance(s, utc(2026, 7, 1), wait=True, request_id=key)
    assert (first.state, when(first.frozen_time)) == (READY, utc(2026, 7, 1))
    assert first.advance_work_items_run == 12
    before = invoice_facts(s)

    # The same request again - waiting or not - changes nothing and is not refused.
    again = advance(s, utc(2026, 7, 1), request_id=key)
    assert again.state == ADVANCING and when(again.target_time) == utc(2026, 7, 1)
    assert advance(s, utc(2026, 7, 1), wait=True, request_id=key).state == READY
    assert invoice_facts(s) == before
    assert get(s).work_items_run == 12

    # The same key for another target is refused.
    reused = s.fail(
        CLOCKS,
        "AdvanceTestClock",
        clk.AdvanceTestClockRequest(
            id=s.clock.id, frozen_time=stamp(utc(2026, 8, 1)), request_id=key
        ),
    )
    assert (reused.code, reused.reason) == ("INVALID_ARGUMENT", "IDEMPOTENCY_KEY_REUSED")


def test_a_failing_step_stops_the_clock_with_its_error_and_the_time_reached(
    rpc: Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = Scenario(rpc, START)
    monthly(s, 1)
    # Deterministic fault: the renewal of May 1 raises, as an out-of-range amount would.
    breaking = utc(2026, 5, 1)
    plan_step = SubscriptionBilling.plan_step

    def failing(self: SubscriptionBilling, customer: Any, sub: Any, work: Any, **kw: Any) -> Any:
        if sub.test_clock_id == s.clock.id and work.at >= breaking:
            raise AmountOutOfRange("the renewal's amount is out of range")
        return plan_step(self, customer, sub, work, **kw)

    monkeypatch.setattr(SubscriptionBilling, "plan_step", failing)
    stopped = advance(s, utc(2026, 12, 1), wait=True)
    assert stopped.state == FAILED
    assert stopped.failure.reason == "AMOUNT_OUT_OF_RANGE"
    assert "out of range" in stopped.failure.message
    assert when(stopped.failure.step_time) == breaking
    assert when(stopped.frozen_time) == utc(2026, 4, 1)  # the last renewal done
    assert stopped.advance_work_items_run == 3
    assert when(stopped.target_time) == utc(2026, 12, 1)
    assert len(s.invoices()) == 4
    assert clock_events(s) == ["test_clock.failed"]

    # Fixed, the clock advances again from where it stopped.
    monkeypatch.setattr(SubscriptionBilling, "plan_step", plan_step)
    done = advance(s, utc(2026, 12, 1), wait=True)
    assert (done.state, when(done.frozen_time)) == (READY, utc(2026, 12, 1))
    assert not done.HasField("failure")
    assert len(s.invoices()) == 12
    assert clock_events(s) == ["test_clock.failed", "test_clock.ready"]


# -- a server whose runner is held, so an advance stays ADVANCING -------------------


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    path = tmp_path_factory.mktemp("held") / "accrue.db"
    with running_server(f"sqlite:///{path}") as running:
        assert running.app.test_clock_runner is not None
        running.app.test_clock_runner.stop()
        yield running


def transport(server: RunningServer, name: str, key: str = "") -> Transport:
    key = key or server.new_tenant()
    if name == "grpc":
        return Transport(name, GrpcClients(server.grpc_target, key))
    return Transport(name, ConnectClients(server.connect_url, key))


def runner_of(server: RunningServer) -> TestClockRunner:
    assert server.app.test_clock_runner is not None
    return TestClockRunner(server.app.test_clock_runner.clocks)


@pytest.mark.parametrize("name", TRANSPORTS)
def test_a_second_advance_while_one_runs_is_refused(held: RunningServer, name: str) -> None:
    rpc = transport(held, name)
    s = Scenario(rpc, START)
    monthly(s, 2)
    assert advance(s, utc(2026, 6, 1)).state == ADVANCING
    refused = s.fail(
        CLOCKS,
        "AdvanceTestClock",
        clk.AdvanceTestClockRequest(
            id=s.clock.id, frozen_time=stamp(utc(2026, 9, 1)), request_id=rid()
        ),
    )
    assert (refused.code, refused.reason) == ("FAILED_PRECONDITION", "TEST_CLOCK_ADVANCING")
    assert get(s).state == ADVANCING and when(get(s).frozen_time) == START

    runner_of(held).run_until_idle()
    done = get(s)
    assert (done.state, when(done.frozen_time), done.advance_work_items_run) == (
        READY,
        utc(2026, 6, 1),
        10,
    )
    assert advance(s, utc(2026, 9, 1)).state == ADVANCING
    rpc.clients.close()


@pytest.mark.parametrize("name", TRANSPORTS)
@pytest.mark.parametrize("stop_after", [3])
def test_a_restart_mid_advance_resumes_to_the_same_invoices(
    database_url: str, name: str, stop_after: int
) -> None:
    url = database_url
    to = utc(2027, 7, 1)
    with running_server(url, test_clock_batch_steps=7) as first:  # many small batches
        assert first.app.test_clock_runner is not None
        first.app.test_clock_runner.stop()
        key = first.new_tenant()
        reference = Scenario(transport(first, name), START)
        monthly(reference, 4)
        interrupted = Scenario(transport(first, name, key), START)
        monthly(interrupted, 4)
        runner = runner_of(first)
        advance(reference, to)
        runner.run_until_idle()
        assert settled(reference).state == READY
        reference_facts = invoice_facts(reference)

        advance(interrupted, to)
        clocks = first.app.test_clock_runner.clocks
        tenant_id = first.tenant_of(key)
        for _ in range(stop_after):  # the seeded point: after this many committed batches
            assert clocks.advance_batch(tenant_id, interrupted.clock.id)
        part = get(interrupted)
        assert part.state == ADVANCING
        assert 0 < part.advance_work_items_run < 4 * 18
        reference.rpc.clients.close()
        interrupted.rpc.clients.close()
    with running_server(url, test_clock_batch_steps=7) as second:  # its runner picks the advance up
        interrupted.rpc = transport(second, name, key)
        done = settled(interrupted)
        assert (done.state, when(done.frozen_time)) == (READY, to)
        assert done.advance_work_items_run == 4 * 18
        assert invoice_facts(interrupted) == reference_facts
        interrupted.rpc.clients.close()


def test_runners_side_by_side_share_one_advance_and_bill_each_period_once(
    database_url: str,
) -> None:
    """Three runners (as three processes would) on one advancing clock: each batch
    locks the clock, so they take turns and every period is billed exactly once."""
    with running_server(database_url, test_clock_batch_steps=5) as server:
        assert server.app.test_clock_runner is not None
        server.app.test_clock_runner.stop()
        s = Scenario(transport(server, "grpc"), START)
        ids = monthly(s, 3)
        advance(s, utc(2027, 1, 1))
        runners = [runner_of(server) for _ in range(3)]
        threads = [threading.Thread(target=r.run_until_idle) for r in runners]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        done = get(s)
        assert (done.state, done.advance_work_items_run) == (READY, 36)
        for sub_id in ids:
            periods = [i.period_start.seconds for i in s.invoices(subscription_id=sub_id)]
            assert len(periods) == 13 == len(set(periods))
        s.rpc.clients.close()
