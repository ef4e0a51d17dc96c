"""The JetStream broker of the relay (nats-py), publishing pipelined batches.

A JetStream publish is a core NATS publish with a reply subject; the stream
answers on it with an acknowledgement. nats-py's `publish_async` makes a
future, a semaphore slot, a JSON decode and an acknowledgement object per
message, and receiving an acknowledgement costs as much CPU as publishing.
Here only a batch's first and last message ask for one (see `BatchAcks` for
why that proves the whole batch stored), under one wildcard subscription.

Messages go out on one connection in order, and the server stores a
connection's messages in that order, so a tenant's events are stored in
sequence order even with several batches outstanding.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import nats
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

from accrue.relay.ports import Message

ACK_TIMEOUT_SECONDS = 10.0
# Republishing after a crash is harmless while the stream remembers the ids.
DUPLICATE_WINDOW_SECONDS = 600.0


class PublishFailed(Exception):
    """The stream refused a message or never answered for it."""


class BatchAcks:
    """The acknowledgements asked for one batch: of its first and last message, or of each.

    A message published without a reply subject is stored all the same, only
    unacknowledged. The stream numbers what it stores consecutively and stores
    one connection's messages in order, so a first and a last message both
    stored as new, `count - 1` stream sequences apart, prove every message
    between them was stored too. Anything else (a republished batch, whose
    messages the stream already holds; another publisher on the stream; a
    message refused in between) is published again asking for every
    acknowledgement, which the stream's de-duplication makes harmless.
    The proof assumes what the relay assumes anyway: it is the stream's only
    publisher (a foreign message stored exactly where one of ours was lost
    would balance the count).
    """

    __slots__ = (
        "_broker",
        "_messages",
        "_token",
        "done",
        "duplicate",
        "error",
        "every",
        "left",
        "sequences",
    )

    def __init__(
        self, broker: JetStreamBroker, token: str, messages: Sequence[Message], *, every: bool
    ) -> None:
        self._broker = broker
        self._token = token
        self._messages = messages
        self.every = every
        self.left = len(messages) if every else min(len(messages), 2)
        self.sequences: dict[str, int] = {}
        self.duplicate = False
        self.error: str = ""
        self.done = asyncio.Event()
        if self.left == 0:
            self.done.set()

    def acknowledged(self, kind: str, data: bytes) -> None:
        if not data or b'"error"' in data:
            self.error = self.error or _describe(data)
        elif not self.every:
            ack = json.loads(data)
            self.sequences[kind] = int(ack.get("seq", 0))
            self.duplicate = self.duplicate or bool(ack.get("duplicate"))
        self.left -= 1
        if self.left <= 0:
            self.done.set()

    def _proven(self) -> bool:
        count = len(self._messages)
        if self.every or count <= 1:
            return True
        first, last = self.sequences.get(_FIRST, 0), self.sequences.get(_LAST, 0)
        return not self.duplicate and first > 0 and last - first == count - 1

    async def wait(self) -> None:
        try:
            await asyncio.wait_for(self.done.wait(), ACK_TIMEOUT_SECONDS)
        except TimeoutError as exc:
            raise PublishFailed(f"{self.left} acknowledgements not received in time") from exc
        finally:
            self.cancel()
        if self.error:
            raise PublishFailed(self.error)
        if not self._proven():
            await (await self._broker.send(self._messages, every=True)).wait()

    def cancel(self) -> None:
        self._broker.forget(self._token)


_FIRST, _LAST, _EACH = "f", "l", "e"


def _describe(data: bytes) -> str:
    if not data:
        return "no stream answered (no responders)"
    try:
        error = json.loads(data).get("error", {})
    except ValueError:
        return data[:200].decode("utf-8", "replace")
    return f"{error.get('code')} {error.get('err_code')}: {error.get('description')}"


class JetStreamBroker:
    def __init__(self, nc: Any, js: Any, stream: str) -> None:
        self._nc = nc
        self._js = js
        self._stream = stream
        self._inbox = ""
        self._batches: dict[str, BatchAcks] = {}
        self._next = 0

    @classmethod
    async def connect(cls, url: str, *, stream: str, subjects: Sequence[str]) -> JetStreamBroker:
        """Connect, and create the stream when it does not exist yet."""
        nc = await nats.connect(url, max_reconnect_attempts=-1, reconnect_time_wait=0.5)
        js = nc.jetstream()
        try:
            await js.stream_info(stream)
        except NotFoundError:
            await js.add_stream(
                StreamConfig(
                    name=stream,
                    subjects=list(subjects),
                    duplicate_window=DUPLICATE_WINDOW_SECONDS,
                )
            )
        broker = cls(nc, js, stream)
        broker._inbox = nc.new_inbox()
        await nc.subscribe(f"{broker._inbox}.*", cb=broker._on_ack)
        return broker

    async def _on_ack(self, msg: Any) -> None:
        suffix = msg.subject[len(self._inbox) + 1 :]
        batch = self._batches.get(suffix[:-1])
        if batch is not None:
            batch.acknowledged(suffix[-1:], msg.data)

    def forget(self, token: str) -> None:
        self._batches.pop(token, None)

    async def send(self, messages: Sequence[Message], *, every: bool = False) -> BatchAcks:
        """Publish in order, asking acknowledgements of the first and last (or of every) one."""
        self._next += 1
        token = str(self._next)
        acks = self._batches[token] = BatchAcks(self, token, messages, every=every)
        base = f"{self._inbox}.{token}"
        last = len(messages) - 1
        publish = self._nc.publish
        for n, message in enumerate(messages):
            if every:
                reply = base + _EACH
            elif n == 0:
                reply = base + _FIRST
            elif n == last:
                reply = base + _LAST
            else:
                reply = ""
            headers = {
                **message.headers,
                "Nats-Msg-Id": message.message_id,
                # The stream refuses the message if the subject maps elsewhere.
                "Nats-Expected-Stream": self._stream,
            }
            await publish(message.subject, message.body, reply=reply, headers=headers)
        return acks

    async def publish(self, messages: Sequence[Message]) -> None:
        """Publish one batch and wait for every acknowledgement."""
        await (await self.send(messages)).wait()

    async def close(self) -> None:
        await self._nc.drain()
