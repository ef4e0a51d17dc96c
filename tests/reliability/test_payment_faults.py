"""Lost PSP answers under load: every payment ends SUCCEEDED with exactly one charge.

`accrue psp-sim` loses a seeded fifth of its successful charge answers (the
charge is recorded, the connection is closed without a byte). `accrue serve`
talks to it over HTTP while several client threads make standalone and
invoice payments. A payment whose answer was lost (on every try) comes back
UNKNOWN; `accrue worker --once` then asks the PSP about it. Afterwards the
PSP's own charge log and Accrue's payments agree one to one by idempotency
key - nothing charged twice, nothing charged without a payment, no succeeded
payment without its charge - and the ledger's PSP clearing holds exactly
what the PSP charged, with one capture per payment.

The helpers here are shared with `test_payment_crashes`.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from accrue.billing.v1 import customer_pb2 as cus
from accrue.billing.v1 import event_pb2 as ev
from accrue.billing.v1 import invoice_pb2 as inv
from accrue.billing.v1 import ledger_pb2 as led
from accrue.billing.v1 import payment_pb2 as pay
from accrue.billing.v1.money_pb2 import Money
from tests.support import GrpcClients

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

PSP_SEED = 20261122
AMOUNT_SEED = 7
CUSTOMERS = 12
STANDALONE = 200
INVOICE_PAYMENTS = 24
CLIENT_THREADS = 8
DROP_SUCCESS_RATE = 0.2
CAPTURE = "payment_capture"
SUCCEEDED = pay.PAYMENT_STATUS_SUCCEEDED
UNKNOWN = pay.PAYMENT_STATUS_UNKNOWN


# --- processes ----------------------------------------------------------------


def _read_ready(process: subprocess.Popen[str], pattern: str, what: str, log: Path) -> int:
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            match = re.match(pattern, line)
            if match:
                return int(match.group(1))
            if not line and process.poll() is not None:
                break
    except BaseException:  # the test's timeout included: leave no process behind
        stop(process)
        raise
    stop(process)
    raise AssertionError(f"{what} did not become ready: {log.read_text()[-2000:]}")


def start_psp_sim(log: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    """`accrue psp-sim --port 0 ...`; the process and its base URL once ready."""
    with log.open("a") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "accrue.cli", "psp-sim", "--port", "0", *args],
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    port = _read_ready(process, r"READY psp-sim port=(\d+)", "psp-sim", log)
    return process, f"http://127.0.0.1:{port}"


def start_server(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[str], str]:
    """`accrue serve` on free ports; the process and its gRPC target once ready."""
    with log.open("a") as err:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "accrue.cli",
                "serve",
                "--grpc-port",
                "0",
                "--connect-port",
                "0",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    port = _read_ready(process, r"READY grpc=(\d+) connect=\d+", "accrue serve", log)
    return process, f"127.0.0.1:{port}"


def stop(process: subprocess.Popen[str] | None) -> None:
    """SIGTERM, then SIGKILL if it lingers; never raises."""
    if process is None:
        return
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()


def accrue(env: dict[str, str], *args: str) -> str:
    """One `accrue` command run to completion; what it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "accrue.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def new_tenant(env: dict[str, str], name: str) -> str:
    """A tenant made the operator's way; its API key."""
    match = re.search(r"api key (\S+)", accrue(env, "tenant", "create", name))
    assert match is not None
    return match.group(1)


def resolve(env: dict[str, str]) -> int:
    """`accrue worker --once`: how many payments and refunds it settled."""
    match = re.search(
        r"DONE steps=\d+ collections=\d+ resolved=(\d+)", accrue(env, "worker", "--once")
    )
    assert match is not None
    return int(match.group(1))


def payment_env(
    database_url: str, psp_url: str, *, retry_attempts: int = 3, **extra: str
) -> dict[str, str]:
    """Settings of every process of one test.

    The first inquiry time is stamped on a payment by the process that creates
    it, so the server needs `ACCRUE_PAYMENT_FIRST_INQUIRY_SECONDS=0` (and a
    short inquiry interval for UNKNOWN ones) for one `worker --once` right
    after the load to find everything due. The breaker threshold is high: the
    subject here is lost answers, not the breaker refusing calls.
    """
    return {
        **os.environ,
        "ACCRUE_DATABASE_URL": database_url,
        "ACCRUE_LOG_LEVEL": "WARNING",
        "ACCRUE_PSP_URL": psp_url,
        "ACCRUE_PAYMENT_RATE_PER_SECOND": "0",
        "ACCRUE_PSP_RETRY_ATTEMPTS": str(retry_attempts),
        "ACCRUE_PSP_RETRY_BASE_SECONDS": "0.01",
        "ACCRUE_PSP_RETRY_CAP_SECONDS": "0.05",
        "ACCRUE_PSP_BREAKER_FAILURES": "100000",
        "ACCRUE_PAYMENT_FIRST_INQUIRY_SECONDS": "0",
        "ACCRUE_PAYMENT_INQUIRY_INTERVAL_SECONDS": "0.05",
        **extra,
    }


# --- the PSP's side -------------------------------------------------------------


def psp_charges(psp_url: str) -> list[dict[str, Any]]:
    """The PSP's own charge log (`GET /v1/_admin/log`)."""
    host, port = psp_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", "/v1/_admin/log")
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert response.status == 200, body
    charges: list[dict[str, Any]] = json.loads(body)["charges"]
    return charges


# --- Accrue's side --------------------------------------------------------------


def customer_with_card(clients: GrpcClients, name: str, token: str = "tok_visa") -> str:
    customer = clients.customers.CreateCustomer(
        cus.CreateCustomerRequest(
            customer=cus.Customer(display_name=name, currency_code="USD"),
            request_id=f"customer-{name}",
        ),
        metadata=clients.metadata,
        timeout=30,
    )
    clients.customers.AttachPaymentMethod(
        cus.AttachPaymentMethodRequest(
            customer_id=customer.id,
            payment_method=cus.PaymentMethod(
                psp="simulated", token=token, type=cus.PAYMENT_METHOD_TYPE_CARD
            ),
            request_id=f"card-{name}",
        ),
        metadata=clients.metadata,
        timeout=30,
    )
    return str(customer.id)


def open_invoice(
    clients: GrpcClients, customer_id: str, amount_minor: int, name: str
) -> inv.Invoice:
    """A finalised one-off invoice (OPEN, amount due `amount_minor`, no tax)."""
    draft = clients.invoices.CreateInvoice(
        inv.CreateInvoiceRequest(
            customer_id=customer_id,
            lines=[
                inv.InvoiceLineInput(
                    unit_amount=Money(amount_minor=amount_minor, currency_code="USD"),
                    quantity=1,
                    description=f"Work {name}",
                )
            ],
            request_id=f"invoice-{name}",
        ),
        metadata=clients.metadata,
        timeout=30,
    )
    invoice: inv.Invoice = clients.invoices.FinalizeInvoice(
        inv.FinalizeInvoiceRequest(id=draft.id, request_id=f"finalize-{name}"),
        metadata=clients.metadata,
        timeout=30,
    )
    assert invoice.status == inv.INVOICE_STATUS_OPEN
    assert invoice.amount_due.amount_minor == amount_minor
    return invoice


def all_payments(clients: GrpcClients) -> list[pay.Payment]:
    found: list[pay.Payment] = []
    token = ""
    while True:
        page = clients.payments.ListPayments(
            pay.ListPaymentsRequest(page_size=1000, page_token=token),
            metadata=clients.metadata,
            timeout=30,
        )
        found.extend(page.payments)
        token = page.next_page_token
        if not token:
            return found


def captures(clients: GrpcClients) -> list[led.LedgerTransaction]:
    """Every capture the ledger holds (payment_capture transactions)."""
    found: list[led.LedgerTransaction] = []
    token = ""
    while True:
        page = clients.ledger.ListTransactions(
            led.ListTransactionsRequest(page_size=1000, page_token=token, source_type=CAPTURE),
            metadata=clients.metadata,
            timeout=30,
        )
        found.extend(page.transactions)
        token = page.next_page_token
        if not token:
            return found


def events_of(clients: GrpcClients, types: list[str]) -> list[ev.Event]:
    found: list[ev.Event] = []
    token = ""
    while True:
        page = clients.events.ListEvents(
            ev.ListEventsRequest(page_size=1000, page_token=token, types=types),
            metadata=clients.metadata,
            timeout=30,
        )
        found.extend(page.events)
        token = page.next_page_token
        if not token:
            return found


def account_balance(clients: GrpcClients, account_id: str) -> int:
    try:
        account = clients.ledger.GetAccount(
            led.GetAccountRequest(id=account_id), metadata=clients.metadata, timeout=30
        )
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:  # type: ignore[attr-defined]
            return 0
        raise
    return int(account.balance.amount_minor)


def assert_ledger_intact(clients: GrpcClients) -> led.VerifyLedgerResponse:
    verdict: led.VerifyLedgerResponse = clients.ledger.VerifyLedger(
        led.VerifyLedgerRequest(), metadata=clients.metadata, timeout=60
    )
    assert verdict.intact, verdict
    return verdict


def assert_one_to_one(payments: list[pay.Payment], charges: list[dict[str, Any]]) -> None:
    """The PSP's charges and our payments, matched by idempotency key, both ways."""
    keys = Counter(charge["idempotency_key"] for charge in charges)
    doubled = sorted(key for key, n in keys.items() if n > 1)
    assert doubled == [], f"charged twice at the PSP under one key: {doubled[:5]}"
    by_key = {charge["idempotency_key"]: charge for charge in charges}
    ours = Counter(p.psp_idempotency_key for p in payments)
    assert all(n == 1 for n in ours.values()), "two payments share a PSP key"
    assert all(p.psp_idempotency_key for p in payments), "a payment without a PSP key"
    orphans = sorted(set(by_key) - set(ours))
    assert orphans == [], f"PSP charges without a payment: {orphans[:5]}"
    lost = sorted(p.id for p in payments if p.psp_idempotency_key not in by_key)
    assert lost == [], f"succeeded payments the PSP never charged: {lost[:5]}"
    for p in payments:
        charge = by_key[p.psp_idempotency_key]
        assert charge["status"] == "succeeded", (p.id, charge)
        assert (charge["amount_minor"], charge["currency_code"]) == (
            p.amount.amount_minor,
            p.amount.currency_code,
        ), (p.id, charge)
        assert charge["id"] == p.psp_charge_id, (p.id, charge)
        assert charge["metadata"].get("payment_id") == p.id, (p.id, charge)


def assert_captured_once(
    clients: GrpcClients, payments: list[pay.Payment], charges: list[dict[str, Any]]
) -> None:
    """One capture per payment, the one the payment names; clearing == the PSP's total."""
    posted = captures(clients)
    per_payment = Counter(tx.source_id for tx in posted)
    assert all(n == 1 for n in per_payment.values()), "a payment captured more than once"
    assert set(per_payment) == {p.id for p in payments}, "a payment without its capture"
    tx_of = {tx.source_id: tx.id for tx in posted}
    assert all(tx_of[p.id] == p.ledger_transaction_id for p in payments)
    charged = sum(charge["amount_minor"] for charge in charges)
    assert account_balance(clients, "psp_clearing:USD") == charged


@pytest.fixture
def payments_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """PostgreSQL when ACCRUE_TEST_POSTGRES_URL reaches one, else SQLite."""
    try:
        return str(request.getfixturevalue("postgres_url"))
    except pytest.skip.Exception:
        return f"sqlite:///{tmp_path / 'accrue.db'}"


# --- the test -------------------------------------------------------------------


@dataclass
class Outcome:
    request: pay.CreatePaymentRequest
    payment: pay.Payment | None = None
    error: str = ""


def _pay_all(target: str, key: str, requests: list[pay.CreatePaymentRequest]) -> list[Outcome]:
    """CLIENT_THREADS threads send the requests, each once, as fast as answers come."""
    work: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
    outcomes = [Outcome(request) for request in requests]
    for outcome in outcomes:
        work.put(outcome)
    clients = GrpcClients(target, key)

    def client() -> None:
        while True:
            try:
                outcome = work.get_nowait()
            except queue.Empty:
                return
            try:
                outcome.payment = clients.payments.CreatePayment(
                    outcome.request, metadata=clients.metadata, timeout=60
                )
            except grpc.RpcError as error:
                outcome.error = f"{error.code()}: {error.details()}"  # type: ignore[attr-defined]

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENT_THREADS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
            assert not thread.is_alive(), "a client hung"
    finally:
        clients.close()
    return outcomes


@pytest.mark.parametrize("retry_attempts", [1, 3], ids=["1-try", "3-tries"])
def test_lost_psp_answers_end_in_exactly_one_charge_per_payment(
    payments_database: str, tmp_path: Path, retry_attempts: int
) -> None:
    started = time.monotonic()
    rng = random.Random(AMOUNT_SEED)
    psp: subprocess.Popen[str] | None = None
    server: subprocess.Popen[str] | None = None
    clients: GrpcClients | None = None
    try:
        psp, psp_url = start_psp_sim(
            tmp_path / "psp.log",
            *("--seed", str(PSP_SEED), "--drop-success-rate", str(DROP_SUCCESS_RATE)),
        )
        env = payment_env(payments_database, psp_url, retry_attempts=retry_attempts)
        key = new_tenant(env, "lost-answers")
        server, target = start_server(env, tmp_path / "server.log")
        clients = GrpcClients(target, key)

        customers = [customer_with_card(clients, f"c{n}") for n in range(CUSTOMERS)]
        # Invoices first: finalising applies credit, and standalone payments make credit.
        invoices = [
            open_invoice(clients, customers[n % CUSTOMERS], rng.randint(500, 90_000), f"i{n}")
            for n in range(INVOICE_PAYMENTS)
        ]
        requests = [
            pay.CreatePaymentRequest(
                customer_id=customers[n % CUSTOMERS],
                amount=Money(amount_minor=rng.randint(100, 50_000), currency_code="USD"),
                description=f"Prepayment {n}",
                request_id=f"standalone-{n}",
            )
            for n in range(STANDALONE)
        ] + [
            pay.CreatePaymentRequest(
                customer_id=invoice.customer_id,
                invoice_id=invoice.id,
                request_id=f"invoice-payment-{n}",
            )
            for n, invoice in enumerate(invoices)
        ]
        rng.shuffle(requests)

        load_started = time.monotonic()
        outcomes = _pay_all(target, key, requests)
        load_seconds = time.monotonic() - load_started
        errors = [(o.request.request_id, o.error) for o in outcomes if o.error]
        assert errors == [], errors[:5]
        answered = {o.request.request_id: o.payment for o in outcomes if o.payment is not None}
        statuses = Counter(pay.PaymentStatus.Name(p.status) for p in answered.values())
        unknown = {p.id for p in answered.values() if p.status == UNKNOWN}
        retried = sum(1 for p in answered.values() if p.psp_request_count > 1)
        assert set(statuses) <= {"PAYMENT_STATUS_SUCCEEDED", "PAYMENT_STATUS_UNKNOWN"}, statuses
        if retry_attempts == 1:
            assert unknown, "no PSP answer was lost: the fault did not fire"
        else:
            assert retried, "no PSP answer was lost and retried: the fault did not fire"

        resolved = resolve(env)
        assert resolved == len(unknown), (resolved, len(unknown))

        payments = all_payments(clients)
        assert len(payments) == len(requests)
        assert {p.id for p in payments} == {p.id for p in answered.values()}
        assert [p.id for p in payments if p.status != SUCCEEDED] == []
        went_unknown = {
            p.id for p in payments if any(t.to_status == UNKNOWN for t in p.transitions)
        }
        assert went_unknown == unknown
        assert all(p.transitions[-1].cause == "psp_inquiry" for p in payments if p.id in unknown)

        charges = psp_charges(psp_url)
        assert_one_to_one(payments, charges)
        assert_captured_once(clients, payments, charges)

        # Invoices: each PAID once, by its payment; receivables cleared; prepayments credited.
        for invoice in invoices:
            now = clients.invoices.GetInvoice(
                inv.GetInvoiceRequest(id=invoice.id), metadata=clients.metadata, timeout=30
            )
            assert now.status == inv.INVOICE_STATUS_PAID, invoice.id
            assert now.amount_paid.amount_minor == invoice.amount_due.amount_minor
        paid = Counter(e.resource_id for e in events_of(clients, ["invoice.paid"]))
        assert paid == Counter(invoice.id for invoice in invoices)
        succeeded = Counter(e.resource_id for e in events_of(clients, ["payment.succeeded"]))
        assert succeeded == Counter(p.id for p in payments)
        prepaid: Counter[str] = Counter()
        for p in payments:
            if not p.invoice_id:
                prepaid[p.customer_id] += p.amount.amount_minor
        for customer_id in customers:
            assert account_balance(clients, f"accounts_receivable:USD:{customer_id}") == 0
            assert (
                account_balance(clients, f"customer_credit:USD:{customer_id}")
                == (prepaid[customer_id])
            )
        verdict = assert_ledger_intact(clients)

        database = payments_database.split(":", 1)[0]
        print(
            f"\n[{database}, {retry_attempts} PSP tries] {len(payments)} payments"
            f" ({STANDALONE} standalone, {INVOICE_PAYMENTS} invoice) in {load_seconds:.1f} s"
            f" from {CLIENT_THREADS} threads; answers: {dict(statuses)};"
            f" {retried} lost answers retried away, {len(unknown)} UNKNOWN before resolving,"
            f" {resolved} resolved; PSP charges {len(charges)}: 0 double, 0 lost,"
            f" clearing {sum(c['amount_minor'] for c in charges)};"
            f" ledger intact ({verdict.transactions_checked} transactions);"
            f" {time.monotonic() - started:.1f} s in all"
        )
    finally:
        if clients is not None:
            clients.close()
        stop(server)
        stop(psp)
