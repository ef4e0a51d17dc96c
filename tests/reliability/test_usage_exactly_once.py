"""Exactly once on PostgreSQL: 16 callers resend overlapping batches with random
duplicates (seeded); the aggregate and the billed quantity equal the distinct events."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest

from accrue.billing.v1 import usage_pb2 as use
from tests.conftest import Transport
from tests.contract.billing_steps import Scenario, utc
from tests.contract.test_usage import USAGE, event, meter, usage
from tests.contract.test_usage_billing import cycle_invoice, metered_price, subscribe
from tests.support import GrpcClients, running_server

pytestmark = pytest.mark.timeout(300)
THREADS = 16
DISTINCT = 3000
BATCH = 200


def test_sixteen_callers_resending_overlapping_batches_bill_each_event_once(
    postgres_url: str,
) -> None:
    start = utc(2026, 1, 1)
    with running_server(postgres_url) as server:
        key = server.new_tenant("exactly-once")
        clients = GrpcClients(server.grpc_target, key)
        s = Scenario(Transport("grpc", clients), start, name="exactly-once")
        calls = meter(s, use.METER_AGGREGATION_COUNT, prop="")
        customer = s.customer()
        price = metered_price(s, calls.id, unit=1)
        subscription = subscribe(s, customer.id, price.id)
        s.advance(start + timedelta(days=20))
        events = [
            event(calls.id, customer.id, start + timedelta(minutes=i % 20000), f"evt-{i}")
            for i in range(DISTINCT)
        ]
        accepted: list[int] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def caller(seed: int) -> None:
            rng = random.Random(seed)
            mine = GrpcClients(server.grpc_target, key)
            try:
                for _ in range(DISTINCT // BATCH):
                    first = rng.randrange(0, DISTINCT - BATCH)
                    batch = events[first : first + BATCH]
                    batch += rng.sample(batch, 20)  # duplicates inside the batch too
                    rng.shuffle(batch)
                    answer = mine.call(USAGE, "IngestUsage", use.IngestUsageRequest(events=batch))
                    assert answer.refused_count == 0, answer
                    with lock:
                        accepted.append(answer.accepted_count)
                # Then every event once more, so the distinct set is complete.
                for first in range(0, DISTINCT, 1000):
                    answer = mine.call(
                        USAGE,
                        "IngestUsage",
                        use.IngestUsageRequest(events=events[first : first + 1000]),
                    )
                    with lock:
                        accepted.append(answer.accepted_count)
            except BaseException as error:  # surfaced below
                errors.append(error)
            finally:
                mine.close()

        threads = [threading.Thread(target=caller, args=(seed,)) for seed in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors[0]
        assert sum(accepted) == DISTINCT
        assert usage(s, customer.id, calls.id) == {(): str(DISTINCT)}
        s.advance(utc(2026, 2, 1))
        (line,) = cycle_invoice(s, subscription.id, start).lines
        assert (line.quantity, line.amount.amount_minor) == (DISTINCT, DISTINCT)
        clients.close()
