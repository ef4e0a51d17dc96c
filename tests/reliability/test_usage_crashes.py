"""`accrue serve` SIGKILLed at seeded random moments while 8 callers ingest
overlapping batches on PostgreSQL; after a restart every caller resends
everything. Each event counts exactly once: the aggregate equals the distinct
events, and no batch was half stored (a batch commits whole or not at all).
"""

from __future__ import annotations

import os
import random
import re
import signal
import threading
import time
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from accrue.billing.v1 import customer_pb2 as cus
from accrue.billing.v1 import usage_pb2 as use
from tests.reliability.processes import accrue, start_server
from tests.support import GrpcClients

pytestmark = pytest.mark.timeout(300)
CALLERS = 8
DISTINCT = 4000
BATCH = 250
SEED = int(os.environ.get("ACCRUE_USAGE_CRASH_SEED", "1606"))


def _send_all(
    target: str, key: str, batches: list[use.IngestUsageRequest], stop: threading.Event
) -> None:
    clients = GrpcClients(target, key)
    try:
        for batch in batches:
            if stop.is_set():
                return
            try:
                clients.call("UsageService", "IngestUsage", batch)
            except grpc.RpcError:
                return  # the server died under us
    finally:
        clients.close()


def test_kills_mid_ingestion_lose_and_double_nothing(postgres_url: str) -> None:
    rng = random.Random(SEED)
    env = {**os.environ, "ACCRUE_DATABASE_URL": postgres_url, "ACCRUE_LOG_LEVEL": "ERROR"}
    created = accrue("tenant", "create", "crashes", env=env)
    key = re.search(r"api key (\S+)", created).group(1)  # type: ignore[union-attr]
    server, port = start_server(env)
    target = f"127.0.0.1:{port}"
    clients = GrpcClients(target, key)
    meter = clients.call(
        "UsageService",
        "CreateMeter",
        use.CreateMeterRequest(
            meter=use.Meter(display_name="calls", aggregation=use.METER_AGGREGATION_COUNT)
        ),
    )
    customer = clients.call(
        "CustomerService",
        "CreateCustomer",
        cus.CreateCustomerRequest(customer=cus.Customer(display_name="c", currency_code="USD")),
    )
    clients.close()
    now = datetime.now(UTC).replace(microsecond=0)
    start = now.replace(day=1, hour=0, minute=0, second=0)
    span = max(int((now - start).total_seconds()), 1)
    events = [
        use.UsageEventInput(id=f"e{i}", meter_id=meter.id, customer_id=customer.id, properties={})
        for i in range(DISTINCT)
    ]
    for i, item in enumerate(events):
        item.timestamp.FromDatetime(start + timedelta(seconds=(i * 7919) % span))
    plans = []
    for _ in range(CALLERS):
        batches = []
        for _ in range(DISTINCT // BATCH):
            first = rng.randrange(0, DISTINCT - BATCH)
            chosen = events[first : first + BATCH]
            batches.append(use.IngestUsageRequest(events=chosen + rng.sample(chosen, 10)))
        plans.append(batches)
    try:
        for _round in range(3):
            stop = threading.Event()
            threads = [
                threading.Thread(target=_send_all, args=(target, key, plan, stop)) for plan in plans
            ]
            for thread in threads:
                thread.start()
            time.sleep(rng.uniform(0.3, 2.0))
            server.send_signal(signal.SIGKILL)
            server.wait()
            stop.set()
            for thread in threads:
                thread.join()
            server, port = start_server(env)
            target = f"127.0.0.1:{port}"
        # After the last restart, everything once more, in full.
        clients = GrpcClients(target, key)
        accepted = duplicate = 0
        for first in range(0, DISTINCT, 1000):
            answer = clients.call(
                "UsageService",
                "IngestUsage",
                use.IngestUsageRequest(events=events[first : first + 1000]),
            )
            assert answer.refused_count == 0
            accepted += answer.accepted_count
            duplicate += answer.duplicate_count
        assert accepted + duplicate == DISTINCT
        usage = clients.call(
            "UsageService",
            "GetCustomerUsage",
            use.GetCustomerUsageRequest(customer_id=customer.id, meter_id=meter.id),
        )
        assert [(a.quantity, a.event_count) for a in usage.aggregates] == [
            (str(DISTINCT), DISTINCT)
        ]
        clients.close()
    finally:
        server.kill()
        server.wait()
