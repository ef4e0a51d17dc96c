"""PSP webhooks under redelivery: every event has exactly one effect, on SQLite and PostgreSQL.

N payments whose outcome is not known yet (half PROCESSING, half UNKNOWN) are
written directly for real customers of two tenants. One signed event per
payment (half `charge.succeeded`, half `charge.failed` with a decline code),
plus a few about charges Accrue never made, is then delivered 1 to 5 times, in
shuffled order, from 8 threads at once. Afterwards every payment is final with
its event's outcome after exactly one transition, has exactly one
`payment.succeeded`/`payment.failed` event and, when it succeeded, exactly one
capture in the ledger; every delivery was answered 200, each event id
`applied` (or `ignored`) exactly once and `duplicate` otherwise; the ledgers
verify and PSP clearing holds exactly what was captured. Later, contradicting
news about a final payment changes nothing.

Deliveries that fail the signature or timestamp check are refused with 400 and
change nothing.

N is `ACCRUE_WEBHOOK_EVENTS` (default 2,000); the run prints N, the deliveries
and the rate achieved.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from accrue import schema as t
from accrue.billing.v1 import customer_pb2 as cus
from accrue.billing.v1 import event_pb2 as ev
from accrue.billing.v1 import ledger_pb2 as led
from accrue.kernel.ids import IdGenerator
from accrue.payments import model as pay
from accrue.payments.psp.port import PspCharge, PspStatus
from accrue.payments.psp.simulator import SimCharge
from accrue.payments.psp.simulator_server import charge_json
from accrue.payments.psp.webhook_signing import SIGNATURE_HEADER, sign, webhook_event_json
from accrue.platform.clock import SystemClock
from tests.support import GrpcClients, RunningServer, running_server, settle

# 2,000 payments take about a minute per database (8 senders and the server share one
# process); 10,000 take four to five minutes.
EVENTS = int(os.environ.get("ACCRUE_WEBHOOK_EVENTS", "2000"))
SENDERS = 8
MAX_COPIES = 5
TENANTS = 2
PAYERS_PER_TENANT = 4
SEED = 20260517
SECRET = "whsec_reliability_test"
TOLERANCE_SECONDS = 60
PSP = "simulated"
ENDPOINT = f"/webhooks/psp/{PSP}"
DECLINES = ("insufficient_funds", "do_not_honor", "expired_card", "fraudulent")
CAPTURE = "payment_capture"
SETTLED = ("payment.succeeded", "payment.failed")


@dataclass(frozen=True)
class Planned:
    """One event and, unless it is stray, the payment it settles."""

    event_id: str
    body: bytes
    tenant_id: str  # "" for a stray event (no such charge at Accrue)
    payment_id: str
    succeeds: bool
    decline_code: str
    charge_id: str
    fee_minor: int


@dataclass
class Delivered:
    statuses: Counter[int]
    outcomes: dict[str, Counter[str]]
    problems: list[str]
    seconds: float


# -- arranging -----------------------------------------------------------------


@contextmanager
def _webhook_server(database_url: str) -> Iterator[RunningServer]:
    with running_server(
        database_url,
        psp_webhook_secret=SECRET,
        psp_webhook_tolerance_seconds=TOLERANCE_SECONDS,
    ) as srv:
        yield srv


def _payers(srv: RunningServer, api_key: str, count: int) -> list[tuple[str, str, str]]:
    """`count` customers with a card each, made through the API: (tenant, customer, method)."""
    tenant_id = srv.tenant_of(api_key)
    clients = GrpcClients(srv.grpc_target, api_key)
    payers = []
    try:
        for n in range(count):
            customer = clients.customers.CreateCustomer(
                cus.CreateCustomerRequest(
                    customer=cus.Customer(display_name=f"Payer {n}", currency_code="USD"),
                    request_id=str(uuid.uuid4()),
                ),
                metadata=clients.metadata,
                timeout=30,
            )
            customer = clients.customers.AttachPaymentMethod(
                cus.AttachPaymentMethodRequest(
                    customer_id=customer.id,
                    payment_method=cus.PaymentMethod(
                        psp=PSP, token="tok_visa", type=cus.PAYMENT_METHOD_TYPE_CARD
                    ),
                    make_default=True,
                    request_id=str(uuid.uuid4()),
                ),
                metadata=clients.metadata,
                timeout=30,
            )
            payers.append((tenant_id, customer.id, customer.payment_methods[0].id))
    finally:
        clients.close()
    return payers


def _open_payments(
    srv: RunningServer, payers: list[tuple[str, str, str]], count: int, rng: random.Random
) -> list[pay.Payment]:
    """`count` payments whose outcome is not known, committed as CreatePayment would
    leave them after a lost answer (every other one) or a crash (the rest)."""
    ids = IdGenerator(SystemClock())
    now = datetime.now(UTC)
    later = now + timedelta(days=1)  # no resolver runs here, but keep them out of its way
    payments = []
    with srv.uow(write=True) as uow:
        for n in range(count):
            tenant_id, customer_id, method_id = payers[n % len(payers)]
            payment = pay.new_payment(
                id=ids.new("pay"),
                tenant_id=tenant_id,
                customer_id=customer_id,
                invoice_id="",
                amount_minor=rng.randint(100, 500_000),
                currency_code="USD",
                payment_method_id=method_id,
                psp=PSP,
                request_id=f"webhook-test-{n}",
                request_fingerprint="webhook-test",
                description="",
                metadata={},
                now=now,
                inquire_at=later,
            )
            if n % 2:
                payment = pay.unknown(payment, now, inquire_at=later)
            uow.payments.add(payment)
            payments.append(payment)
        uow.commit()
    return payments


def _charge_event(
    event_id: str,
    *,
    key: str,
    amount_minor: int,
    currency_code: str,
    succeeds: bool,
    decline_code: str = "",
    charge_id: str = "",
) -> tuple[bytes, str, int]:
    """A signed-to-be event body as the PSP sends it: (body, charge id, fee)."""
    charge_id = charge_id or f"ch_{uuid.uuid4().hex}"
    fee = amount_minor * 29 // 1000 + 30 if succeeds else 0
    charge = PspCharge(
        psp_id=charge_id,
        idempotency_key=key,
        amount_minor=amount_minor,
        currency_code=currency_code,
        status=PspStatus.SUCCEEDED if succeeds else PspStatus.FAILED,
        decline_code="" if succeeds else decline_code,
        fee_minor=fee,
        create_time=datetime.now(UTC),
    )
    data = charge_json(SimCharge(charge, token="tok_visa", metadata={}))
    type_ = "charge.succeeded" if succeeds else "charge.failed"
    return webhook_event_json(event_id, type_, int(time.time()), data), charge_id, fee


def _plan(payments: list[pay.Payment], rng: random.Random) -> list[Planned]:
    """One event per payment, half of them successes, and 1% stray events."""
    outcomes = [n < len(payments) // 2 for n in range(len(payments))]
    rng.shuffle(outcomes)
    planned = []
    for n, (payment, succeeds) in enumerate(zip(payments, outcomes, strict=True)):
        decline = "" if succeeds else DECLINES[n % len(DECLINES)]
        event_id = f"evt_{uuid.uuid4().hex}"
        body, charge_id, fee = _charge_event(
            event_id,
            key=payment.psp_idempotency_key,
            amount_minor=payment.amount_minor,
            currency_code=payment.currency_code,
            succeeds=succeeds,
            decline_code=decline,
        )
        planned.append(
            Planned(
                event_id, body, payment.tenant_id, payment.id, succeeds, decline, charge_id, fee
            )
        )
    for n in range(max(1, len(payments) // 100)):
        event_id = f"evt_stray_{uuid.uuid4().hex}"
        body, charge_id, _ = _charge_event(
            event_id,
            key=f"accrue_pay_never_made_{n}",
            amount_minor=1000,
            currency_code="USD",
            succeeds=n % 2 == 0,
            decline_code="do_not_honor",
        )
        planned.append(Planned(event_id, body, "", "", n % 2 == 0, "", charge_id, 0))
    return planned


# -- delivering ----------------------------------------------------------------


def _signed(body: bytes, *, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if at is None else at
    return {
        SIGNATURE_HEADER: sign(secret.encode(), body, timestamp),
        "content-type": "application/json",
    }


def _deliver(base_url: str, bodies: list[bytes]) -> Delivered:
    """POST every body (signed as it goes out) from SENDERS threads; tally the answers."""
    statuses: Counter[int] = Counter()
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    problems: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(SENDERS + 1)

    def run(share: list[bytes]) -> None:
        mine: Counter[int] = Counter()
        said: list[tuple[str, str]] = []
        odd: list[str] = []
        with httpx.Client(base_url=base_url, timeout=60) as client:
            start.wait()
            for body in share:
                try:
                    response = client.post(ENDPOINT, content=body, headers=_signed(body))
                except httpx.HTTPError as error:
                    odd.append(f"transport error: {error!r}")
                    continue
                mine[response.status_code] += 1
                if response.status_code != 200:
                    odd.append(f"{response.status_code} {response.text}")
                    continue
                answer = response.json()
                said.append((answer["event_id"], answer["outcome"]))
        with lock:
            statuses.update(mine)
            for event_id, outcome in said:
                outcomes[event_id][outcome] += 1
            problems.extend(odd)

    threads = [
        threading.Thread(target=run, args=(bodies[n::SENDERS],), daemon=True)
        for n in range(SENDERS)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join(timeout=120 + EVENTS // 15)
        assert not thread.is_alive(), "a webhook sender hung"
    return Delivered(statuses, dict(outcomes), problems, time.monotonic() - began)


# -- reading the outcome ---------------------------------------------------------


def _settled_rows(srv: RunningServer) -> dict[str, tuple[str, str, str, int, str]]:
    """payment id -> (status, failure code, PSP charge id, fee, ledger transaction id)."""
    p = t.payments.c
    query = select(
        p.id, p.status, p.failure_code, p.psp_charge_id, p.fee_minor, p.ledger_transaction_id
    )
    with srv.app.engine.connect() as conn:
        return {
            row.id: (
                row.status,
                row.failure_code,
                row.psp_charge_id or "",
                row.fee_minor,
                row.ledger_transaction_id or "",
            )
            for row in conn.execute(query)
        }


def _final_transitions(srv: RunningServer) -> Counter[tuple[str, str]]:
    """(payment id, cause) of every move to a final status."""
    tr = t.payment_transitions.c
    query = select(tr.subject_id, tr.cause).where(tr.to_status.in_(["succeeded", "failed"]))
    with srv.app.engine.connect() as conn:
        return Counter((row.subject_id, row.cause) for row in conn.execute(query))


def _captures(srv: RunningServer) -> Counter[str]:
    """How many `payment_capture` ledger transactions each payment has."""
    lt = t.ledger_transactions.c
    query = select(lt.source_id).where(lt.source_type == CAPTURE)
    with srv.app.engine.connect() as conn:
        return Counter(conn.execute(query).scalars())


def _payment_events(srv: RunningServer) -> Counter[tuple[str, str]]:
    """(type, payment id) of every `payment.*` event in the outbox, once numbered."""
    settle(srv.app)
    e = t.events.c
    query = select(e.type, e.resource_id).where(e.type.like("payment.%"))
    with srv.app.engine.connect() as conn:
        return Counter((row.type, row.resource_id) for row in conn.execute(query))


def _webhook_ids(srv: RunningServer) -> int:
    with srv.app.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(t.psp_webhook_events)).scalar_one()


def _clearing_nets(srv: RunningServer) -> dict[str, int]:
    """Tenant -> net (debits - credits) of its USD PSP clearing account."""
    a = t.ledger_accounts.c
    query = select(a.tenant_id, a.net_minor).where(a.code == "psp_clearing")
    with srv.app.engine.connect() as conn:
        return {row.tenant_id: row.net_minor for row in conn.execute(query)}


def _listed_events(clients: GrpcClients) -> Counter[tuple[str, str]]:
    """The tenant's settled-payment events as ListEvents pages them out."""
    seen: Counter[tuple[str, str]] = Counter()
    token = ""
    while True:
        page = clients.events.ListEvents(
            ev.ListEventsRequest(page_size=1000, types=list(SETTLED), page_token=token),
            metadata=clients.metadata,
            timeout=60,
        )
        seen.update((event.type, event.resource_id) for event in page.events)
        token = page.next_page_token
        if not token:
            return seen


def _listed_captures(clients: GrpcClients) -> Counter[str]:
    """The tenant's capture transactions as ListTransactions pages them out."""
    seen: Counter[str] = Counter()
    token = ""
    while True:
        page = clients.ledger.ListTransactions(
            led.ListTransactionsRequest(page_size=1000, source_type=CAPTURE, page_token=token),
            metadata=clients.metadata,
            timeout=60,
        )
        seen.update(tx.source_id for tx in page.transactions)
        token = page.next_page_token
        if not token:
            return seen


def _verify_ledger(clients: GrpcClients) -> None:
    verified = clients.ledger.VerifyLedger(
        led.VerifyLedgerRequest(), metadata=clients.metadata, timeout=120
    )
    assert verified.intact, verified


# -- the tests -----------------------------------------------------------------


@pytest.mark.timeout(120 + EVENTS // 15)
def test_every_event_has_one_effect_however_often_and_in_whatever_order_it_arrives(
    database_url: str,
) -> None:
    rng = random.Random(SEED)
    with _webhook_server(database_url) as srv:
        keys = [srv.new_tenant(f"webhooks-{n}") for n in range(TENANTS)]
        payers = [payer for key in keys for payer in _payers(srv, key, PAYERS_PER_TENANT)]
        arranged = time.monotonic()
        payments = _open_payments(srv, payers, EVENTS, rng)
        arranged = time.monotonic() - arranged
        planned = _plan(payments, rng)
        copies = {event.event_id: rng.randint(1, MAX_COPIES) for event in planned}
        bodies = [event.body for event in planned for _ in range(copies[event.event_id])]
        rng.shuffle(bodies)

        delivered = _deliver(srv.connect_url, bodies)
        print(
            f"\n[{srv.app.engine.dialect.name}] N={EVENTS} payments "
            f"({len(planned)} events, {len(bodies)} deliveries) "
            f"arranged in {arranged:.1f}s, delivered in {delivered.seconds:.1f}s: "
            f"{len(bodies) / delivered.seconds:.0f} deliveries/s, "
            f"{len(planned) / delivered.seconds:.0f} events/s"
        )

        # Every delivery was acknowledged, each event once as news and otherwise as a repeat.
        assert delivered.problems == [], delivered.problems[:10]
        assert delivered.statuses == Counter({200: len(bodies)})
        assert {e: sum(c.values()) for e, c in delivered.outcomes.items()} == copies
        for event in planned:
            said = delivered.outcomes[event.event_id]
            first = "applied" if event.payment_id else "ignored"
            assert said == Counter({first: 1, "duplicate": copies[event.event_id] - 1}), (
                event.event_id,
                said,
            )
        assert _webhook_ids(srv) == len(planned)

        # Each payment final with its event's outcome, moved there once, by the webhook.
        real = [event for event in planned if event.payment_id]
        rows = _settled_rows(srv)
        assert len(rows) == EVENTS
        captures = _captures(srv)
        for event in real:
            status, failure, charge_id, fee, ledger_tx = rows[event.payment_id]
            if event.succeeds:
                assert (status, failure, charge_id, fee) == (
                    "succeeded",
                    "",
                    event.charge_id,
                    event.fee_minor,
                ), event
                assert ledger_tx, event
            else:
                assert (status, failure, charge_id, fee, ledger_tx) == (
                    "failed",
                    event.decline_code,
                    event.charge_id,
                    0,
                    "",
                ), event
        assert _final_transitions(srv) == Counter(
            {(event.payment_id, pay.Cause.PSP_WEBHOOK.value): 1 for event in real}
        )

        # Exactly one capture per succeeded payment, none for a failed one; one event each.
        succeeded = {event.payment_id for event in real if event.succeeds}
        assert captures == Counter(dict.fromkeys(succeeded, 1))
        expected_events = Counter(
            {(SETTLED[0] if e.succeeds else SETTLED[1], e.payment_id): 1 for e in real}
        )
        assert _payment_events(srv) == expected_events

        # The same, as each tenant's API shows it; and its ledger is whole.
        amounts = {payment.id: payment.amount_minor for payment in payments}
        nets = _clearing_nets(srv)
        for key in keys:
            tenant_id = srv.tenant_of(key)
            mine = [e for e in real if e.tenant_id == tenant_id]
            clients = GrpcClients(srv.grpc_target, key)
            try:
                assert _listed_events(clients) == Counter(
                    {(SETTLED[0] if e.succeeds else SETTLED[1], e.payment_id): 1 for e in mine}
                )
                assert _listed_captures(clients) == Counter(
                    {e.payment_id: 1 for e in mine if e.succeeds}
                )
                _verify_ledger(clients)
            finally:
                clients.close()
            assert nets[tenant_id] == sum(amounts[e.payment_id] for e in mine if e.succeeds)

        # Later news about a final payment, under new event ids, changes nothing.
        contrary = []
        for event in rng.sample(real, min(500, len(real))):
            payment = next(p for p in payments if p.id == event.payment_id)
            body, _, _ = _charge_event(
                f"evt_late_{uuid.uuid4().hex}",
                key=payment.psp_idempotency_key,
                amount_minor=payment.amount_minor,
                currency_code=payment.currency_code,
                succeeds=not event.succeeds,
                decline_code="fraudulent",
            )
            contrary.append(body)
        late = _deliver(srv.connect_url, contrary)
        assert late.problems == [], late.problems[:10]
        assert late.statuses == Counter({200: len(contrary)})
        assert sum(late.outcomes.values(), Counter()) == Counter({"applied": len(contrary)})
        assert _settled_rows(srv) == rows
        assert _captures(srv) == captures
        assert _payment_events(srv) == expected_events
        assert _final_transitions(srv) == Counter(
            {(event.payment_id, pay.Cause.PSP_WEBHOOK.value): 1 for event in real}
        )


@pytest.mark.timeout(120)
def test_deliveries_failing_the_signature_or_timestamp_check_change_nothing(
    database_url: str,
) -> None:
    with _webhook_server(database_url) as srv:
        key = srv.new_tenant("webhook-rejections")
        payers = _payers(srv, key, 1)
        (payment,) = _open_payments(srv, payers, 1, random.Random(SEED))
        body, charge_id, _ = _charge_event(
            "evt_genuine",
            key=payment.psp_idempotency_key,
            amount_minor=payment.amount_minor,
            currency_code=payment.currency_code,
            succeeds=True,
        )
        now = int(time.time())
        envelope = json.loads(body)
        envelope["data"]["amount_minor"] = 1
        tampered = json.dumps(envelope, separators=(",", ":")).encode()
        unknown_type = body.replace(b'"charge.succeeded"', b'"charge.refunded"')
        refused = {
            "wrong secret": (body, _signed(body, secret="whsec_someone_else")),
            "tampered body": (tampered, _signed(body)),
            "signature of another timestamp": (
                body,
                {SIGNATURE_HEADER: f"t={now - 1},{sign(SECRET.encode(), body, now).split(',')[1]}"},
            ),
            "stale": (body, _signed(body, at=now - TOLERANCE_SECONDS - 30)),
            "far in the future": (body, _signed(body, at=now + TOLERANCE_SECONDS + 30)),
            "no signature": (body, {}),
            "garbled signature": (body, {SIGNATURE_HEADER: "garbage"}),
            "not json": (b"{not json", _signed(b"{not json")),
            "unknown event type": (unknown_type, _signed(unknown_type)),
        }
        expected_errors = {
            "wrong secret": "bad_signature",
            "tampered body": "bad_signature",
            "signature of another timestamp": "bad_signature",
            "stale": "timestamp_outside_tolerance",
            "far in the future": "timestamp_outside_tolerance",
            "no signature": "malformed_header",
            "garbled signature": "malformed_header",
            "not json": "malformed_event",
            "unknown event type": "malformed_event",
        }
        with httpx.Client(base_url=srv.connect_url, timeout=30) as client:
            for case, (content, headers) in refused.items():
                response = client.post(ENDPOINT, content=content, headers=headers)
                assert response.status_code == 400, (case, response.text)
                assert response.json()["error"] == expected_errors[case], case

            # Nothing changed: still PROCESSING, no event, no ledger row, no id remembered.
            assert _settled_rows(srv)[payment.id][0] == "processing"
            assert _payment_events(srv) == Counter()
            assert _captures(srv) == Counter()
            assert _webhook_ids(srv) == 0

            assert client.post("/webhooks/psp/other_psp", content=body).status_code == 404
            assert client.post("/webhooks/psp/", content=body).status_code == 404
            assert client.get(ENDPOINT).status_code == 405

            # The genuine delivery, a little old but within tolerance, is applied once.
            signed = _signed(body, at=now - TOLERANCE_SECONDS // 2)
            first = client.post(ENDPOINT, content=body, headers=signed)
            again = client.post(ENDPOINT, content=body, headers=_signed(body))
            replayed_late = client.post(
                ENDPOINT, content=body, headers=_signed(body, at=now - TOLERANCE_SECONDS - 30)
            )
        assert (first.status_code, first.json()) == (
            200,
            {"outcome": "applied", "event_id": "evt_genuine"},
        )
        assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
        assert replayed_late.status_code == 400
        status, _, settled_charge, _, ledger_tx = _settled_rows(srv)[payment.id]
        assert (status, settled_charge) == ("succeeded", charge_id) and ledger_tx
        assert _captures(srv) == Counter({payment.id: 1})
        assert _payment_events(srv) == Counter({("payment.succeeded", payment.id): 1})
        clients = GrpcClients(srv.grpc_target, key)
        try:
            _verify_ledger(clients)
        finally:
            clients.close()


@pytest.mark.timeout(60)
def test_an_event_id_is_remembered_as_first_only_once(database_url: str) -> None:
    """What tells `applied` from `duplicate` when two deliveries race past the first look."""
    now = datetime.now(UTC)
    with _webhook_server(database_url) as srv:
        with srv.uow(write=True) as uow:
            first = uow.payments.record_webhook(PSP, "evt_once", type="charge.succeeded", now=now)
            again = uow.payments.record_webhook(PSP, "evt_once", type="charge.succeeded", now=now)
            uow.commit()
        with srv.uow(write=True) as uow:
            later = uow.payments.record_webhook(PSP, "evt_once", type="charge.succeeded", now=now)
            other_psp = uow.payments.record_webhook("other", "evt_once", type="x", now=now)
            uow.commit()
    assert (first, again, later, other_psp) == (True, False, False, True)


def test_the_endpoint_is_absent_without_a_signing_secret(sqlite_url: str) -> None:
    body = webhook_event_json("evt_x", "charge.succeeded", int(time.time()), {})
    with running_server(sqlite_url) as srv, httpx.Client(base_url=srv.connect_url) as client:
        response = client.post(ENDPOINT, content=body, headers=_signed(body))
    assert response.status_code == 404, response.text
