"""The invoicing use cases on in-memory fakes: no SQL, no server.

What a billing user relies on: finalising numbers invoices gaplessly and posts
the receivable in the same transaction; an invoice is finalised once (a second
finalisation is refused with INVALID_STATE, a retry of the first is answered
with its response); a refused change leaves nothing behind.
"""

from __future__ import annotations

import pytest

from accrue.invoicing.model import CreditNoteReason, Invoice, InvoiceStatus
from accrue.invoicing.service import LineRequest
from accrue.kernel.errors import AccrueError, CurrencyMismatch
from accrue.kernel.paging import PageRequest
from accrue.platform.idempotency import Outcome
from tests.fakes.invoicing import customer, invoicing_database, invoicing_use_cases
from tests.fakes.transactions import TENANT, FakeClock, replay


def _line(amount_minor: int, currency_code: str = "USD") -> LineRequest:
    return LineRequest(
        price_id="",
        quantity=1,
        unit_amount_minor=amount_minor,
        currency_code=currency_code,
        description="Consulting",
    )


def _fresh(outcome: Outcome[Invoice]) -> Invoice:
    assert outcome.value is not None and outcome.replayed is None
    return outcome.value


def test_finalising_numbers_invoices_in_order_and_posts_the_receivable() -> None:
    db = invoicing_database(customer("cus_1"))
    use_cases = invoicing_use_cases(db, FakeClock())
    first = _fresh(use_cases.create_invoice(TENANT, "cus_1", [_line(1000)], replay(TENANT)))
    second = _fresh(use_cases.create_invoice(TENANT, "cus_1", [_line(250)], replay(TENANT)))
    assert (first.status, first.number) == (InvoiceStatus.DRAFT, "")

    done_second = _fresh(use_cases.finalize_invoice(TENANT, second.id, replay(TENANT)))
    done_first = _fresh(use_cases.finalize_invoice(TENANT, first.id, replay(TENANT)))

    assert (done_second.number, done_first.number) == ("INV-000001", "INV-000002")
    assert done_first.status is InvoiceStatus.OPEN and done_first.amount_due_minor == 1000
    posting = db.ledger.transactions[done_first.ledger_transaction_id]
    assert {e.account.code for e in posting.entries} >= {"accounts_receivable"}
    assert use_cases.get_invoice(TENANT, first.id) == done_first
    assert db.events.types().count("invoice.finalized") == 2


def test_a_second_finalisation_is_refused_with_invalid_state_and_gives_its_number_back() -> None:
    db = invoicing_database(customer("cus_1"))
    use_cases = invoicing_use_cases(db, FakeClock())
    invoice = _fresh(use_cases.create_invoice(TENANT, "cus_1", [_line(1000)], replay(TENANT)))
    done = _fresh(use_cases.finalize_invoice(TENANT, invoice.id, replay(TENANT)))
    postings, events = dict(db.ledger.transactions), list(db.events.recorded)

    with pytest.raises(AccrueError) as refused:
        use_cases.finalize_invoice(TENANT, invoice.id, replay(TENANT))

    assert refused.value.reason == "INVALID_STATE"
    assert use_cases.get_invoice(TENANT, invoice.id) == done
    assert (db.ledger.transactions, db.events.recorded) == (postings, events)
    other = _fresh(use_cases.create_invoice(TENANT, "cus_1", [_line(5)], replay(TENANT)))
    assert (
        _fresh(use_cases.finalize_invoice(TENANT, other.id, replay(TENANT))).number == "INV-000002"
    )


def test_a_retried_finalisation_is_answered_with_its_first_response_and_posts_once() -> None:
    db = invoicing_database(customer("cus_1"))
    use_cases = invoicing_use_cases(db, FakeClock())
    invoice = _fresh(use_cases.create_invoice(TENANT, "cus_1", [_line(1000)], replay(TENANT)))

    first = use_cases.finalize_invoice(TENANT, invoice.id, replay(TENANT, "r-fin"))
    again = use_cases.finalize_invoice(TENANT, invoice.id, replay(TENANT, "r-fin"))

    assert again.value is None and again.replayed == repr(first.value).encode()
    assert len(db.ledger.transactions) == 1
    assert db.events.types().count("invoice.finalized") == 1


def test_voiding_reverses_the_finalisation_posting() -> None:
    db = invoicing_database(customer("cus_1"))
    use_cases = invoicing_use_cases(db, FakeClock())
    invoice = _fresh(use_cases.create_invoice(TENANT, "cus_1", [_line(1000)], replay(TENANT)))
    done = _fresh(use_cases.finalize_invoice(TENANT, invoice.id, replay(TENANT)))

    voided = _fresh(use_cases.void_invoice(TENANT, invoice.id, replay(TENANT)))

    assert voided.status is InvoiceStatus.VOID
    (reversal,) = [t for t in db.ledger.transactions.values() if t.reverses_transaction_id]
    original = db.ledger.transactions[done.ledger_transaction_id]
    assert reversal.reverses_transaction_id == original.id
    assert [(e.account, e.amount_minor) for e in reversal.entries] == [
        (e.account, e.amount_minor) for e in original.entries
    ]
    assert [e.direction for e in reversal.entries] == [
        e.direction.opposite for e in original.entries
    ]


def test_a_line_in_another_currency_is_refused_and_nothing_is_stored() -> None:
    db = invoicing_database(customer("cus_1", "USD"))
    use_cases = invoicing_use_cases(db, FakeClock())
    with pytest.raises(CurrencyMismatch):
        use_cases.create_invoice(
            TENANT, "cus_1", [_line(1000), _line(5, "EUR")], replay(TENANT, "r-1")
        )
    assert db.invoices.rows == {} and db.events.recorded == [] and db.idempotency.rows == {}


def test_a_credit_note_is_numbered_in_its_own_series_and_listed_with_its_invoice() -> None:
    db = invoicing_database(customer("cus_1"))
    use_cases = invoicing_use_cases(db, FakeClock())
    invoice = _fresh(use_cases.create_invoice(TENANT, "cus_1", [_line(1000)], replay(TENANT)))
    _fresh(use_cases.finalize_invoice(TENANT, invoice.id, replay(TENANT)))

    outcome = use_cases.create_credit_note(
        TENANT,
        invoice.id,
        amount_minor=300,
        currency_code="USD",
        reason=CreditNoteReason.SERVICE_CREDIT,
        memo="outage",
        replay=replay(TENANT),
    )

    assert outcome.value is not None and outcome.value.number.endswith("000001")
    page = use_cases.list_credit_notes(
        TENANT, PageRequest(10, "", ""), invoice_id=invoice.id, customer_id=""
    )
    assert [n.id for n in page.items] == [outcome.value.id]
    assert use_cases.get_invoice(TENANT, invoice.id).amount_due_minor == 700
