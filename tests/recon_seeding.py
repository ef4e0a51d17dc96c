"""Putting a generated report's internal records into the database.

`tests.reconciliation_files.build_report` says which payments and refunds a
report must be matched against; no public RPC can create a payment with a
chosen id, status, amount and creation time, so they are inserted directly
(in bulk) for one tenant. The customers and payment methods they belong to
are made through the API, one customer per currency. Every refund hangs off
one parent payment per currency, settled by an earlier import, so the
parent is never expected in a report.

`expectation` works out, from the generator's injected breaks alone, which
lines must tie out and what they add up to.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert

from accrue import schema as t
from accrue.billing.v1 import customer_pb2 as cus
from accrue.payments.model import psp_key
from accrue.reconciliation.matching import InternalRecord
from accrue.reconciliation.settlement import LineKind, parse_settlement
from tests.reconciliation_files import GeneratedReport
from tests.support import GrpcClients, RunningServer

PSP = "simulated"
# What `settlement_run_id` holds for a record settled by an import before the test's.
SETTLED_EARLIER = "recon_earlier"


@dataclass(frozen=True)
class Payer:
    """The customer (and its card) that a currency's records belong to."""

    customer_id: str
    payment_method_id: str
    parent_payment_id: str  # what that currency's refunds refund


def create_payers(clients: GrpcClients, currencies: Iterable[str]) -> dict[str, Payer]:
    """One customer per currency, through the API, each with a card attached."""
    payers: dict[str, Payer] = {}
    for currency in sorted(set(currencies)):
        customer = clients.customers.CreateCustomer(
            cus.CreateCustomerRequest(
                customer=cus.Customer(display_name=f"Payer {currency}", currency_code=currency),
                request_id=str(uuid.uuid4()),
            ),
            metadata=clients.metadata,
            timeout=30,
        )
        attached = clients.customers.AttachPaymentMethod(
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
        payers[currency] = Payer(
            customer_id=customer.id,
            payment_method_id=attached.payment_methods[-1].id,
            parent_payment_id=f"pay_parent_{uuid.uuid4().hex[:16]}",
        )
    return payers


def insert_records(
    conn: Connection,
    tenant_id: str,
    payers: Mapping[str, Payer],
    records: Iterable[InternalRecord],
) -> None:
    """Insert `records` (payments and refunds) for `tenant_id`, with the parents."""
    records = list(records)
    earliest = min((r.create_time for r in records), default=datetime.now().astimezone())
    parents = [
        _payment_row(
            tenant_id,
            payer,
            record_id=payer.parent_payment_id,
            reference=psp_key(payer.parent_payment_id),
            amount=10**9,
            currency=currency,
            status="succeeded",
            created=earliest - timedelta(days=30),
            settlement_run_id=SETTLED_EARLIER,
        )
        for currency, payer in sorted(payers.items())
    ]
    payments = [
        _payment_row(
            tenant_id,
            payers[r.currency_code],
            record_id=r.record_id,
            reference=r.reference,
            amount=r.amount_minor,
            currency=r.currency_code,
            status=r.status,
            created=r.create_time,
            settlement_run_id=SETTLED_EARLIER if r.settled else None,
        )
        for r in records
        if r.kind is LineKind.CHARGE
    ]
    refunds = [
        _refund_row(tenant_id, payers[r.currency_code], r)
        for r in records
        if r.kind is LineKind.REFUND
    ]
    conn.execute(insert(t.payments), parents + payments)
    if refunds:
        conn.execute(insert(t.refunds), refunds)


def seed(
    server: RunningServer, api_key: str, records: Iterable[InternalRecord]
) -> dict[str, Payer]:
    """Customers through the API, then every record as a row, for `api_key`'s tenant."""
    records = list(records)
    clients = GrpcClients(server.grpc_target, api_key)
    try:
        payers = create_payers(clients, {r.currency_code for r in records})
    finally:
        clients.close()
    tenant_id = server.tenant_of(api_key)
    with server.app.engine.begin() as conn:
        insert_records(conn, tenant_id, payers, records)
    return payers


def _payment_row(
    tenant_id: str,
    payer: Payer,
    *,
    record_id: str,
    reference: str,
    amount: int,
    currency: str,
    status: str,
    created: datetime,
    settlement_run_id: str | None,
) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "id": record_id,
        "customer_id": payer.customer_id,
        "invoice_id": None,
        "amount_minor": amount,
        "currency_code": currency,
        "status": status,
        "payment_method_id": payer.payment_method_id,
        "psp": PSP,
        "psp_idempotency_key": reference,
        "psp_charge_id": f"ch_{record_id}" if status == "succeeded" else None,
        "failure_code": "do_not_honor" if status == "failed" else "",
        "fee_minor": 0,
        "amount_refunded_minor": 0,
        "refund_reserved_minor": 0,
        "psp_request_count": 1,
        "description": "",
        "metadata": {},
        "request_id": record_id,
        "request_fingerprint": "",
        "ledger_transaction_id": None,
        "next_inquiry_time": None,
        "collection_attempt": 0,
        "settlement_run_id": settlement_run_id,
        "create_time": created,
        "update_time": created,
        "version": 1,
    }


def _refund_row(tenant_id: str, payer: Payer, record: InternalRecord) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "id": record.record_id,
        "payment_id": payer.parent_payment_id,
        "customer_id": payer.customer_id,
        "amount_minor": record.amount_minor,
        "currency_code": record.currency_code,
        "status": record.status,
        "reason": "",
        "psp_idempotency_key": record.reference,
        "psp_refund_id": f"rf_{record.record_id}" if record.status == "succeeded" else None,
        "failure_code": "refund_failed" if record.status == "failed" else "",
        "request_id": record.record_id,
        "request_fingerprint": "",
        "ledger_transaction_id": None,
        "next_inquiry_time": None,
        "settlement_run_id": SETTLED_EARLIER if record.settled else None,
        "create_time": record.create_time,
        "update_time": record.create_time,
        "version": 1,
    }


@dataclass
class Expectation:
    """The lines that must tie out: every settled charge or refund line of the
    report that the generator broke in no way."""

    line_count: int
    lines_by_currency: Counter[str]
    matched_by_currency: dict[str, tuple[int, int, int, int]]  # count, gross, fees, net
    matched_record_ids: set[str]

    @property
    def matched_count(self) -> int:
        return sum(count for count, *_ in self.matched_by_currency.values())


def expectation(report: GeneratedReport) -> Expectation:
    broken_lines = {line for _, line, _ in report.expected if line}
    lines_by_currency: Counter[str] = Counter()
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    matched: set[str] = set()
    count = 0
    for line in parse_settlement(report.chunks(1 << 20), report.fmt):
        count += 1
        lines_by_currency[line.currency_code] += 1
        if (
            line.kind in (LineKind.CHARGE, LineKind.REFUND)
            and line.status == "available"
            and line.line_number not in broken_lines
        ):
            s = sums[line.currency_code]
            s[0] += 1
            s[1] += line.gross_minor
            s[2] += line.fee_minor
            s[3] += line.net_minor
            matched.add(report.records[line.reference].record_id)
    return Expectation(
        line_count=count,
        lines_by_currency=lines_by_currency,
        matched_by_currency={c: (s[0], s[1], s[2], s[3]) for c, s in sums.items()},
        matched_record_ids=matched,
    )
