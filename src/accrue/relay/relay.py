"""Relaying the outbox to a broker, per tenant, from a cursor kept in the database.

Order of work per tenant: read the events after the cursor (the outbox
reader's semantic: sequenced, in order), publish them in order, wait for the
stream's acknowledgements, then move the cursor. A crash anywhere before the
cursor moves republishes the same events with the same message ids (the
event ids); the stream's de-duplication window drops them, so the stream
holds each event once, in per-tenant order. One relay process per stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from accrue.kernel.clock import Clock
from accrue.kernel.events import EventQuery, StoredEvent
from accrue.relay.ports import Broker, Message, RelayUnitOfWorkFactory

log = logging.getLogger("accrue.relay")

EventEncoder = Callable[[StoredEvent], bytes]


@dataclass(frozen=True, slots=True)
class RelayTarget:
    stream: str
    subject_prefix: str = "accrue"
    batch: int = 1000


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
        """One round over every tenant; returns how many events were relayed."""
        with self._uow_factory(write=False) as uow:
            tenants = list(uow.relay_cursors.tenant_ids())
        moved = 0
        for tenant_id in tenants:
            moved += await self.relay_tenant(tenant_id)
        return moved

    async def relay_tenant(self, tenant_id: str) -> int:
        stream = self._target.stream
        with self._uow_factory(write=False) as uow:
            cursor = uow.relay_cursors.get(stream, tenant_id)
            events = uow.events.list(
                tenant_id, EventQuery(after_sequence=cursor, limit=self._target.batch)
            )
        if not events:
            return 0
        await self._broker.publish([self._message(event) for event in events])
        with self._uow_factory(write=True) as uow:
            uow.relay_cursors.set(stream, tenant_id, events[-1].sequence, now=self._clock.now())
            uow.commit()
        return len(events)

    def _message(self, event: StoredEvent) -> Message:
        return Message(
            subject=subject_of(self._target.subject_prefix, event),
            message_id=event.id,
            # The type is in the subject and the body is always a binary
            # `accrue.billing.v1.Event`; every header costs encoding time per message.
            headers={"Accrue-Tenant": event.tenant_id, "Accrue-Sequence": str(event.sequence)},
            body=self._encode(event),
        )
