"""Looking a report's references up as the kind of record their lines name first
(`Reconciler.row_references` into `record_rows`) finds what looking every reference
up as both kinds finds, the other kind included: a charge line naming a refund, or a
refund line naming a payment, still gets that record (and so its MISSING_INTERNALLY
names it), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from accrue import schema as t
from accrue.bootstrap import build_application
from accrue.config import Settings
from accrue.customers.mapping import customer_row
from accrue.payments.model import psp_key
from accrue.reconciliation.matching import FeeSchedule, InternalRecord, Reconciler
from accrue.reconciliation.settlement import LineKind, SettlementRow
from tests.fakes.invoicing import customer as make_customer
from tests.recon_seeding import PSP, Payer, insert_records


def _record(kind: LineKind, record_id: str, amount: int, at: datetime) -> InternalRecord:
    return InternalRecord(
        kind=kind,
        record_id=record_id,
        reference=psp_key(record_id),
        amount_minor=amount,
        currency_code="USD",
        status="succeeded",
        create_time=at,
        settled=False,
    )


def _line(number: int, kind: LineKind, reference: str, gross: int) -> SettlementRow:
    return (
        number,
        kind,
        f"psp_{number}",
        reference,
        "USD",
        gross,
        0,
        gross,
        "po_1",
        "available",
        None,
    )


def test_a_reference_is_found_as_the_other_kind_when_its_own_has_none(database_url: str) -> None:
    app = build_application(Settings(database_url=database_url, log_level="WARNING"))
    try:
        tenant_id = app.tenants.create_tenant("lookup").tenant.id
        now = datetime.now(UTC)
        records = [
            _record(LineKind.CHARGE, "pay_a", 1000, now - timedelta(days=1)),
            _record(LineKind.CHARGE, "pay_b", 2000, now - timedelta(days=1)),
            _record(LineKind.REFUND, "re_c", 300, now - timedelta(days=1)),
            _record(LineKind.REFUND, "re_d", 400, now - timedelta(days=1)),
        ]
        customer = make_customer("cus_usd", tenant_id=tenant_id)
        with app.engine.begin() as conn:
            conn.execute(insert(t.customers), [customer_row(customer)])
            payer = Payer("cus_usd", "pm_usd", "pay_parent_usd")
            insert_records(conn, tenant_id, {"USD": payer}, records)
        lines = [
            _line(2, LineKind.CHARGE, psp_key("pay_a"), 1000),  # its own kind
            _line(3, LineKind.REFUND, psp_key("pay_b"), -2000),  # names a payment
            _line(4, LineKind.CHARGE, psp_key("re_c"), 300),  # names a refund
            _line(5, LineKind.REFUND, psp_key("re_d"), -400),  # its own kind
            _line(6, LineKind.CHARGE, "accrue_pay_unknown", 500),  # no record at all
            _line(7, LineKind.DISPUTE, psp_key("pay_a"), -1000),  # not looked up
        ]
        wanted = Reconciler(fee_schedule=FeeSchedule(), cut_off=now).row_references(lines)
        assert wanted == {
            psp_key("pay_a"): LineKind.CHARGE,
            psp_key("pay_b"): LineKind.REFUND,
            psp_key("re_c"): LineKind.CHARGE,
            psp_key("re_d"): LineKind.REFUND,
            "accrue_pay_unknown": LineKind.CHARGE,
        }
        with app.uow_factory(write=False) as uow:
            by_kind = uow.reconciliation.record_rows(tenant_id, PSP, wanted)
            as_both = uow.reconciliation.record_rows(tenant_id, PSP, sorted(wanted))
        assert by_kind == as_both
        assert {reference: row[:2] for reference, row in by_kind.items()} == {
            psp_key("pay_a"): (LineKind.CHARGE, "pay_a"),
            psp_key("pay_b"): (LineKind.CHARGE, "pay_b"),
            psp_key("re_c"): (LineKind.REFUND, "re_c"),
            psp_key("re_d"): (LineKind.REFUND, "re_d"),
        }
    finally:
        app.close()
