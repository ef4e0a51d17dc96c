"""The dispatcher on SQLite and PostgreSQL, with the injected clock and a scripted sender:
fan-out exactly once, retries in time, disable after the retry window, dead
letters redelivered, replay of exactly a range, order held by a failure."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from accrue.bootstrap import Application, build_application
from accrue.config import Settings
from accrue.kernel.ids import IdGenerator
from accrue.kernel.paging import PageRequest
from accrue.platform.clock import FixedClock
from accrue.webhooks.dispatcher import DispatchLimits, WebhookDispatcher
from accrue.webhooks.model import (
    DISABLED_FAILING,
    AddressPolicy,
    AttemptResult,
    DeliveryStatus,
    Ordering,
    RetryPolicy,
)
from accrue.webhooks.ports import Request
from accrue.webhooks.service import NewEndpoint, UrlVetter, WebhookService
from tests.support import settle
from tests.webhook_support import write_customers

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(base=timedelta(minutes=1), cap=timedelta(hours=6), window=timedelta(days=3))


class _Resolver:
    def resolve(self, host: str, port: int) -> list[str]:
        return ["93.184.215.14"]


@dataclass
class ScriptedSender:
    """Answers per URL: `down` URLs fail, the others succeed; records every request."""

    down: set[str] = field(default_factory=set)
    sent: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def send(self, request: Request, *, timeout_seconds: float) -> AttemptResult:
        with self._lock:
            self.sent.append((request.url, request.headers["webhook-id"]))
        if request.url in self.down:
            return AttemptResult(503, 3, "")
        return AttemptResult(200, 2)

    def ids_to(self, url: str) -> list[str]:
        return [i for u, i in self.sent if u == url]


@dataclass
class World:
    app: Application
    clock: FixedClock
    sender: ScriptedSender
    dispatcher: WebhookDispatcher
    service: WebhookService
    tenant: str

    def run(self) -> None:
        """Dispatch until nothing more is due now."""
        settle(self.app)  # PostgreSQL numbers events after commit; only numbered ones go out
        for _ in range(100):
            busy = self.dispatcher.step()
            self.dispatcher.drain()
            if not busy:
                return
        raise AssertionError("dispatcher never went idle")

    def endpoint(self, url: str, ordering: Ordering = Ordering.SEQUENCE) -> str:
        with self.app.uow_factory(write=True) as uow:
            endpoint = self.service.create_endpoint(
                uow, self.tenant, NewEndpoint(url, (), "", ordering)
            )
            uow.commit()
        return endpoint.id

    def event_ids(self) -> list[str]:
        from accrue.kernel.events import EventQuery

        with self.app.uow_factory(write=False) as uow:
            return [e.id for e in uow.events.list(self.tenant, EventQuery(limit=10_000))]


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    clock = FixedClock(START)
    app = build_application(Settings(database_url=database_url, log_level="WARNING"), clock=clock)
    ids = IdGenerator(clock)
    vetter = UrlVetter(_Resolver(), AddressPolicy())
    sender = ScriptedSender()
    dispatcher = WebhookDispatcher(
        uow_factory=app.uow_factory,
        clock=clock,
        ids=ids,
        vetter=vetter,
        sender=sender,
        encode_event=lambda e: e.id.encode(),
        policy=POLICY,
        limits=DispatchLimits(workers=4, batch=20, fanout_batch=25),
        rng=random.Random(3),
    )
    tenant = app.tenants.create_tenant("hooks").tenant.id
    yield World(app, clock, sender, dispatcher, WebhookService(clock, ids, vetter), tenant)
    dispatcher.close()
    app.close()


def test_every_event_after_creation_reaches_every_endpoint_once_in_order(world: World) -> None:
    write_customers(world.app, world.tenant, 5)  # before the endpoints: not delivered
    # An endpoint starts after the last *numbered* event; on PostgreSQL numbering
    # follows commit by the sequencing lag, so let it catch up as time would.
    settle(world.app)
    a = world.endpoint("https://a.example/hook")
    b = world.endpoint("https://b.example/hook", Ordering.NONE)
    write_customers(world.app, world.tenant, 60, batch=7)
    world.run()
    world.run()  # nothing new: no second fan-out, no second send
    expected = world.event_ids()[5:]
    assert world.sender.ids_to("https://a.example/hook") == expected
    assert sorted(world.sender.ids_to("https://b.example/hook")) == sorted(expected)
    with world.app.uow_factory(write=False) as uow:
        for endpoint_id in (a, b):
            page = PageRequest.parse(page_size=1000, page_token="", query={})
            deliveries = uow.webhooks.list_deliveries(world.tenant, endpoint_id, page, status=None)
            assert len(deliveries) == 60
            assert {d.status for d in deliveries} == {DeliveryStatus.SUCCEEDED}


def test_a_failing_endpoint_is_retried_in_order_and_holds_back_later_events(world: World) -> None:
    url = "https://flaky.example/hook"
    world.endpoint(url)
    other = "https://fine.example/hook"
    world.endpoint(other)
    world.sender.down.add(url)
    write_customers(world.app, world.tenant, 10)
    world.run()
    first = world.event_ids()[0]
    # Only the oldest is tried while it fails; the other endpoint is not held up.
    assert world.sender.ids_to(url) == [first]
    assert len(world.sender.ids_to(other)) == 10
    world.run()
    assert world.sender.ids_to(url) == [first]  # not due again before its backoff
    world.clock.advance(timedelta(minutes=1))
    world.run()
    assert world.sender.ids_to(url) == [first, first]
    world.sender.down.clear()
    world.clock.advance(timedelta(hours=1))
    world.run()
    assert world.sender.ids_to(url) == [first, first, *world.event_ids()]


def test_an_endpoint_failing_for_three_days_is_disabled_and_its_dead_letters_redelivered(
    world: World,
) -> None:
    url = "https://dead.example/hook"
    endpoint_id = world.endpoint(url)
    world.sender.down.add(url)
    write_customers(world.app, world.tenant, 4)
    world.run()
    elapsed = timedelta()
    while elapsed < timedelta(days=3, hours=6):
        world.clock.advance(timedelta(hours=1))
        elapsed += timedelta(hours=1)
        world.run()
    with world.app.uow_factory(write=False) as uow:
        endpoint = world.service.get_endpoint(uow, world.tenant, endpoint_id)
        page = PageRequest.parse(page_size=100, page_token="", query={})
        failed = world.service.list_deliveries(
            uow, world.tenant, endpoint_id, page, status=DeliveryStatus.FAILED
        ).items
    assert not endpoint.enabled
    assert endpoint.disabled_reason == DISABLED_FAILING
    assert len(failed) == 4
    # In sequence order only the oldest was tried, again and again over the window.
    oldest, later = failed[-1], failed[:-1]
    assert oldest.attempts >= 10 and oldest.last_response_code == 503
    assert all(d.attempts == 0 for d in later)
    # Nothing more is tried once the endpoint is disabled.
    tries_before = len(world.sender.ids_to(url))
    world.clock.advance(timedelta(days=1))
    write_customers(world.app, world.tenant, 2)  # a disabled endpoint gets nothing new
    world.run()
    assert len(world.sender.ids_to(url)) == tries_before
    # The receiver is back: one dead letter redelivered on request, even though disabled.
    world.sender.down.clear()
    with world.app.uow_factory(write=True) as uow:
        world.service.redeliver(uow, world.tenant, failed[-1].id)
        uow.commit()
    world.run()
    assert world.sender.ids_to(url)[tries_before:] == [failed[-1].event_id]
    with world.app.uow_factory(write=False) as uow:
        again = uow.webhooks.get_delivery(world.tenant, failed[-1].id)
    assert again is not None and again.status is DeliveryStatus.SUCCEEDED


def test_replay_resends_exactly_the_range(world: World) -> None:
    url = "https://replay.example/hook"
    endpoint_id = world.endpoint(url)
    write_customers(world.app, world.tenant, 30)
    world.run()
    assert len(world.sender.ids_to(url)) == 30
    with world.app.uow_factory(write=True) as uow:
        count = world.service.replay(
            uow, world.tenant, endpoint_id, from_sequence=11, to_sequence=20
        )
        uow.commit()
    world.run()
    ids = world.event_ids()
    assert count == 10
    assert world.sender.ids_to(url)[30:] == ids[10:20]


def _running(dispatcher: WebhookDispatcher, poll_seconds: float) -> tuple[threading.Event, Any]:
    stop = threading.Event()
    thread = threading.Thread(
        target=dispatcher.run, args=(stop,), kwargs={"poll_seconds": poll_seconds}, daemon=True
    )
    thread.start()
    return stop, thread


def _until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_a_running_dispatcher_sends_a_first_endpoints_events_and_answers_the_bell(
    world: World,
) -> None:
    """Bells of tenants not yet seen with an endpoint are ignored (most tenants have none),
    so a first endpoint's first events come with the sweep; after that a bell sends at once."""
    url = "https://first.example/hook"
    stop, thread = _running(world.dispatcher, poll_seconds=0.2)
    try:
        time.sleep(0.3)  # a pass has run and seen no endpoint for the tenant
        world.endpoint(url)
        write_customers(world.app, world.tenant, 3)
        settle(world.app)
        world.dispatcher.wake({world.tenant})  # may be ignored: the sweep must find them
        assert _until(lambda: len(world.sender.ids_to(url)) == 3, 15)
    finally:
        stop.set()
        world.dispatcher.wake()
        thread.join(10)
    assert not thread.is_alive()
    # Now the sweep is a minute away: only the bell can make these go out in time.
    stop, thread = _running(world.dispatcher, poll_seconds=60)
    try:
        time.sleep(0.3)  # past the first sweep of this run
        write_customers(world.app, world.tenant, 2)
        settle(world.app)
        world.dispatcher.wake({world.tenant})
        assert _until(lambda: len(world.sender.ids_to(url)) == 5, 15)
    finally:
        stop.set()
        world.dispatcher.wake()  # a stopped dispatcher returns without waiting out its poll
        thread.join(10)
    assert not thread.is_alive()
    assert world.sender.ids_to(url) == world.event_ids()[-5:]
