"""Relaying the outbox to a broker, per tenant, from a cursor kept in the database.

Order of work per tenant: read the events after the cursor (the outbox
reader's semantic: sequenced, in order), publish them in order, wait for the
stream's acknowledgements, then move the cursor. Several batches are in
flight at once (a window), so the database reads overlap the broker. A crash anywhere before the
cursor moves republishes the same events with the same message ids (the
event ids); the stream's de-duplication window drops them, so the stream
holds each event once, in per-tenant order. One relay process per stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from accrue.kernel.clock import Clock
from accrue.kernel.events import EventQuery, StoredEvent
from accrue.relay.ports import Acks, Broker, Message, RelayUnitOfWorkFactory

log = logging.getLogger("accrue.relay")

EventEncoder = Callable[[StoredEvent], bytes]


@dataclass(frozen=True, slots=True)
class RelayTarget:
    stream: str
    subject_prefix: str = "accrue"
    batch: int = 1000
    # Batches published and not yet acknowledged, at most.
    window: int = 8


@dataclass(frozen=True, slots=True)
class _Sent:
    tenant_id: str
    last_sequence: int
    count: int
    acks: Acks


def subject_of(prefix: str, event: StoredEvent) -> str:
    """`<prefix>.<tenant>.<event type>`; the type's dot makes two tokens, as intended."""
    return f"{prefix}.{event.tenant_id}.{event.type}"


class EventRelay:
    def __init__(
        self,
        *,
        uow_factory: RelayUnitOfWorkFactory,
        broker: Broker,
        clock: Clock,
        encode_event: EventEncoder,
        target: RelayTarget,
    ) -> None:
        self._uow_factory = uow_factory
        self._broker = broker
        self._clock = clock
        self._encode = encode_event
        self._target = target

    async def run(self, stop: asyncio.Event, *, poll_seconds: float) -> None:
        while not stop.is_set():
            try:
                moved = await self.pass_once()
            except Exception:
                # The broker or the database is away: nothing moved, so the
                # same events go again (same ids) once it is back.
                log.exception("relay pass failed; retrying")
                moved = 0
                await asyncio.sleep(min(5.0, poll_seconds * 20))
            if not moved:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), poll_seconds)

    async def pass_once(self) -> int:
        """Relay every tenant's backlog; returns how many events were relayed.

        Tenants take turns, one batch each, so one tenant's backlog does not
        hold the others back. The next batch is read (in a thread: the
        database driver waits without the GIL) while this one is published,
        and up to `window` batches are unacknowledged at once, so the
        database, the encoding and the broker work at the same time. A
        tenant's cursor moves only past batches the stream acknowledged, in
        order.
        """
        with self._uow_factory(write=False) as uow:
            tenants = list(uow.relay_cursors.tenant_ids())
            cursors = {t: uow.relay_cursors.get(self._target.stream, t) for t in tenants}
        turns = deque(tenants)
        outstanding: deque[_Sent] = deque()
        moved = 0
        reading = self._read_next(turns, cursors)
        try:
            while reading is not None:
                tenant_id, events, messages = await reading
                if len(events) == self._target.batch:
                    cursors[tenant_id] = events[-1].sequence
                    turns.append(tenant_id)  # more to read: its next turn
                reading = self._read_next(turns, cursors)
                if not events:
                    continue
                acks = await self._broker.send(messages)
                outstanding.append(_Sent(tenant_id, events[-1].sequence, len(events), acks))
                if len(outstanding) >= self._target.window:
                    moved += await self._settle(outstanding, keep=self._target.window // 2)
            moved += await self._settle(outstanding, keep=0)
        finally:
            for sent in outstanding:  # a failure: these go again from the cursor
                sent.acks.cancel()
            if reading is not None:
                reading.cancel()
        return moved

    def _read_next(
        self, turns: deque[str], cursors: dict[str, int]
    ) -> asyncio.Future[tuple[str, Sequence[StoredEvent], list[Message]]] | None:
        if not turns:
            return None
        tenant_id = turns.popleft()
        return asyncio.ensure_future(asyncio.to_thread(self._read, tenant_id, cursors[tenant_id]))

    def _read(
        self, tenant_id: str, cursor: int
    ) -> tuple[str, Sequence[StoredEvent], list[Message]]:
        with self._uow_factory(write=False) as uow:
            events = uow.events.list(
                tenant_id, EventQuery(after_sequence=cursor, limit=self._target.batch)
            )
        return tenant_id, events, [self._message(e) for e in events]

    async def _settle(self, outstanding: deque[_Sent], *, keep: int) -> int:
        """Wait for the oldest batches until `keep` remain; move their cursors in one commit."""
        done: dict[str, int] = {}
        moved = 0
        while len(outstanding) > keep:
            sent = outstanding[0]
            await sent.acks.wait()
            outstanding.popleft()
            done[sent.tenant_id] = sent.last_sequence
            moved += sent.count
        if done:
            self._store_cursors(done)
        return moved

    def _store_cursors(self, cursors: dict[str, int]) -> None:
        with self._uow_factory(write=True) as uow:
            now = self._clock.now()
            for tenant_id, sequence in cursors.items():
                uow.relay_cursors.set(self._target.stream, tenant_id, sequence, now=now)
            uow.commit()

    def _message(self, event: StoredEvent) -> Message:
        return Message(
            subject=subject_of(self._target.subject_prefix, event),
            message_id=event.id,
            # The type is in the subject and the body is always a binary
            # `accrue.billing.v1.Event`; every header costs encoding time per message.
            headers={"Accrue-Tenant": event.tenant_id, "Accrue-Sequence": str(event.sequence)},
            body=self._encode(event),
        )
