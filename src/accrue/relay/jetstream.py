"""The JetStream broker of the relay (nats-py)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import nats
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

from accrue.relay.ports import Message

ACK_TIMEOUT_SECONDS = 10.0
# Republishing after a crash is harmless while the stream remembers the ids.
DUPLICATE_WINDOW_SECONDS = 600.0


class JetStreamBroker:
    def __init__(self, nc: Any, js: Any, stream: str) -> None:
        self._nc = nc
        self._js = js
        self._stream = stream

    @classmethod
    async def connect(cls, url: str, *, stream: str, subjects: Sequence[str]) -> JetStreamBroker:
        """Connect, and create the stream when it does not exist yet."""
        nc = await nats.connect(url, max_reconnect_attempts=-1, reconnect_time_wait=0.5)
        js = nc.jetstream(publish_async_max_pending=20_000)
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
        return cls(nc, js, stream)

    async def publish(self, messages: Sequence[Message]) -> None:
        futures = []
        for message in messages:
            headers = {**message.headers, "Nats-Msg-Id": message.message_id}
            futures.append(
                await self._js.publish_async(
                    message.subject, message.body, headers=headers, stream=self._stream
                )
            )
        await asyncio.wait_for(asyncio.gather(*futures), ACK_TIMEOUT_SECONDS)

    async def close(self) -> None:
        await self._nc.drain()
