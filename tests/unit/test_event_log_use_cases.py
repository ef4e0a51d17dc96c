"""The event log's use cases on an in-memory fake of its narrow port: no SQL, no server.

What a consumer relies on: a page of events comes in sequence order with a
token for the rest; the stream sends every event after its cursor, then new
ones as they commit, filtered by type, with a heartbeat (None) whenever it
has caught up; on shutdown it ends with a typed, retryable error naming the
last sequence sent, so a client can resume without a gap or a duplicate.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from accrue.event_log.service import EventBell, EventReader
from accrue.event_log.use_cases import EventLogUseCases
from accrue.kernel.errors import ServerShuttingDown
from accrue.kernel.events import DomainEvent
from accrue.kernel.paging import PageRequest
from tests.fakes.event_log import FakeEventLogUnitOfWork
from tests.fakes.transactions import FakeDatabase, FakeUnitOfWorkFactory

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TENANT = "ten_a"


class World:
    def __init__(self) -> None:
        self.db = FakeDatabase()
        self.factory = FakeUnitOfWorkFactory(self.db, FakeEventLogUnitOfWork)
        self.shutting_down = threading.Event()
        self.events = EventLogUseCases(
            self.factory,
            EventReader(),
            bell=EventBell(),
            shutting_down=self.shutting_down,
            poll_seconds=0,
        )
        self._n = 0

    def record(self, *types: str, tenant_id: str = TENANT) -> None:
        with self.factory(write=True) as uow:
            for type_ in types:
                self._n += 1
                event = DomainEvent(f"evt_{self._n}", type_, "invoice", "in_1", NOW, "", None)
                uow.events.record(tenant_id, event)
            uow.commit()


@pytest.fixture
def world() -> World:
    return World()


def test_a_page_of_events_in_sequence_order_with_a_token_for_the_rest(world: World) -> None:
    world.record("invoice.created", "invoice.paid", "invoice.created")
    world.record("invoice.paid", tenant_id="ten_b")

    first = world.events.list_events(
        TENANT,
        PageRequest(2, "", "q"),
        after_sequence=0,
        up_to_sequence=0,
        types=(),
        resource_id="",
    )
    assert [e.sequence for e in first.items] == [1, 2] and first.next_page_token
    rest = world.events.list_events(
        TENANT,
        PageRequest(2, "2", "q"),
        after_sequence=0,
        up_to_sequence=0,
        types=(),
        resource_id="",
    )
    assert [e.sequence for e in rest.items] == [3] and rest.next_page_token == ""
    paid = world.events.list_events(
        TENANT,
        PageRequest(10, "", "q"),
        after_sequence=0,
        up_to_sequence=0,
        types=("invoice.paid",),
        resource_id="",
    )
    assert [(e.tenant_id, e.sequence) for e in paid.items] == [(TENANT, 2)]


def test_the_stream_sends_what_is_after_its_cursor_then_what_commits_later(
    world: World,
) -> None:
    world.record("invoice.created", "invoice.paid", "invoice.paid")
    stream = world.events.stream_events(
        TENANT, after_sequence=1, types=("invoice.paid",), is_active=lambda: True
    )

    sent = [next(stream), next(stream), next(stream)]
    assert [e.sequence if e else None for e in sent] == [2, 3, None]

    world.record("invoice.created", "invoice.paid")
    assert [e.sequence if e else None for e in (next(stream), next(stream))] == [5, None]


def test_the_stream_ends_on_shutdown_naming_the_last_sequence_sent(world: World) -> None:
    world.record("invoice.created", "invoice.paid")
    stream = world.events.stream_events(TENANT, after_sequence=0, types=(), is_active=lambda: True)
    assert [e.sequence if e else None for e in (next(stream), next(stream), next(stream))] == [
        1,
        2,
        None,
    ]

    world.shutting_down.set()
    with pytest.raises(ServerShuttingDown) as raised:
        next(stream)
    assert raised.value.metadata == {"last_sequence": "2"}
    assert raised.value.retry_after_seconds == 1.0


def test_the_stream_stops_when_the_client_has_gone(world: World) -> None:
    world.record("invoice.created")
    active = [True]
    stream = world.events.stream_events(
        TENANT, after_sequence=0, types=(), is_active=lambda: active[0]
    )
    assert next(stream) is not None

    active[0] = False
    assert list(stream) == [None]  # the heartbeat already due, then the end
    assert world.factory.opened["write"] == 1  # reading never took a write transaction
