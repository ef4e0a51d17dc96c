"""The relay's JetStream broker against a real NATS server: a batch asks for the
acknowledgements of its first and last message only, and anything those do not
prove stored (a republished batch, another publisher in between, a message the
stream never got) is published again asking for every acknowledgement.

Needs NATS with JetStream at 127.0.0.1:4222 (skipped, with the reason, when it
is not there).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from accrue.relay.jetstream import JetStreamBroker, PublishFailed
from accrue.relay.ports import Message

NATS_URL = "nats://127.0.0.1:4222"


def _messages(subject: str, first: int, count: int) -> list[Message]:
    return [
        Message(subject, f"evt_{n:08d}", {"Accrue-Sequence": str(n)}, f"body {n}".encode())
        for n in range(first, first + count)
    ]


async def _stored(broker: JetStreamBroker, stream: str) -> list[str]:
    js: Any = broker._js
    info = await js.stream_info(stream)
    found: list[str] = []
    subscription = await js.pull_subscribe("", durable=None, stream=stream)
    while len(found) < info.state.messages:
        for message in await subscription.fetch(500, timeout=5):
            found.append((message.headers or {})["Nats-Msg-Id"])
            await message.ack()
    return found


def _run(body: Callable[[JetStreamBroker, str, str], Awaitable[None]]) -> None:
    async def main() -> None:
        stream = f"ACCRUE_TEST_{uuid.uuid4().hex[:12].upper()}"
        subject = f"relaytest.{stream.lower()}"
        try:
            broker = await JetStreamBroker.connect(
                NATS_URL, stream=stream, subjects=[subject + ".>"]
            )
        except Exception as exc:
            pytest.skip(f"NATS is not reachable at {NATS_URL}: {type(exc).__name__}")
        try:
            await body(broker, stream, subject)
        finally:
            await broker._js.delete_stream(stream)
            await broker.close()

    asyncio.run(main())


def test_batches_proven_by_first_and_last_store_every_message_once_in_order() -> None:
    async def body(broker: JetStreamBroker, stream: str, subject: str) -> None:
        batches = [_messages(f"{subject}.a", n * 50, 50) for n in range(6)]
        pending = [await broker.send(batch) for batch in batches]
        for acks in pending:
            await acks.wait()
        # Republished (as after a crash): every one a duplicate, nothing stored twice.
        await (await broker.send(batches[2] + batches[3])).wait()
        assert await _stored(broker, stream) == [f"evt_{n:08d}" for n in range(300)]

    _run(body)


def test_another_publisher_in_between_is_caught_and_the_batch_confirmed() -> None:
    async def body(broker: JetStreamBroker, stream: str, subject: str) -> None:
        batch = _messages(f"{subject}.a", 0, 20)
        acks = await broker.send(batch[:10])
        other: Any = broker._js
        await other.publish(f"{subject}.b", b"other", headers={"Nats-Msg-Id": "other-1"})
        acks2 = await broker.send(batch[10:])
        await acks.wait()
        await acks2.wait()
        stored = await _stored(broker, stream)
        assert sorted(stored) == sorted([m.message_id for m in batch] + ["other-1"])
        assert len(stored) == len(set(stored))

    _run(body)


def test_a_message_the_stream_never_got_fails_the_batch() -> None:
    async def body(broker: JetStreamBroker, stream: str, subject: str) -> None:
        batch = _messages(f"{subject}.a", 0, 5)
        # The middle message goes to a subject no stream holds: unacknowledged,
        # it would be lost silently; the first/last gap gives it away.
        lost = Message("relaytest.nowhere.x", "evt_lost", {}, b"lost")
        acks = await broker.send([*batch[:2], lost, *batch[2:]])
        with pytest.raises(PublishFailed):
            await acks.wait()

    _run(body)
