"""The webhook dispatcher dying at seeded random points (3 rounds, SQLite and PostgreSQL).

A crash is simulated at the database: from a seeded write transaction on,
every commit of the "process" fails and rolls back (fan-out batches, a batch's
recorded outcomes together with the next claimed batch, lease releases), as if
it died there; deliveries already sent stay unrecorded. After the lease runs
out a fresh dispatcher takes over. In the end every event was fanned out
exactly once per endpoint, every delivery succeeded, and each endpoint got
every event at least once, first in sequence order where it asked for order.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

import pytest

from accrue.bootstrap import Application, build_application
from accrue.config import Settings
from accrue.kernel.events import EventQuery
from accrue.kernel.ids import IdGenerator
from accrue.kernel.paging import PageRequest
from accrue.platform.clock import FixedClock
from accrue.webhooks.dispatcher import DispatchLimits, WebhookDispatcher
from accrue.webhooks.model import (
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
ORDERED = "https://ordered.example/hook"
UNORDERED = "https://any.example/hook"


class _Resolver:
    def resolve(self, host: str, port: int) -> list[str]:
        return ["93.184.215.14"]


class SimulatedCrash(Exception):
    pass


@dataclass
class Process:
    """One dispatcher process's view of the database: dead after its `crash_at`-th write."""

    factory: Any
    crash_at: int
    writes: int = 0
    dead: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, *, write: bool) -> Any:
        return _Uow(self, self.factory(write=write), write)


class _Uow:
    def __init__(self, process: Process, inner: Any, write: bool) -> None:
        self._process = process
        self._inner = inner
        self._write = write

    def __enter__(self) -> _Uow:
        self._inner.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._inner.__exit__(exc_type, exc, tb)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def commit(self) -> None:
        if self._write:
            with self._process.lock:
                self._process.writes += 1
                if self._process.writes >= self._process.crash_at:
                    self._process.dead = True
                if self._process.dead:
                    raise SimulatedCrash("the process died before this commit")
        self._inner.commit()


@dataclass
class Receiver:
    sent: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def send(self, request: Request, *, timeout_seconds: float) -> AttemptResult:
        with self._lock:
            self.sent.setdefault(request.url, []).append(request.headers["webhook-id"])
        return AttemptResult(204, 1)


def _dispatcher(app: Application, clock: FixedClock, uow_factory: Any, sender: Receiver) -> Any:
    return WebhookDispatcher(
        uow_factory=uow_factory,
        clock=clock,
        ids=IdGenerator(clock),
        vetter=UrlVetter(_Resolver(), AddressPolicy()),
        sender=sender,
        encode_event=lambda e: e.id.encode(),
        policy=RetryPolicy(),
        limits=DispatchLimits(workers=2, batch=15, fanout_batch=20),
        rng=random.Random(7),
    )


def _run(dispatcher: WebhookDispatcher) -> None:
    for _ in range(200):
        try:
            busy = dispatcher.step()
        except SimulatedCrash:
            busy = False
        dispatcher.drain()
        if not busy:
            return


@pytest.fixture
def app_and_clock(database_url: str) -> Iterator[tuple[Application, FixedClock]]:
    clock = FixedClock(START)
    app = build_application(Settings(database_url=database_url, log_level="WARNING"), clock=clock)
    yield app, clock
    app.close()


@pytest.mark.parametrize("seed", [15, 16])
def test_a_dispatcher_dying_at_random_points_loses_and_duplicates_no_delivery(
    app_and_clock: tuple[Application, FixedClock], seed: int
) -> None:
    app, clock = app_and_clock
    rng = random.Random(seed)
    ids = IdGenerator(clock)
    service = WebhookService(clock, ids, UrlVetter(_Resolver(), AddressPolicy()))
    tenant = app.tenants.create_tenant("crashes").tenant.id
    endpoints = {}
    for url, ordering in ((ORDERED, Ordering.SEQUENCE), (UNORDERED, Ordering.NONE)):
        with app.uow_factory(write=True) as uow:
            endpoints[url] = service.create_endpoint(
                uow, tenant, NewEndpoint(url, (), "", ordering)
            ).id
            uow.commit()
    receiver = Receiver()
    crashes = 0
    for _round in range(3):
        write_customers(app, tenant, 40, batch=rng.choice((3, 10, 40)))
        settle(app)
        process = Process(app.uow_factory, crash_at=rng.randint(1, 12))
        dispatcher = _dispatcher(app, clock, process, receiver)
        _run(dispatcher)
        dispatcher.close()
        crashes += process.dead
        clock.advance(timedelta(minutes=5))  # past any lease the dead process held
    assert crashes >= 2, "the seed crashed too few rounds to prove anything"
    final = _dispatcher(app, clock, app.uow_factory, receiver)
    _run(final)
    final.close()

    with app.uow_factory(write=False) as uow:
        expected = [e.id for e in uow.events.list(tenant, EventQuery(limit=10_000))]
        page = PageRequest.parse(page_size=1000, page_token="", query={})
        for url, endpoint_id in endpoints.items():
            deliveries = uow.webhooks.list_deliveries(tenant, endpoint_id, page, status=None)
            # Fanned out exactly once, every one delivered and recorded.
            assert sorted(d.event_id for d in deliveries) == sorted(expected), url
            assert {d.status for d in deliveries} == {DeliveryStatus.SUCCEEDED}, url
    assert len(expected) == 120
    for url in (ORDERED, UNORDERED):
        got = receiver.sent[url]
        first_seen = list(dict.fromkeys(got))
        assert sorted(first_seen) == sorted(expected), url
    # Where order was asked for, the receiver first saw every event in sequence order.
    assert list(dict.fromkeys(receiver.sent[ORDERED])) == expected
