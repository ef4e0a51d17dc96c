"""SIGTERM under load: in-flight calls finish, nothing is half-written, and a
client that retries with its request_id ends with exactly one effect each."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from pathlib import Path

import grpc
from sqlalchemy import create_engine, func, select

from accrue import schema as tables
from accrue.billing.v1 import customer_pb2 as pb
from accrue.billing.v1 import customer_pb2_grpc
from tests.reliability.processes import accrue, start_server

ACCEPTABLE_DURING_SHUTDOWN = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}


def test_sigterm_during_load_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "accrue.db"
    env = {
        **os.environ,
        "ACCRUE_DATABASE_URL": f"sqlite:///{db}",
        "ACCRUE_LOG_LEVEL": "WARNING",
        "ACCRUE_SHUTDOWN_GRACE_SECONDS": "5",
    }
    key = re.search(r"api key (\S+)", accrue("tenant", "create", "shutdown", env=env)).group(1)  # type: ignore[union-attr]
    process, port = start_server(env)
    metadata = (("authorization", f"Bearer {key}"),)
    outcomes: dict[str, grpc.StatusCode] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def client(worker: int) -> None:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        stub = customer_pb2_grpc.CustomerServiceStub(channel)
        n = 0
        while not stop.is_set():
            request_id = f"w{worker}-{n}"
            n += 1
            request = pb.CreateCustomerRequest(
                customer=pb.Customer(display_name=request_id, currency_code="USD"),
                request_id=request_id,
            )
            try:
                stub.CreateCustomer(request, metadata=metadata, timeout=10)
                code = grpc.StatusCode.OK
            except grpc.RpcError as error:
                code = error.code()  # type: ignore[attr-defined]
            with lock:
                outcomes[request_id] = code
            if code != grpc.StatusCode.OK:
                break
        channel.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    stop.set()
    for thread in threads:
        thread.join(timeout=20)

    ok = {rid for rid, code in outcomes.items() if code == grpc.StatusCode.OK}
    failed = {rid: code for rid, code in outcomes.items() if code != grpc.StatusCode.OK}
    assert len(ok) > 20, "the load did not run long enough to mean anything"
    assert set(failed.values()) <= ACCEPTABLE_DURING_SHUTDOWN, failed

    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        names = set(conn.execute(select(tables.customers.c.display_name)).scalars())
        keys = set(conn.execute(select(tables.idempotency_keys.c.request_id)).scalars())
    assert ok <= names, "an acknowledged create was lost"
    assert names == keys, "a customer without its idempotency key, or the reverse"

    # The clients retry what failed, with the same request ids, after a restart.
    process, port = start_server(env)
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        stub = customer_pb2_grpc.CustomerServiceStub(channel)
        for request_id in sorted(failed):
            stub.CreateCustomer(
                pb.CreateCustomerRequest(
                    customer=pb.Customer(display_name=request_id, currency_code="USD"),
                    request_id=request_id,
                ),
                metadata=metadata,
                timeout=10,
            )
        channel.close()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(tables.customers)).scalar_one()
    engine.dispose()
    assert total == len(outcomes), "every request id has exactly one customer"
