"""Webhook deliveries per second to a local receiver, against raw signed POSTs to it.

One run, one SQLite database: (1) the event write rate (reference), (2) raw POSTs
of the same signed bodies from the same sender, one thread per endpoint (the
ceiling), (3) the dispatcher delivering every event to every endpoint, (4)
commit-to-receipt latency while events are written at a steady rate. See
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from harness import postgres_database

from accrue.bootstrap import Application, build_application
from accrue.config import Settings
from accrue.customers.service import CustomerService, NewCustomer
from accrue.event_log.service import EventRecorder
from accrue.kernel.events import EventQuery
from accrue.kernel.ids import IdGenerator
from accrue.webhooks.convert import event_json
from accrue.webhooks.http import HttpSender
from accrue.webhooks.model import new_secret, signed_headers
from accrue.webhooks.ports import Request

GOAL_DELIVERIES_PER_SECOND = 1_000


def _receiver_main(port_queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """A minimal ASGI receiver (uvicorn, httptools): records (webhook-id, receipt time)."""
    import socket

    import uvicorn

    seen: list[tuple[str, float]] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        if scope["method"] == "GET":
            body = json.dumps(len(seen) if scope["path"] == "/count" else seen).encode()
            if scope["path"] == "/reset":
                seen.clear()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        headers = dict(scope["headers"])
        seen.append((headers.get(b"webhook-id", b"").decode(), time.time()))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port_queue.put(sock.getsockname()[1])
    config = uvicorn.Config(app, log_level="error", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


def _get(url: str) -> list[tuple[str, float]]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return [(str(i), float(t)) for i, t in json.loads(response.read())]


def _count(base: str) -> int:
    with urllib.request.urlopen(f"{base}/count", timeout=30) as response:
        return int(json.loads(response.read()))


class Writer:
    """customer.created events through the real use case, `batch` per transaction."""

    def __init__(self, app: Application) -> None:
        self._app = app
        ids = IdGenerator(app.clock)
        self._customers = CustomerService(
            app.clock, ids, EventRecorder(app.clock, ids, lambda: "0" * 32)
        )

    def write(self, tenant_id: str, count: int, *, batch: int) -> list[float]:
        """Returns the wall time of each commit."""
        commits = []
        left = count
        while left:
            n = min(batch, left)
            with self._app.uow_factory(write=True) as uow:
                for _ in range(n):
                    self._customers.create_customer(
                        uow,
                        tenant_id,
                        NewCustomer("Bench", "", "USD", None, None, "", {}),
                    )
                uow.commit()
            commits.append(time.time())
            left -= n
        return commits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000, help="events per tenant")
    parser.add_argument("--endpoints", type=int, default=4, help="endpoints (one per tenant)")
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
        args.events, args.endpoints, args.latency_events = 150, 2, 40
    print(f"setup: load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores", flush=True)

    ctx = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    receiver = ctx.Process(target=_receiver_main, args=(ports,), daemon=True)
    receiver.start()
    base = f"http://127.0.0.1:{ports.get(timeout=30)}"
    with bench_database(postgres=args.postgres) as url:
        settings = Settings(
            database_url=url,
            log_level="WARNING",
            webhook_allowed_networks="127.0.0.1/32",
            webhook_workers=max(8, args.endpoints),
        )
        app = build_application(settings)
        app.start_background(listen=False)  # PostgreSQL: the sequencer numbers events
        try:
            return _run(app, args, base)
        finally:
            app.close()
            receiver.terminate()


@contextmanager
def bench_database(*, postgres: bool) -> Iterator[str]:
    """A throwaway SQLite file, or a fresh database on ACCRUE_BENCH_POSTGRES_URL."""
    if not postgres:
        with tempfile.TemporaryDirectory() as workdir:
            yield f"sqlite:///{Path(workdir) / 'bench.db'}"
        return
    admin = os.environ.get("ACCRUE_BENCH_POSTGRES_URL")
    if not admin:
        raise SystemExit("--postgres needs ACCRUE_BENCH_POSTGRES_URL")
    with postgres_database(admin) as url:
        if url is None:
            raise SystemExit("PostgreSQL is not reachable")
        yield url


def settled(app: Application) -> None:
    """PostgreSQL numbers events after commit: wait until every written one is numbered."""
    if app.sequencer is not None:
        app.sequencer.drain(timeout=120)


def _run(app: Application, args: argparse.Namespace, base: str) -> int:
    from accrue.webhooks.http import SocketResolver
    from accrue.webhooks.model import AddressPolicy, Ordering
    from accrue.webhooks.service import NewEndpoint, UrlVetter, WebhookService

    ids = IdGenerator(app.clock)
    service = WebhookService(
        app.clock, ids, UrlVetter(SocketResolver(), AddressPolicy.parse("127.0.0.1/32"))
    )
    tenants = [app.tenants.create_tenant(f"bench-{n}").tenant.id for n in range(args.endpoints)]
    for n, tenant in enumerate(tenants):
        with app.uow_factory(write=True) as uow:
            service.create_endpoint(
                uow, tenant, NewEndpoint(f"{base}/t{n}", (), "", Ordering.SEQUENCE)
            )
            uow.commit()
    writer = Writer(app)

    # (1) Event write rate, 100 per transaction (numbered, on PostgreSQL).
    started = time.perf_counter()
    for tenant in tenants:
        writer.write(tenant, args.events, batch=100)
    settled(app)
    total = args.events * len(tenants)
    write_rate = total / (time.perf_counter() - started)

    # (2) Ceiling: the same sender POSTing the same signed bodies, one thread per endpoint.
    with app.uow_factory(write=False) as uow:
        sample = uow.events.list(tenants[0], EventQuery(limit=args.events))
    bodies = [event_json(e) for e in sample]
    secret = new_secret()
    sender = HttpSender()

    def raw(n: int) -> None:
        for event, body in zip(sample, bodies, strict=True):
            headers = signed_headers(
                secrets_=[secret], message_id=event.id, now=datetime.now(UTC), body=body
            )
            result = sender.send(
                Request(f"{base}/raw{n}", "127.0.0.1", headers, body), timeout_seconds=10
            )
            if not result.succeeded:
                raise RuntimeError(f"raw POST failed: {result}")

    started = time.perf_counter()
    with ThreadPoolExecutor(len(tenants)) as pool:
        list(pool.map(raw, range(len(tenants))))
    raw_rate = total / (time.perf_counter() - started)
    _get(f"{base}/reset")

    # (3) The dispatcher: fan-out, signing, sending, recording, every delivery.
    dispatcher = app.webhook_dispatcher
    assert dispatcher is not None
    stop = threading.Event()
    thread = threading.Thread(
        target=dispatcher.run, args=(stop,), kwargs={"poll_seconds": 0.05}, daemon=True
    )
    started = time.perf_counter()
    thread.start()
    received = 0
    while received < total:
        time.sleep(0.05)
        received = _count(base)
        if time.perf_counter() - started > 600:
            print(f"ERROR: only {received} of {total} deliveries arrived", file=sys.stderr)
            return 1
    delivery_rate = total / (time.perf_counter() - started)
    seen = _get(f"{base}/reset")
    if len({i for i, _t in seen}) != total:
        print(f"ERROR: {len(seen)} receipts for {total} deliveries", file=sys.stderr)

    # (4) Commit-to-receipt latency, one event per transaction at a steady rate.
    interval = 1.0 / args.latency_rate
    commits: list[float] = []
    for _ in range(args.latency_events):
        commits += writer.write(tenants[0], 1, batch=1)
        time.sleep(interval)
    deadline = time.perf_counter() + 60
    while _count(base) < args.latency_events and time.perf_counter() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(30)
    receipts = dict(_get(f"{base}/stats"))
    with app.uow_factory(write=False) as uow:
        events = uow.events.list(
            tenants[0], EventQuery(after_sequence=args.events, limit=args.latency_events)
        )
    latencies = sorted(
        (receipts[e.id] - commit) * 1000 for e, commit in zip(events, commits, strict=True)
    )
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]

    print(f"database:            {app.engine.dialect.name}")
    print(f"events written:      {write_rate:10,.0f} events/s (100 per transaction)")
    print(f"raw signed POSTs:    {raw_rate:10,.0f} POST/s ({len(tenants)} threads, the ceiling)")
    print(
        f"webhook deliveries:  {delivery_rate:10,.0f} deliveries/s "
        f"({total:,} to {len(tenants)} endpoints) = {delivery_rate / raw_rate:.0%} of raw POSTs,"
        f" {delivery_rate / write_rate:.0%} of the write rate"
    )
    print(
        f"commit to receipt:   p50 {p50:.1f} ms, p99 {p99:.1f} ms "
        f"({len(latencies)} events at {args.latency_rate:.0f}/s)"
    )
    verdict = "MET" if delivery_rate >= GOAL_DELIVERIES_PER_SECOND else "NOT MET"
    print(f"goal: >= {GOAL_DELIVERIES_PER_SECOND:,} deliveries/s: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
