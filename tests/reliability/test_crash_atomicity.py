"""SIGKILL at random points: every business change is whole or absent.

A server under load (customers and ledger adjustments, each with a
request_id) is killed without warning, restarted on the same database and
killed again. Afterwards every change has exactly its event, its idempotency
key and its ledger rows, the sequences have no gaps, and retrying what was
never acknowledged ends with exactly one effect per request id.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf.message import Message
from sqlalchemy import Engine, select

from accrue import schema as t
from accrue.billing.v1 import customer_pb2 as cus
from accrue.billing.v1 import customer_pb2_grpc, event_pb2_grpc, ledger_pb2_grpc
from accrue.billing.v1 import event_pb2 as ev
from accrue.billing.v1 import ledger_pb2 as led
from accrue.billing.v1.money_pb2 import Money
from accrue.platform.db.engine import build_engine
from tests.reliability.processes import accrue, start_server
from tests.support import wait_sequenced

pytestmark = pytest.mark.timeout(120)

SEED = 20261122
ROUNDS = 3
WORKERS = 6
OK = grpc.StatusCode.OK
CREATE_CUSTOMER = "accrue.billing.v1.CustomerService/CreateCustomer"
CREATE_ADJUSTMENT = "accrue.billing.v1.LedgerService/CreateAdjustment"


@dataclass
class Stubs:
    channel: grpc.Channel
    metadata: tuple[tuple[str, str], ...]

    @property
    def customers(self) -> customer_pb2_grpc.CustomerServiceStub:
        return customer_pb2_grpc.CustomerServiceStub(self.channel)

    @property
    def ledger(self) -> ledger_pb2_grpc.LedgerServiceStub:
        return ledger_pb2_grpc.LedgerServiceStub(self.channel)

    @property
    def events(self) -> event_pb2_grpc.EventServiceStub:
        return event_pb2_grpc.EventServiceStub(self.channel)

    def send(self, request: Message) -> Message:
        """The one unary call that `request` is for."""
        if isinstance(request, cus.CreateCustomerRequest):
            return self.customers.CreateCustomer(request, metadata=self.metadata, timeout=10)  # type: ignore[no-any-return]
        assert isinstance(request, led.CreateAdjustmentRequest)
        return self.ledger.CreateAdjustment(request, metadata=self.metadata, timeout=10)  # type: ignore[no-any-return]


@contextmanager
def _stubs(port: int, key: str) -> Iterator[Stubs]:
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Stubs(channel, (("authorization", f"Bearer {key}"),))
    finally:
        channel.close()


def _request(request_id: str) -> Message:
    """Even-numbered requests create a customer, odd ones post a balanced adjustment."""
    if int(request_id.rsplit("-", 1)[1]) % 2 == 0:
        return cus.CreateCustomerRequest(
            customer=cus.Customer(display_name=request_id, currency_code="USD"),
            request_id=request_id,
        )
    usd = Money(amount_minor=100 + len(request_id), currency_code="USD")
    return led.CreateAdjustmentRequest(
        entries=[
            led.LedgerEntry(account_id="bank:USD", direction=led.ENTRY_DIRECTION_DEBIT, amount=usd),
            led.LedgerEntry(
                account_id="opening_balance:USD", direction=led.ENTRY_DIRECTION_CREDIT, amount=usd
            ),
        ],
        reason=f"opening cash {request_id}",
        request_id=request_id,
    )


@dataclass
class Sent:
    request: Message
    code: grpc.StatusCode
    answer_id: str = ""  # the id in the OK answer


def _load_then_kill(
    process: subprocess.Popen[str], port: int, key: str, round_: int, delay: float
) -> dict[str, Sent]:
    """Workers call as fast as they can until the server is SIGKILLed under them."""
    sent: dict[str, Sent] = {}
    lock = threading.Lock()

    def worker(number: int) -> None:
        with _stubs(port, key) as stubs:
            n = 0
            while True:
                request_id = f"r{round_}-w{number}-{n}"
                n += 1
                request = _request(request_id)
                try:
                    outcome = Sent(request, OK, stubs.send(request).id)  # type: ignore[attr-defined]
                except grpc.RpcError as error:
                    outcome = Sent(request, error.code())  # type: ignore[attr-defined]
                with lock:
                    sent[request_id] = outcome
                if outcome.code != OK:
                    return  # the server is gone; the client will retry after the restart

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    if process.stdout is not None:
        process.stdout.close()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive(), "a client hung on a killed server"
    return sent


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    finally:
        if process.stdout is not None:
            process.stdout.close()


@dataclass
class Snapshot:
    customers: set[str]
    transactions: dict[str, int]  # id -> sequence
    entries_per_transaction: Counter[str]
    events: list[tuple[int, str, str]]  # (sequence, type, resource_id)
    keys: dict[str, str]  # request_id -> id of the stored answer's resource
    ledger_head: int
    event_head: int


def _snapshot(engine: Engine) -> Snapshot:
    with engine.connect() as conn:
        customers = set(conn.execute(select(t.customers.c.id)).scalars())
        tx = t.ledger_transactions.c
        transactions = {row.id: row.sequence for row in conn.execute(select(tx.id, tx.sequence))}
        entries = Counter(conn.execute(select(t.ledger_entries.c.transaction_id)).scalars())
        e = t.events.c
        events = [
            (row.sequence, row.type, row.resource_id)
            for row in conn.execute(
                select(e.sequence, e.type, e.resource_id).order_by(e.tenant_id, e.sequence)
            )
        ]
        keys: dict[str, str] = {}
        k = t.idempotency_keys.c
        for row in conn.execute(select(k.request_id, k.method, k.response)):
            answer_type = cus.Customer if row.method == CREATE_CUSTOMER else led.LedgerTransaction
            assert row.method in (CREATE_CUSTOMER, CREATE_ADJUSTMENT), row.method
            keys[row.request_id] = answer_type.FromString(bytes(row.response)).id
        ledger_head = conn.execute(select(t.ledger_heads.c.last_sequence)).scalar_one()
        event_head = conn.execute(select(t.event_heads.c.last_sequence)).scalar_one()
    return Snapshot(customers, transactions, entries, events, keys, ledger_head, event_head)


def _assert_whole(state: Snapshot, stubs: Stubs) -> None:
    """Each change is all there (row, entries, event, key) or not at all."""
    posted = Counter(rid for _, type_, rid in state.events if type_ == "ledger.transaction_posted")
    created = Counter(rid for _, type_, rid in state.events if type_ == "customer.created")
    assert {type_ for _, type_, _ in state.events} <= {
        "customer.created",
        "ledger.transaction_posted",
    }
    assert set(posted) == set(state.transactions), "a transaction without its event, or the reverse"
    assert set(posted.values()) <= {1}, "a transaction with more than one event"
    assert set(created) == state.customers, "a customer without its event, or the reverse"
    assert set(created.values()) <= {1}, "a customer with more than one event"
    assert all(state.entries_per_transaction[tx] == 2 for tx in state.transactions)
    assert set(state.entries_per_transaction) == set(state.transactions), "orphaned entries"

    assert len(state.keys) == len(state.customers) + len(state.transactions)
    assert set(state.keys.values()) == state.customers | set(state.transactions), (
        "a change without its idempotency key, or a key whose change is missing"
    )

    n, m = len(state.events), len(state.transactions)
    assert [seq for seq, _, _ in state.events] == list(range(1, n + 1))
    assert sorted(state.transactions.values()) == list(range(1, m + 1))
    assert (state.event_head, state.ledger_head) == (n, m)

    verdict = stubs.ledger.VerifyLedger(
        led.VerifyLedgerRequest(), metadata=stubs.metadata, timeout=30
    )
    assert verdict.intact, verdict
    assert verdict.transactions_checked == m
    listed: list[tuple[int, str, str]] = []
    token = ""
    while True:
        page = stubs.events.ListEvents(
            ev.ListEventsRequest(page_size=1000, page_token=token),
            metadata=stubs.metadata,
            timeout=30,
        )
        listed.extend((e.sequence, e.type, e.resource_id) for e in page.events)
        token = page.next_page_token
        if not token:
            break
    assert listed == state.events, "the API and the database disagree about the event log"


def test_sigkill_at_random_points_leaves_every_change_whole_or_absent(database_url: str) -> None:
    env = {
        **os.environ,
        "ACCRUE_DATABASE_URL": database_url,
        "ACCRUE_LOG_LEVEL": "WARNING",
    }
    created = accrue("tenant", "create", "crash", env=env)
    key = re.search(r"api key (\S+)", created).group(1)  # type: ignore[union-attr]
    rng = random.Random(SEED)
    sent: dict[str, Sent] = {}
    for round_ in range(ROUNDS):
        process, port = start_server(env)
        sent |= _load_then_kill(process, port, key, round_, rng.uniform(0.3, 1.5))

    acknowledged = {rid: s.answer_id for rid, s in sent.items() if s.code == OK}
    unanswered = sorted(rid for rid, s in sent.items() if s.code != OK)
    assert len(acknowledged) > 50, "the load did not run long enough to mean anything"
    assert len(unanswered) >= ROUNDS, "no kill caught a request in flight"

    engine = build_engine(database_url)
    process, port = start_server(env)
    try:
        with _stubs(port, key) as stubs:
            wait_sequenced(engine)
            before = _snapshot(engine)
            _assert_whole(before, stubs)
            for rid, answer_id in acknowledged.items():
                assert before.keys.get(rid) == answer_id, f"acknowledged {rid} was lost"
            assert set(before.keys) <= set(sent)

            # The clients retry what never got an answer, with the same request ids.
            retried: dict[str, str] = {}
            for rid in unanswered:
                retried[rid] = _retry(stubs, sent[rid].request)
            for rid in unanswered:
                if rid in before.keys:  # it committed, but the answer died with the server
                    assert retried[rid] == before.keys[rid], f"{rid} took effect twice"

            wait_sequenced(engine)
            after = _snapshot(engine)
            _assert_whole(after, stubs)
            customer_requests = {
                rid for rid, s in sent.items() if isinstance(s.request, cus.CreateCustomerRequest)
            }
            assert len(after.customers) == len(customer_requests)
            assert len(after.transactions) == len(sent) - len(customer_requests)
            assert len(after.events) == len(sent)
            assert after.keys == {**acknowledged, **retried}
    finally:
        _stop(process)
        engine.dispose()


def _retry(stubs: Stubs, request: Message) -> str:
    """Send again until answered; ABORTED (still in flight) means "come back shortly"."""
    for _ in range(50):
        try:
            return stubs.send(request).id  # type: ignore[attr-defined,no-any-return]
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.ABORTED:  # type: ignore[attr-defined]
                raise
            time.sleep(0.1)
    raise AssertionError(f"{request.request_id} stayed in flight")  # type: ignore[attr-defined]
