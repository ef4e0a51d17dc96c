"""The relay's window of unacknowledged batches under seeded broker faults.

Several batches are published before the first is acknowledged. A broker
that loses its connection at a seeded message (that message and everything
after it on the connection are not stored, their acknowledgements fail), or
stores a batch but loses its acknowledgement, must never let a cursor move
past an event the stream does not hold: after retries the stream holds every
event exactly once, in per-tenant sequence order.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from accrue.bootstrap import build_application
from accrue.config import Settings
from accrue.kernel.events import EventQuery
from accrue.relay.main import event_bytes
from accrue.relay.ports import Message
from accrue.relay.relay import EventRelay, RelayTarget
from tests.webhook_support import write_customers


class _Acks:
    def __init__(self, ok: bool) -> None:
        self.ok = ok

    async def wait(self) -> None:
        await asyncio.sleep(0)
        if not self.ok:
            raise ConnectionError("acknowledgement lost")

    def cancel(self) -> None:
        pass


class FaultyStream:
    """A stream de-duplicating by message id, behind a connection that fails at random."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.stored: list[Message] = []
        self._ids: set[str] = set()
        self.broken = False  # the connection dropped: nothing more arrives this pass
        self.faults = 0

    async def send(self, messages: Sequence[Message]) -> _Acks:
        if self.broken:
            return _Acks(ok=False)
        roll = self.rng.random()
        cut = len(messages)
        ack_lost = False
        if roll < 0.15:
            cut = self.rng.randrange(len(messages))  # connection drops mid-batch
            self.broken = True
        elif roll < 0.25:
            ack_lost = True  # stored, but the acknowledgement never arrives
        for message in messages[:cut]:
            if message.message_id not in self._ids:
                self._ids.add(message.message_id)
                self.stored.append(message)
        if cut < len(messages) or ack_lost:
            self.faults += 1
            return _Acks(ok=False)
        return _Acks(ok=True)

    def reconnect(self) -> None:
        self.broken = False


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_failed_acknowledgements_in_the_window_leave_every_event_once_in_order(
    tmp_path: Path, seed: int
) -> None:
    app = build_application(
        Settings(database_url=f"sqlite:///{tmp_path / 'accrue.db'}", log_level="WARNING")
    )
    try:
        tenants = [app.tenants.create_tenant(f"relay-{n}").tenant.id for n in range(3)]
        for tenant in tenants:
            write_customers(app, tenant, 230, batch=50)
        stream = FaultyStream(random.Random(seed))
        relay = EventRelay(
            uow_factory=app.uow_factory,
            broker=stream,
            clock=app.clock,
            encode_event=event_bytes,
            target=RelayTarget(stream="TEST", batch=20, window=6),
        )

        async def run() -> None:
            for _attempt in range(200):
                try:
                    await relay.pass_once()
                    return
                except ConnectionError:
                    stream.reconnect()
            raise AssertionError("the relay never caught up")

        asyncio.run(run())
        assert stream.faults > 0, "the seed injected no fault"
        with app.uow_factory(write=False) as uow:
            expected = {t: uow.events.list(t, EventQuery(limit=10_000)) for t in tenants}
    finally:
        app.close()

    ids = [m.message_id for m in stream.stored]
    assert len(ids) == len(set(ids)) == sum(len(e) for e in expected.values())
    for tenant in tenants:
        mine = [m for m in stream.stored if m.headers["Accrue-Tenant"] == tenant]
        assert [m.message_id for m in mine] == [e.id for e in expected[tenant]]
        assert [int(m.headers["Accrue-Sequence"]) for m in mine] == list(
            range(1, len(expected[tenant]) + 1)
        )
