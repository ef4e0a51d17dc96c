"""The JetStream broker of the relay (nats-py), publishing pipelined batches.

A JetStream publish is a core NATS publish with a reply subject; the stream
answers on it with an acknowledgement. nats-py's `publish_async` makes a
future, a semaphore slot, a JSON decode and an acknowledgement object per
message, which cost more CPU than the publish itself. Here every message of
a batch carries the batch's reply subject under one wildcard subscription,
and an acknowledgement only decrements the batch's count: successful
acknowledgements (`{"stream":…,"seq":…}`, with `"duplicate":true` for a
republished id) are not decoded at all, only errors are.

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
    """Counts one batch's acknowledgements; the first error fails the batch."""

    __slots__ = ("_broker", "_token", "done", "error", "left")

    def __init__(self, broker: JetStreamBroker, token: str, count: int) -> None:
        self._broker = broker
        self._token = token
        self.left = count
        self.error: str = ""
        self.done = asyncio.Event()
        if count == 0:
            self.done.set()

    def acknowledged(self, data: bytes) -> None:
        # Only an error (or an empty no-responders status message) is decoded.
        if not data or b'"error"' in data:
            self.error = self.error or _describe(data)
        self.left -= 1
        if self.left <= 0:
            self.done.set()

    async def wait(self) -> None:
        try:
            await asyncio.wait_for(self.done.wait(), ACK_TIMEOUT_SECONDS)
        except TimeoutError as exc:
            raise PublishFailed(f"{self.left} messages not acknowledged in time") from exc
        finally:
            self.cancel()
        if self.error:
            raise PublishFailed(self.error)

    def cancel(self) -> None:
        self._broker.forget(self._token)


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
        batch = self._batches.get(msg.subject[len(self._inbox) + 1 :])
        if batch is not None:
            batch.acknowledged(msg.data)

    def forget(self, token: str) -> None:
        self._batches.pop(token, None)

    async def send(self, messages: Sequence[Message]) -> BatchAcks:
        self._next += 1
        token = str(self._next)
        acks = self._batches[token] = BatchAcks(self, token, len(messages))
        reply = f"{self._inbox}.{token}"
        publish = self._nc.publish
        for message in messages:
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
