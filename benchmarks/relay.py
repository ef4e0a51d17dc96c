"""Events relayed to NATS JetStream per second, against raw JetStream publishes.

One run, one SQLite database and throwaway streams: (1) the event write rate
(reference), (2) raw `publish_async` of messages of the same size and count
in the relay's batch size, acknowledged (the ceiling), (3) the relay (read
after cursor, publish with Nats-Msg-Id, wait for acks, move the cursor), (4)
commit-to-receipt latency with `accrue relay` running as its own process
while events are written at a steady rate. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

import nats
from nats.js.api import StreamConfig
from webhooks import Writer, bench_database, settled

from accrue.bootstrap import Application, build_application
from accrue.config import Settings
from accrue.kernel.events import EventQuery
from accrue.relay.jetstream import JetStreamBroker
from accrue.relay.main import event_bytes
from accrue.relay.ports import Message
from accrue.relay.relay import EventRelay, RelayTarget

NATS_URL = os.environ.get("ACCRUE_BENCH_NATS_URL", "nats://127.0.0.1:4222")
GOAL_EVENTS_PER_SECOND = 10_000
BATCH = 1000
WINDOW = 8


def _raw_headers(n: int) -> dict[str, str]:
    return {
        "Accrue-Tenant": "ten_01KJMMA2G00RPWFPAAT3V2CGV6",
        "Accrue-Sequence": str(n + 1),
        "Nats-Msg-Id": f"evt_raw{n:019d}",
    }


async def _raw_publish_async(stream: str, subject: str, bodies: list[bytes]) -> float:
    """nats-py's own pipelined `publish_async`, acks gathered per batch, WINDOW batches open."""
    nc = await nats.connect(NATS_URL)
    js = nc.jetstream(publish_async_max_pending=BATCH * (WINDOW + 1))
    await js.add_stream(StreamConfig(name=stream, subjects=[subject + ".>"]))
    started = time.perf_counter()
    open_batches: list[Any] = []
    for first in range(0, len(bodies), BATCH):
        futures = [
            await js.publish_async(
                f"{subject}.x", body, headers=_raw_headers(first + n), stream=stream
            )
            for n, body in enumerate(bodies[first : first + BATCH])
        ]
        open_batches.append(asyncio.gather(*futures))
        if len(open_batches) >= WINDOW:
            await open_batches.pop(0)
    await asyncio.gather(*open_batches)
    elapsed = time.perf_counter() - started
    await js.delete_stream(stream)
    await nc.close()
    return len(bodies) / elapsed


async def _raw_counted(stream: str, subject: str, bodies: list[bytes]) -> float:
    """The relay's broker alone (first and last acknowledged per batch), no database."""
    broker = await JetStreamBroker.connect(NATS_URL, stream=stream, subjects=[subject + ".>"])
    messages = [
        Message(f"{subject}.x", f"evt_raw{n:019d}", _raw_headers(n), body)
        for n, body in enumerate(bodies)
    ]
    started = time.perf_counter()
    open_batches: list[Any] = []
    for first in range(0, len(messages), BATCH):
        open_batches.append(await broker.send(messages[first : first + BATCH]))
        if len(open_batches) >= WINDOW:
            await open_batches.pop(0).wait()
    for acks in open_batches:
        await acks.wait()
    elapsed = time.perf_counter() - started
    await broker._js.delete_stream(stream)
    await broker.close()
    return len(bodies) / elapsed


async def _raw(stream: str, subject: str, bodies: list[bytes]) -> tuple[float, float]:
    """The ceiling: acknowledged publishes of the same bodies and headers, two ways."""
    library = await _raw_publish_async(stream + "_A", subject + "_a", bodies)
    counted = await _raw_counted(stream + "_B", subject + "_b", bodies)
    return library, counted


async def _relay(app: Application, stream: str, tenants: list[str], total: int) -> float:
    broker = await JetStreamBroker.connect(
        NATS_URL, stream=stream, subjects=[f"accrue.{t}.>" for t in tenants]
    )
    relay = EventRelay(
        uow_factory=app.uow_factory,
        broker=broker,
        clock=app.clock,
        encode_event=event_bytes,
        target=RelayTarget(stream=stream, batch=BATCH, window=WINDOW),
    )
    started = time.perf_counter()
    moved = 0
    while moved < total:
        done = await relay.pass_once()
        if not done:
            raise RuntimeError(f"relay stopped at {moved} of {total}")
        moved += done
    elapsed = time.perf_counter() - started
    info = await broker._js.stream_info(stream)
    if info.state.messages != total:
        raise RuntimeError(f"stream holds {info.state.messages} messages, expected {total}")
    await broker._js.delete_stream(stream)
    await broker.close()
    return total / elapsed


async def _latency(
    app: Application, url: str, tenants: list[str], count: int, rate: float
) -> list[float]:
    tenant = tenants[0]
    stream = f"ACCRUE_BENCH_{uuid.uuid4().hex[:10].upper()}"
    nc = await nats.connect(NATS_URL)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=stream, subjects=[f"accrue.{t}.>" for t in tenants]))
    receipts: dict[str, float] = {}

    async def on_message(message: Any) -> None:
        receipts[(message.headers or {})["Nats-Msg-Id"]] = time.time()

    await nc.subscribe(f"accrue.{tenant}.>", cb=on_message)
    env = {
        **os.environ,
        "ACCRUE_DATABASE_URL": url,
        "ACCRUE_LOG_LEVEL": "WARNING",
        "ACCRUE_RELAY_NATS_URL": NATS_URL,
        "ACCRUE_RELAY_STREAM": stream,
        "ACCRUE_RELAY_POLL_SECONDS": "0.01",
    }
    relay = subprocess.Popen(
        [sys.executable, "-m", "accrue.cli", "relay"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert relay.stdout is not None
    await asyncio.to_thread(relay.stdout.readline)  # READY, after catching up
    with app.uow_factory(write=False) as uow:
        before = len(uow.events.list(tenant, EventQuery(limit=10**7)))
    while len(receipts) < before:
        await asyncio.sleep(0.05)
    receipts.clear()
    writer = Writer(app)
    commits: list[float] = []
    for _ in range(count):
        commits += await asyncio.to_thread(writer.write, tenant, 1, batch=1)
        await asyncio.sleep(1.0 / rate)
    deadline = time.monotonic() + 60
    while len(receipts) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    relay.send_signal(signal.SIGTERM)
    relay.wait(30)
    await js.delete_stream(stream)
    await nc.close()
    with app.uow_factory(write=False) as uow:
        events = uow.events.list(tenant, EventQuery(after_sequence=before, limit=count))
    return sorted(
        (receipts[e.id] - commit) * 1000 for e, commit in zip(events, commits, strict=True)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="events per tenant")
    parser.add_argument("--tenants", type=int, default=3)
    parser.add_argument("--latency-events", type=int, default=400)
    parser.add_argument("--latency-rate", type=float, default=100.0, help="events/s written")
    parser.add_argument("--quick", action="store_true", help="CI smoke: small counts")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="a fresh database on ACCRUE_BENCH_POSTGRES_URL instead of SQLite",
    )
    args = parser.parse_args()
    if args.quick:
        args.events, args.latency_events = 500, 40
    print(f"setup: load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores", flush=True)
    with bench_database(postgres=args.postgres) as url:
        app = build_application(Settings(database_url=url, log_level="WARNING"))
        app.start_background(listen=False)  # PostgreSQL: the sequencer numbers events
        try:
            tenants = [
                app.tenants.create_tenant(f"bench-{n}").tenant.id for n in range(args.tenants)
            ]
            writer = Writer(app)
            started = time.perf_counter()
            for tenant in tenants:
                writer.write(tenant, args.events, batch=100)
            settled(app)
            total = args.events * len(tenants)
            write_rate = total / (time.perf_counter() - started)
            with app.uow_factory(write=False) as uow:
                sample = uow.events.list(tenants[0], EventQuery(limit=args.events))
            bodies = [event_bytes(e) for e in sample] * len(tenants)
            tag = uuid.uuid4().hex[:10].upper()
            raw_library, raw_counted = asyncio.run(
                _raw(f"ACCRUE_BENCH_RAW_{tag}", f"bench_{tag}", bodies)
            )
            raw_rate = max(raw_library, raw_counted)
            relay_rate = asyncio.run(_relay(app, f"ACCRUE_BENCH_{tag}", tenants, total))
            latencies = asyncio.run(
                _latency(app, url, tenants, args.latency_events, args.latency_rate)
            )
        finally:
            app.close()
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"database:              {url.split(':', 1)[0]}")
    print(f"events written:        {write_rate:10,.0f} events/s (100 per transaction)")
    print(
        f"raw JetStream publish: {raw_rate:10,.0f} msg/s (acknowledged, the ceiling: the faster"
        f" of publish_async {raw_library:,.0f}/s and the relay's broker alone {raw_counted:,.0f}/s,"
        f" {WINDOW} batches of {BATCH} open)"
    )
    print(
        f"events relayed:        {relay_rate:10,.0f} events/s ({total:,} events, "
        f"{len(tenants)} tenants) = {relay_rate / raw_rate:.0%} of raw publishes, "
        f"{relay_rate / write_rate:.0%} of the write rate"
    )
    print(
        f"commit to receipt:     p50 {p50:.1f} ms, p99 {p99:.1f} ms "
        f"({len(latencies)} events at {args.latency_rate:.0f}/s, `accrue relay` process)"
    )
    verdict = "MET" if relay_rate >= GOAL_EVENTS_PER_SECOND else "NOT MET"
    print(f"goal: >= {GOAL_EVENTS_PER_SECOND:,} events relayed/s: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
