"""The relay killed at seeded random points while events are written (3 rounds,
a real `accrue relay` process each time): the JetStream stream ends up holding
every event exactly once, in per-tenant order, with the event id as message id.

Needs NATS with JetStream at 127.0.0.1:4222 (skipped, with the reason, when
it is not there). ACCRUE_RELAY_PROOF_EVENTS scales the event count.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from accrue.bootstrap import build_application
from accrue.config import Settings
from accrue.kernel.events import EventQuery
from tests.webhook_support import write_customers

NATS_URL = "nats://127.0.0.1:4222"
EVENTS = int(os.environ.get("ACCRUE_RELAY_PROOF_EVENTS", "1500"))
TENANTS = 3


async def _nats() -> Any:
    import nats

    try:
        return await nats.connect(NATS_URL, connect_timeout=2, max_reconnect_attempts=0)
    except Exception as exc:
        pytest.skip(f"NATS is not reachable at {NATS_URL}: {type(exc).__name__}")


async def _stream_contents(stream: str) -> list[tuple[str, int, str]]:
    """Every message of the stream as (tenant, sequence, message id), in stream order."""
    nc = await _nats()
    js = nc.jetstream()
    info = await js.stream_info(stream)
    found = []
    subscription = await js.pull_subscribe("", durable=None, stream=stream)
    while len(found) < info.state.messages:
        for message in await subscription.fetch(500, timeout=5):
            headers = message.headers or {}
            found.append(
                (
                    headers["Accrue-Tenant"],
                    int(headers["Accrue-Sequence"]),
                    headers["Nats-Msg-Id"],
                )
            )
            await message.ack()
    await nc.close()
    return found


async def _delete_stream(stream: str) -> None:
    nc = await _nats()
    with contextlib.suppress(Exception):  # never created: nothing to clean up
        await nc.jetstream().delete_stream(stream)
    await nc.close()


def _start_relay(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "accrue.cli", "relay", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("READY relay"), line
    return process


@pytest.mark.timeout(300)
def test_a_relay_killed_at_random_points_leaves_every_event_once_in_order(
    tmp_path: Path,
) -> None:
    async def reachable() -> None:
        nc = await _nats()
        await nc.close()

    asyncio.run(reachable())
    url = f"sqlite:///{tmp_path / 'accrue.db'}"
    app = build_application(Settings(database_url=url, log_level="WARNING"))
    tenants = [app.tenants.create_tenant(f"relay-{n}").tenant.id for n in range(TENANTS)]
    stream = f"ACCRUE_TEST_{uuid.uuid4().hex[:12].upper()}"
    env = {
        **os.environ,
        "ACCRUE_DATABASE_URL": url,
        "ACCRUE_LOG_LEVEL": "WARNING",
        "ACCRUE_RELAY_NATS_URL": NATS_URL,
        "ACCRUE_RELAY_STREAM": stream,
        "ACCRUE_RELAY_STREAM_SUBJECTS": ",".join(f"accrue.{t}.>" for t in tenants),
        "ACCRUE_RELAY_BATCH": "100",
        "ACCRUE_RELAY_POLL_SECONDS": "0.02",
    }
    rng = random.Random(1515)
    per_tenant = EVENTS // TENANTS

    def write() -> None:
        for _ in range(per_tenant // 25):
            for tenant in tenants:
                write_customers(app, tenant, 25, batch=25)
            time.sleep(0.25)  # keep writing through all three rounds

    writer = threading.Thread(target=write)
    try:
        writer.start()
        for _round in range(3):
            relay = _start_relay(env)
            time.sleep(rng.uniform(0.1, 1.2))
            relay.send_signal(signal.SIGKILL)
            relay.wait(10)
        writer.join()
        # A last relay runs until everything is relayed, then exits on its own.
        final = _start_relay(env, "--once")
        assert final.wait(120) == 0
        found = asyncio.run(_stream_contents(stream))
    finally:
        writer.join()
        asyncio.run(_delete_stream(stream))
        app.close()

    expected = {}
    with app.uow_factory(write=False) as uow:
        for tenant in tenants:
            expected[tenant] = [e.id for e in uow.events.list(tenant, EventQuery(limit=100_000))]
    assert sum(len(ids) for ids in expected.values()) == per_tenant // 25 * 25 * TENANTS
    # Exactly once overall, and per tenant in sequence order.
    assert len(found) == len({message_id for _t, _s, message_id in found})
    for tenant in tenants:
        mine = [(sequence, message_id) for t, sequence, message_id in found if t == tenant]
        assert [s for s, _m in mine] == list(range(1, len(expected[tenant]) + 1))
        assert [m for _s, m in mine] == expected[tenant]
