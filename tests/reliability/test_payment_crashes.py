"""The server dies mid-payment: after a restart and the resolver, one charge, one capture.

`accrue serve` runs with `ACCRUE_FAULT_CRASH_AT` set to a point on the
payment path (before the PSP call, after it, after the outcome's commit) and
exits with code 86 there, as if the power went: the client's CreatePayment
gets no answer. The server is restarted without the fault on the same
database, `accrue worker --once` resolves what was left PROCESSING (asking
the PSP by key, resending the same request when the PSP has nothing), and
the client retries CreatePayment with the same request_id. It gets the one
payment, SUCCEEDED; the PSP holds exactly one charge for it; the ledger
captured it exactly once and PSP clearing equals what the PSP charged; an
invoice paid this way is PAID once.
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from pathlib import Path

import grpc
import pytest

from accrue.billing.v1 import invoice_pb2 as inv
from accrue.billing.v1 import payment_pb2 as pay
from accrue.billing.v1.money_pb2 import Money
from tests.reliability.test_payment_faults import (
    PSP_SEED,
    account_balance,
    all_payments,
    assert_captured_once,
    assert_ledger_intact,
    assert_one_to_one,
    customer_with_card,
    events_of,
    new_tenant,
    open_invoice,
    payment_env,
    psp_charges,
    resolve,
    start_psp_sim,
    start_server,
    stop,
)
from tests.support import GrpcClients

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

CRASH_EXIT_CODE = 86
AMOUNT_MINOR = 4_321
PROCESSING = pay.PAYMENT_STATUS_PROCESSING
SUCCEEDED = pay.PAYMENT_STATUS_SUCCEEDED
# Where the payment stands when the server comes back, and how it gets SUCCEEDED.
AFTER_CRASH = {
    "before_psp_call": (PROCESSING, "psp_inquiry"),
    "after_psp_call": (PROCESSING, "psp_inquiry"),
    "after_commit": (SUCCEEDED, "psp_response"),
}
CHARGED_BEFORE_RESTART = {"before_psp_call": 0, "after_psp_call": 1, "after_commit": 1}


@pytest.fixture
def payments_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """PostgreSQL when ACCRUE_TEST_POSTGRES_URL reaches one, else SQLite."""
    try:
        return str(request.getfixturevalue("postgres_url"))
    except pytest.skip.Exception:
        return f"sqlite:///{tmp_path / 'accrue.db'}"


def _create(clients: GrpcClients, request: pay.CreatePaymentRequest) -> pay.Payment:
    payment: pay.Payment = clients.payments.CreatePayment(
        request, metadata=clients.metadata, timeout=30
    )
    return payment


def _refused_second_payment(
    clients: GrpcClients, customer_id: str, invoice_id: str, request_id: str
) -> None:
    """Another payment of the invoice (a new request_id) is refused: in progress, or PAID."""
    other = pay.CreatePaymentRequest(
        customer_id=customer_id, invoice_id=invoice_id, request_id=request_id
    )
    with pytest.raises(grpc.RpcError) as refused:
        _create(clients, other)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION, refused.value  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["standalone", "invoice"])
@pytest.mark.parametrize("point", sorted(AFTER_CRASH))
def test_crash_mid_payment_then_restart_and_resolve_charges_exactly_once(
    payments_database: str, tmp_path: Path, point: str, kind: str
) -> None:
    started = time.monotonic()
    psp: subprocess.Popen[str] | None = None
    server: subprocess.Popen[str] | None = None
    clients: GrpcClients | None = None
    server_log = tmp_path / "server.log"
    try:
        psp, psp_url = start_psp_sim(tmp_path / "psp.log", "--seed", str(PSP_SEED))
        env = payment_env(payments_database, psp_url)
        key = new_tenant(env, f"crash-{point}")
        server, target = start_server({**env, "ACCRUE_FAULT_CRASH_AT": point}, server_log)
        clients = GrpcClients(target, key)
        customer_id = customer_with_card(clients, "crash")
        invoice = None
        if kind == "invoice":
            invoice = open_invoice(clients, customer_id, AMOUNT_MINOR, "crash")
            request = pay.CreatePaymentRequest(
                customer_id=customer_id, invoice_id=invoice.id, request_id="pay-through-crash"
            )
        else:
            request = pay.CreatePaymentRequest(
                customer_id=customer_id,
                amount=Money(amount_minor=AMOUNT_MINOR, currency_code="USD"),
                description="Prepayment",
                request_id="pay-through-crash",
            )

        # The call kills the server at the point; the client never hears back.
        with pytest.raises(grpc.RpcError) as failure:
            _create(clients, request)
        assert failure.value.code() == grpc.StatusCode.UNAVAILABLE, failure.value  # type: ignore[attr-defined]
        assert server.wait(timeout=30) == CRASH_EXIT_CODE
        assert f"CRASH at {point}" in server_log.read_text()
        clients.close()
        clients = None
        assert len(psp_charges(psp_url)) == CHARGED_BEFORE_RESTART[point]

        # Restarted without the fault on the same database: the one payment, as the crash left it.
        server, target = start_server(env, server_log)
        clients = GrpcClients(target, key)
        left, settles_by = AFTER_CRASH[point]
        [stored] = all_payments(clients)
        assert stored.status == left, stored
        # A retry before the resolver ran: the record as it stands, no second charge.
        early = _create(clients, request)
        assert (early.id, early.status) == (stored.id, left)
        assert len(psp_charges(psp_url)) == CHARGED_BEFORE_RESTART[point]

        if invoice is not None:
            _refused_second_payment(clients, customer_id, invoice.id, "before-resolving")

        resolved = resolve(env)
        assert resolved == (1 if left == PROCESSING else 0)
        if invoice is not None:
            _refused_second_payment(clients, customer_id, invoice.id, "after-resolving")

        # The client's retry with the same request_id: the same payment, now SUCCEEDED.
        payment = _create(clients, request)
        assert payment.id == stored.id
        assert payment.status == SUCCEEDED, payment
        assert payment.amount.amount_minor == AMOUNT_MINOR
        assert payment.transitions[-1].to_status == SUCCEEDED
        assert payment.transitions[-1].cause == settles_by
        assert [t.to_status for t in payment.transitions].count(SUCCEEDED) == 1
        assert resolve(env) == 0, "the resolver found more to do after everything settled"
        assert [p.id for p in all_payments(clients)] == [payment.id]

        charges = psp_charges(psp_url)
        assert len(charges) == 1
        assert_one_to_one([payment], charges)
        assert_captured_once(clients, [payment], charges)
        succeeded = Counter(e.resource_id for e in events_of(clients, ["payment.succeeded"]))
        assert succeeded == {payment.id: 1}

        receivable = f"accounts_receivable:USD:{customer_id}"
        credit = f"customer_credit:USD:{customer_id}"
        if invoice is not None:
            assert payment.invoice_id == invoice.id
            paid = clients.invoices.GetInvoice(
                inv.GetInvoiceRequest(id=invoice.id), metadata=clients.metadata, timeout=30
            )
            assert paid.status == inv.INVOICE_STATUS_PAID
            assert paid.amount_paid.amount_minor == AMOUNT_MINOR
            assert paid.amount_due.amount_minor == 0
            events = Counter(e.resource_id for e in events_of(clients, ["invoice.paid"]))
            assert events == {invoice.id: 1}, "the invoice was not PAID exactly once"
            assert account_balance(clients, receivable) == 0
            assert account_balance(clients, credit) == 0
        else:
            assert account_balance(clients, credit) == AMOUNT_MINOR
        verdict = assert_ledger_intact(clients)

        print(
            f"\n[{payments_database.split(':', 1)[0]}, crash {point}, {kind}] exit"
            f" {CRASH_EXIT_CODE}, PSP charges before restart"
            f" {CHARGED_BEFORE_RESTART[point]}, left {pay.PaymentStatus.Name(left)},"
            f" resolved {resolved}; after: 1 payment SUCCEEDED by {settles_by},"
            f" {len(charges)} PSP charge, 1 capture, ledger intact"
            f" ({verdict.transactions_checked} transactions);"
            f" {time.monotonic() - started:.1f} s"
        )
    finally:
        if clients is not None:
            clients.close()
        stop(server)
        stop(psp)
