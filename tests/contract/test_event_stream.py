"""EventService through the real server: every change writes its event, and
StreamEvents resumes from a cursor without gaps or duplicates."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from connectrpc.errors import ConnectError
from google.protobuf import field_mask_pb2
from google.protobuf.message import Message

from accrue.billing.v1 import catalog_pb2 as cat
from accrue.billing.v1 import common_pb2
from accrue.billing.v1 import customer_pb2 as cus
from accrue.billing.v1 import event_pb2 as ev
from accrue.billing.v1 import ledger_pb2 as led
from accrue.billing.v1.money_pb2 import Money
from accrue.events.v1 import events_pb2 as payloads
from tests.conftest import Transport
from tests.support import (
    ConnectClients,
    Failure,
    GrpcClients,
    RunningServer,
    failure_of_connect,
    failure_of_grpc,
    running_server,
)

pytestmark = pytest.mark.timeout(60)

CATALOG = "accrue.billing.v1.CatalogService"
CUSTOMERS = "accrue.billing.v1.CustomerService"
LEDGER = "accrue.billing.v1.LedgerService"
EVENTS = "accrue.billing.v1.EventService"
TRANSPORTS = ["grpc", "connect"]


# --- helpers -------------------------------------------------------------------------------


def _clients(transport: str, server: RunningServer, api_key: str) -> GrpcClients | ConnectClients:
    if transport == "grpc":
        return GrpcClients(server.grpc_target, api_key)
    return ConnectClients(server.connect_url, api_key)


class EventStream:
    """One open StreamEvents call on either transport; iterate it, then close it."""

    def __init__(
        self,
        clients: GrpcClients | ConnectClients,
        after_sequence: int,
        *,
        timeout: float,
        types: tuple[str, ...] = (),
    ) -> None:
        request = ev.StreamEventsRequest(after_sequence=after_sequence, types=list(types))
        if isinstance(clients, GrpcClients):
            call = clients.events.StreamEvents(request, metadata=clients.metadata, timeout=timeout)
            self._items: Iterator[ev.Event] = call
            self._close: Callable[[], object] = call.cancel
        else:
            items = clients.events.stream_events(
                request, headers=clients.headers, timeout_ms=int(timeout * 1000)
            )
            self._items = items
            self._close = items.close  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[ev.Event]:
        return self._items

    def close(self) -> None:
        self._close()


def _failure(error: Exception) -> Failure:
    if isinstance(error, grpc.RpcError):
        return failure_of_grpc(error)
    if isinstance(error, ConnectError):
        return failure_of_connect(error)
    raise error


def _all_events(call: Callable[[str, str, Message], Message], **query: object) -> list[ev.Event]:
    """Every event matching `query`, following next_page_token."""
    found: list[ev.Event] = []
    token = ""
    while True:
        page = call(
            EVENTS, "ListEvents", ev.ListEventsRequest(page_size=1000, page_token=token, **query)
        )  # type: ignore[arg-type]
        found.extend(page.events)  # type: ignore[attr-defined]
        token = page.next_page_token  # type: ignore[attr-defined]
        if not token:
            return found


def _head(clients: GrpcClients | ConnectClients) -> int:
    events = _all_events(clients.call)
    return events[-1].sequence if events else 0


def _new_customer(clients: GrpcClients | ConnectClients, request_id: str = "") -> cus.Customer:
    return clients.call(  # type: ignore[no-any-return]
        CUSTOMERS,
        "CreateCustomer",
        cus.CreateCustomerRequest(
            customer=cus.Customer(display_name=request_id or "Ada", currency_code="USD"),
            request_id=request_id,
        ),
    )


def _usd(minor: int) -> Money:
    return Money(amount_minor=minor, currency_code="USD")


# --- every change writes its event ---------------------------------------------------------


def test_every_state_change_writes_one_event_in_commit_order(rpc: Transport) -> None:
    call = rpc.call
    product = call(
        CATALOG, "CreateProduct", cat.CreateProductRequest(product=cat.Product(display_name="Plan"))
    )
    price = call(
        CATALOG,
        "CreatePrice",
        cat.CreatePriceRequest(
            price=cat.Price(
                product_id=product.id,
                currency_code="USD",
                pricing_scheme=cat.PRICING_SCHEME_PER_UNIT,
                unit_amount=_usd(500),
            )
        ),
    )
    call(
        CATALOG,
        "UpdatePrice",
        cat.UpdatePriceRequest(
            price=cat.Price(id=price.id, nickname="renamed"),
            update_mask=field_mask_pb2.FieldMask(paths=["nickname"]),
        ),
    )
    call(CATALOG, "ArchiveProduct", cat.ArchiveProductRequest(id=product.id))
    customer = call(
        CUSTOMERS,
        "CreateCustomer",
        cus.CreateCustomerRequest(customer=cus.Customer(display_name="Ada", currency_code="USD")),
    )
    attached = call(
        CUSTOMERS,
        "AttachPaymentMethod",
        cus.AttachPaymentMethodRequest(
            customer_id=customer.id,
            payment_method=cus.PaymentMethod(
                psp="simulated", token="tok_visa", type=cus.PAYMENT_METHOD_TYPE_CARD
            ),
        ),
    )
    method_id = attached.payment_methods[0].id
    call(
        CUSTOMERS,
        "DetachPaymentMethod",
        cus.DetachPaymentMethodRequest(customer_id=customer.id, payment_method_id=method_id),
    )
    call(CUSTOMERS, "ArchiveCustomer", cus.ArchiveCustomerRequest(id=customer.id))
    transaction = call(
        LEDGER,
        "CreateAdjustment",
        led.CreateAdjustmentRequest(
            entries=[
                led.LedgerEntry(
                    account_id="bank:USD", direction=led.ENTRY_DIRECTION_DEBIT, amount=_usd(1000)
                ),
                led.LedgerEntry(
                    account_id="opening_balance:USD",
                    direction=led.ENTRY_DIRECTION_CREDIT,
                    amount=_usd(1000),
                ),
            ],
            reason="opening balance",
        ),
    )

    archived = common_pb2.LIFECYCLE_STATE_ARCHIVED
    expected: list[tuple[str, str, type[Message], Callable[[Message], bool]]] = [
        (
            "product.created",
            product.id,
            payloads.ProductChanged,
            lambda p: p.product.id == product.id,
        ),
        ("price.created", price.id, payloads.PriceChanged, lambda p: p.price.id == price.id),
        ("price.updated", price.id, payloads.PriceChanged, lambda p: p.price.nickname == "renamed"),
        (
            "product.archived",
            product.id,
            payloads.ProductChanged,
            lambda p: p.product.state == archived,
        ),
        (
            "customer.created",
            customer.id,
            payloads.CustomerChanged,
            lambda p: p.customer.id == customer.id,
        ),
        (
            "customer.payment_method_attached",
            customer.id,
            payloads.CustomerChanged,
            lambda p: [m.id for m in p.customer.payment_methods] == [method_id],
        ),
        (
            "customer.payment_method_detached",
            customer.id,
            payloads.CustomerChanged,
            lambda p: method_id not in [m.id for m in p.customer.payment_methods],
        ),
        (
            "customer.archived",
            customer.id,
            payloads.CustomerChanged,
            lambda p: p.customer.state == archived,
        ),
        (
            "ledger.transaction_posted",
            transaction.id,
            payloads.LedgerTransactionPosted,
            lambda p: p.transaction.id == transaction.id and len(p.transaction.entries) == 2,
        ),
    ]

    events = _all_events(call)
    assert [e.type for e in events] == [row[0] for row in expected]
    assert [e.sequence for e in events] == list(range(1, len(expected) + 1))
    assert len({e.id for e in events}) == len(events)
    for event, (type_, resource_id, payload_type, check) in zip(events, expected, strict=True):
        assert event.id.startswith("evt_")
        assert event.resource_id == resource_id
        # A ledger event is about the posted transaction, not about "a ledger".
        resource_type = "ledger_transaction" if type_.startswith("ledger.") else type_.split(".")[0]
        assert event.resource_type == resource_type
        assert event.occur_time.seconds > 0
        payload = payload_type()
        assert event.payload.Unpack(payload), f"{type_} payload is {event.payload.type_url}"
        assert check(payload), f"{type_} payload: {payload}"


def test_list_events_filters_by_type_and_resource_and_pages(
    rpc: Transport, server: RunningServer
) -> None:
    first = _new_customer(rpc.clients)  # type: ignore[arg-type]
    second = _new_customer(rpc.clients)  # type: ignore[arg-type]
    for customer in (first, second):
        rpc.call(CUSTOMERS, "ArchiveCustomer", cus.ArchiveCustomerRequest(id=customer.id))
    everything = _all_events(rpc.call)
    assert [e.type for e in everything] == ["customer.created"] * 2 + ["customer.archived"] * 2

    archived = _all_events(rpc.call, types=["customer.archived"])
    assert [(e.sequence, e.resource_id) for e in archived] == [(3, first.id), (4, second.id)]
    of_first = _all_events(rpc.call, resource_id=first.id)
    assert [e.sequence for e in of_first] == [1, 3]
    both = _all_events(rpc.call, types=["customer.created"], resource_id=second.id)
    assert [e.sequence for e in both] == [2]
    window = _all_events(rpc.call, after_sequence=1, up_to_sequence=3)
    assert [e.sequence for e in window] == [2, 3]

    pages: list[list[int]] = []
    token = ""
    while True:
        page = rpc.call(EVENTS, "ListEvents", ev.ListEventsRequest(page_size=3, page_token=token))
        pages.append([e.sequence for e in page.events])  # type: ignore[attr-defined]
        token = page.next_page_token  # type: ignore[attr-defined]
        if not token:
            break
    assert pages == [[1, 2, 3], [4]]


def test_events_of_another_tenant_are_never_visible(rpc: Transport, server: RunningServer) -> None:
    mine = _new_customer(rpc.clients)  # type: ignore[arg-type]
    other = _clients(rpc.name, server, server.new_tenant("other"))
    try:
        theirs = _new_customer(other)
        assert [e.resource_id for e in _all_events(rpc.call)] == [mine.id]
        assert [e.resource_id for e in _all_events(other.call)] == [theirs.id]
        assert _all_events(other.call, resource_id=mine.id) == []
        streamed = other.call(EVENTS, "StreamEvents", ev.StreamEventsRequest())
        assert [e.resource_id for e in streamed.events] == [theirs.id]  # type: ignore[attr-defined]
    finally:
        other.close()


# --- resuming the stream -------------------------------------------------------------------


@dataclass
class Writers:
    """Threads that keep committing CreateCustomer calls until stopped."""

    server: RunningServer
    api_key: str
    count: int = 2
    ok: list[str] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _run(self, worker: int) -> None:
        clients = GrpcClients(self.server.grpc_target, self.api_key)
        try:
            n = 0
            while not self._stop.is_set():
                customer = _new_customer(clients, request_id=f"writer{worker}-{n}")
                n += 1
                self.ok.append(customer.id)
                time.sleep(0.001)
        except BaseException as error:  # reported by stop()
            self.errors.append(error)
        finally:
            clients.close()

    def start(self) -> Writers:
        self._threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(self.count)
        ]
        for thread in self._threads:
            thread.start()
        return self

    @property
    def running(self) -> bool:
        return not self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        assert not self.errors, self.errors


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_stream_resumed_from_last_sequence_misses_and_repeats_nothing(
    transport: str, server: RunningServer
) -> None:
    api_key = server.new_tenant("resume")
    consumer = _clients(transport, server, api_key)
    rng = random.Random(1234)
    received: list[ev.Event] = []
    cursor = 0
    connections = 0
    writers = Writers(server, api_key).start()
    started = time.monotonic()
    try:
        # At least 2.5 s, and on a slow machine on until 20 reconnections (30 s at most).
        while (elapsed := time.monotonic() - started) < 2.5 or (connections <= 20 and elapsed < 30):
            # Read a random number of events, then hang up (or let a short deadline
            # hang up for us when the writers are between commits), and resume.
            wanted = rng.randint(1, 30)
            stream = EventStream(consumer, cursor, timeout=rng.uniform(0.2, 1.0))
            connections += 1
            try:
                for event in stream:
                    received.append(event)
                    cursor = event.sequence
                    wanted -= 1
                    if wanted == 0:
                        break
            except (grpc.RpcError, ConnectError) as error:
                assert _failure(error).code == "DEADLINE_EXCEEDED", error
            finally:
                stream.close()
    finally:
        writers.stop()

    committed = _all_events(consumer.call)
    total = len(committed)
    # Drain: one more connection delivers everything after the cursor, then idles.
    stream = EventStream(consumer, cursor, timeout=20)
    try:
        if cursor < total:
            for event in stream:
                received.append(event)
                cursor = event.sequence
                if cursor >= total:
                    break
    finally:
        stream.close()
    consumer.close()

    assert total == len(writers.ok) > 100, "the writers did not commit enough to mean anything"
    assert connections > 20, "the consumer did not reconnect often enough to mean anything"
    assert [e.sequence for e in received] == list(range(1, total + 1))
    assert len({e.id for e in received}) == total
    assert [e.id for e in received] == [e.id for e in committed]
    assert {e.resource_id for e in received} == set(writers.ok)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_idle_stream_stays_open_and_delivers_a_later_event_promptly(
    transport: str, server: RunningServer
) -> None:
    api_key = server.new_tenant("idle")
    consumer = _clients(transport, server, api_key)
    writer = GrpcClients(server.grpc_target, api_key)
    earlier = _new_customer(writer)
    stream = EventStream(consumer, after_sequence=1, timeout=15)
    arrivals: list[tuple[float, ev.Event]] = []
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            for event in stream:
                arrivals.append((time.monotonic(), event))
                return
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    try:
        time.sleep(1.5)
        assert thread.is_alive(), f"the idle stream ended: {errors}"
        assert arrivals == []
        committed_at = time.monotonic()
        later = _new_customer(writer)
        thread.join(timeout=5)
    finally:
        stream.close()
        writer.close()
        consumer.close()
    assert not errors, errors
    assert len(arrivals) == 1, "the event committed later never arrived"
    arrived_at, event = arrivals[0]
    assert (event.sequence, event.resource_id) == (2, later.id)
    assert earlier.id != later.id
    assert arrived_at - committed_at < 1.0


# --- shutdown ------------------------------------------------------------------------------


def test_server_shutdown_ends_open_streams_with_unavailable_promptly(tmp_path: Path) -> None:
    outcomes: dict[str, tuple[float, Failure | None, list[int]]] = {}

    def consume(name: str, stream: EventStream) -> None:
        seen: list[int] = []
        try:
            for event in stream:
                seen.append(event.sequence)
            outcomes[name] = (time.monotonic(), None, seen)
        except (grpc.RpcError, ConnectError) as error:
            outcomes[name] = (time.monotonic(), _failure(error), seen)

    with running_server(f"sqlite:///{tmp_path / 'accrue.db'}") as server:
        api_key = server.new_tenant("shutdown")
        grpc_clients = GrpcClients(server.grpc_target, api_key)
        connect_clients = ConnectClients(server.connect_url, api_key)
        _new_customer(grpc_clients)
        threads = [
            threading.Thread(
                target=consume, args=(name, EventStream(clients, 0, timeout=20)), daemon=True
            )
            for name, clients in (("grpc", grpc_clients), ("connect", connect_clients))
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.5)  # both streams delivered the one event and are idle
        assert not outcomes, outcomes
        stopping = time.monotonic()
    # Leaving the block stopped the server.
    for thread in threads:
        thread.join(timeout=5)
    grpc_clients.close()
    connect_clients.close()

    assert set(outcomes) == {"grpc", "connect"}, outcomes
    for name, (ended, failure, seen) in outcomes.items():
        assert seen == [1], name
        assert failure is not None, f"{name}: the stream ended without an error"
        assert (failure.code, failure.reason) == ("UNAVAILABLE", "SERVER_SHUTTING_DOWN"), name
        assert failure.metadata.get("last_sequence") == "1", name
        assert ended - stopping < 1.5, f"{name} ended {ended - stopping:.2f}s after stop"
