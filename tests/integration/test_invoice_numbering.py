"""Concurrent finalisation keeps invoice numbers gapless, on SQLite and PostgreSQL.

Draft invoices are made through the API, then finalised over gRPC from 8 threads at once
(a channel each). A finalisation answered ABORTED is retried with the same request_id, as a
client would: a rolled-back finalisation must leave no hole in the series.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter

import grpc
import pytest

from accrue.billing.v1 import customer_pb2 as cus
from accrue.billing.v1 import invoice_pb2 as inv
from accrue.billing.v1.money_pb2 import Money
from tests.support import GrpcClients, RunningServer, running_server, settle

pytestmark = pytest.mark.timeout(120)

THREADS = 8
INVOICES = 60  # in the tenant under test
OTHER_INVOICES = 20  # in a second tenant, finalised in the same rush
RETRIES = 10
SEED = 60


def _drafts(server: RunningServer, api_key: str, count: int) -> list[str]:
    clients = GrpcClients(server.grpc_target, api_key)
    try:
        customer = clients.customers.CreateCustomer(
            cus.CreateCustomerRequest(
                customer=cus.Customer(display_name="Numbered", currency_code="USD"),
                request_id=str(uuid.uuid4()),
            ),
            metadata=clients.metadata,
            timeout=30,
        )
        drafts = []
        for n in range(count):
            draft = clients.invoices.CreateInvoice(
                inv.CreateInvoiceRequest(
                    customer_id=customer.id,
                    lines=[
                        inv.InvoiceLineInput(
                            unit_amount=Money(amount_minor=100 + n, currency_code="USD"),
                            quantity=1,
                            description=f"Line {n}",
                        )
                    ],
                    request_id=str(uuid.uuid4()),
                ),
                metadata=clients.metadata,
                timeout=30,
            )
            assert draft.status == inv.INVOICE_STATUS_DRAFT and not draft.number
            drafts.append(draft.id)
        return drafts
    finally:
        clients.close()


def _finalize_all(
    server: RunningServer, work: list[tuple[str, str]]
) -> tuple[dict[str, str], Counter[str]]:
    """Finalise every (api key, invoice id) from THREADS threads; returns id -> number."""
    numbers: dict[str, str] = {}
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def run(share: list[tuple[str, str]]) -> None:
        clients = {key: GrpcClients(server.grpc_target, key) for key in {k for k, _ in share}}
        try:
            start.wait()
            for key, invoice_id in share:
                request = inv.FinalizeInvoiceRequest(id=invoice_id, request_id=str(uuid.uuid4()))
                stub = clients[key]
                for _ in range(RETRIES):
                    try:
                        done = stub.invoices.FinalizeInvoice(
                            request, metadata=stub.metadata, timeout=30
                        )
                    except grpc.RpcError as error:
                        code = error.code()  # type: ignore[attr-defined]
                        with lock:
                            outcomes[code.name] += 1
                        if code is grpc.StatusCode.ABORTED:
                            continue
                        raise
                    with lock:
                        outcomes["OK"] += 1
                        numbers[invoice_id] = done.number
                    break
        finally:
            for client in clients.values():
                client.close()

    threads = [
        threading.Thread(target=run, args=(work[n::THREADS],), daemon=True) for n in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
        assert not thread.is_alive(), "a finalisation hung"
    return numbers, outcomes


def _series(count: int) -> list[str]:
    return [f"INV-{n:06d}" for n in range(1, count + 1)]


def test_concurrent_finalisation_numbers_invoices_without_gaps(database_url: str) -> None:
    with running_server(database_url) as server:
        key, other_key = server.new_tenant("numbered"), server.new_tenant("other")
        drafts = _drafts(server, key, INVOICES)
        other_drafts = _drafts(server, other_key, OTHER_INVOICES)
        # Interleaved, so both tenants' counters are taken in the same rush.
        work = [(key, d) for d in drafts] + [(other_key, d) for d in other_drafts]
        random.Random(SEED).shuffle(work)

        numbers, outcomes = _finalize_all(server, work)

        assert outcomes["OK"] == INVOICES + OTHER_INVOICES, outcomes
        assert sorted(numbers[d] for d in drafts) == _series(INVOICES), outcomes
        assert sorted(numbers[d] for d in other_drafts) == _series(OTHER_INVOICES), outcomes

        # What is stored agrees with what was answered, and everything posted once.
        for api_key, ids, count in (
            (key, drafts, INVOICES),
            (other_key, other_drafts, OTHER_INVOICES),
        ):
            clients = GrpcClients(server.grpc_target, api_key)
            try:
                listed = clients.invoices.ListInvoices(
                    inv.ListInvoicesRequest(page_size=1000), metadata=clients.metadata, timeout=30
                ).invoices
            finally:
                clients.close()
            assert {i.id: i.number for i in listed} == {i: numbers[i] for i in ids}
            assert {i.status for i in listed} == {inv.INVOICE_STATUS_OPEN}
            tenant_id = server.tenant_of(api_key)
            settle(server.app)
            with server.app.uow_factory(write=False) as uow:
                verified = server.app.ledger.verify(uow, tenant_id)
            assert verified.intact, verified
            assert verified.transactions_checked == count
