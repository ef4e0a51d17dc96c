"""Invoice documents and hosted pages over both transports.

The document of a subscription invoice names the product, not the price id;
the same state renders the same bytes and the recorded SHA-256; a payment
state change makes a new document. The hosted page answers a valid link with
the invoice and every wrong link (tampered, expired, another tenant's,
unknown) with one and the same 404.
"""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta

import httpx
from pypdf import PdfReader

from accrue.billing.v1 import invoice_pb2 as inv
from accrue.invoicing.documents import page_links
from tests.conftest import Transport
from tests.contract.billing_steps import INVOICES, Scenario, utc
from tests.support import RunningServer

APRIL = utc(2026, 4, 1, 4)  # midnight in New York


def pdf_text(data: bytes) -> str:
    return " ".join(
        " ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages
    )


def document(s: Scenario, **which: str) -> inv.InvoiceDocument:
    return s.call(INVOICES, "GetInvoiceDocument", inv.GetInvoiceDocumentRequest(**which))


def test_subscription_invoice_document_reads_like_an_invoice(rpc: Transport) -> None:
    s = Scenario(rpc, APRIL, name="Pro plan")
    customer = s.customer(time_zone="America/New_York")
    created = s.subscribe(customer.id, s.price(1500).id, quantity=2)
    bill = s.invoice(created.latest_invoice_id)
    [line] = bill.lines
    assert line.description == "Pro plan, 2 \u00d7 15.00 USD, 2026-04-01 \u2013 2026-05-01"

    first = document(s, invoice_id=bill.id)
    again = document(s, invoice_id=bill.id)
    assert first.content_type == "application/pdf"
    assert first.sha256 == hashlib.sha256(first.content).hexdigest()
    assert (again.content, again.sha256) == (first.content, first.sha256)
    assert first.file_name == f"{bill.number}.pdf"
    text = pdf_text(first.content)
    for expected in (bill.number, "Lifecycle", "Pro plan, 2", "Amount due 30.00 USD", "Open"):
        assert expected in text
    assert "price_" not in text


def test_credit_note_has_its_own_document_and_the_invoice_a_new_state(rpc: Transport) -> None:
    s = Scenario(rpc, APRIL, name="Docs")
    customer = s.customer()
    created = s.subscribe(customer.id, s.price(1000).id)
    bill = s.invoice(created.latest_invoice_id)
    before = document(s, invoice_id=bill.id)

    note = s.credit_note(bill, 1000)

    after = document(s, invoice_id=bill.id)
    assert after.version > before.version and after.sha256 != before.sha256
    assert "Status: Paid" in pdf_text(after.content)
    note_doc = document(s, credit_note_id=note.id)
    assert note_doc.file_name == f"{note.number}.pdf"
    assert "Total credited 10.00 USD" in pdf_text(note_doc.content)


def test_draft_has_no_document_and_other_tenants_invoices_are_not_found(
    rpc: Transport, server: RunningServer
) -> None:
    s = Scenario(rpc, APRIL, name="Draft")
    customer = s.customer()
    draft = s.call(
        INVOICES,
        "CreateInvoice",
        inv.CreateInvoiceRequest(
            customer_id=customer.id,
            lines=[inv.InvoiceLineInput(unit_amount={"amount_minor": 100, "currency_code": "USD"})],
        ),
    )
    failure = s.fail(
        INVOICES, "GetInvoiceDocument", inv.GetInvoiceDocumentRequest(invoice_id=draft.id)
    )
    assert (failure.code, failure.reason) == ("FAILED_PRECONDITION", "INVALID_STATE")
    failure = s.fail(
        INVOICES, "CreateInvoiceLink", inv.CreateInvoiceLinkRequest(invoice_id=draft.id)
    )
    assert (failure.code, failure.reason) == ("FAILED_PRECONDITION", "INVALID_STATE")

    finalised = s.manual_invoice(customer.id, 500)
    other = Transport(rpc.name, type(rpc.clients)(*_target(rpc, server), server.new_tenant()))
    for method, request in (
        ("GetInvoiceDocument", inv.GetInvoiceDocumentRequest(invoice_id=finalised.id)),
        ("CreateInvoiceLink", inv.CreateInvoiceLinkRequest(invoice_id=finalised.id)),
    ):
        failure = other.fail(INVOICES, method, request)
        assert (failure.code, failure.reason) == ("NOT_FOUND", "RESOURCE_NOT_FOUND")


def _target(rpc: Transport, server: RunningServer) -> tuple[str]:
    return (server.grpc_target,) if rpc.name == "grpc" else (server.connect_url,)


def test_hosted_page_shows_the_invoice_and_refuses_every_wrong_link_alike(
    rpc: Transport, server: RunningServer, api_key: str
) -> None:
    s = Scenario(rpc, APRIL, name="Hosted <b>plan</b>")
    customer = s.customer()
    created = s.subscribe(customer.id, s.price(1234).id)
    bill = s.invoice(created.latest_invoice_id)
    link = s.call(INVOICES, "CreateInvoiceLink", inv.CreateInvoiceLinkRequest(invoice_id=bill.id))
    assert link.url == server.connect_url + link.path
    assert link.path.startswith("/i/")

    page = httpx.get(server.connect_url + link.path)
    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert page.headers["x-content-type-options"] == "nosniff"
    assert bill.number in page.text and "12.34 USD" in page.text
    assert "Hosted &lt;b&gt;plan&lt;/b&gt;" in page.text and "<b>plan" not in page.text

    token = link.path.removeprefix("/i/")
    key = server.app.documents._link_key()
    tenant = server.tenant_of(api_key)
    future = datetime.now(UTC) + timedelta(days=1)
    wrong = {
        "tampered": token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        "expired": page_links.sign(
            key, page_links.PageGrant(tenant, bill.id, datetime.now(UTC) - timedelta(seconds=1))
        ),
        "other tenant": page_links.sign(
            key, page_links.PageGrant("ten_someoneelse", bill.id, future)
        ),
        "other key": page_links.sign(b"k" * 32, page_links.PageGrant(tenant, bill.id, future)),
        "unknown invoice": page_links.sign(key, page_links.PageGrant(tenant, "in_nothere", future)),
        "garbage": "not-a-token",
        "nested path": token + "/x",
    }
    answers = {name: httpx.get(f"{server.connect_url}/i/{value}") for name, value in wrong.items()}
    bodies = {
        (r.status_code, r.text, r.headers["content-security-policy"]) for r in answers.values()
    }
    assert len(bodies) == 1, {name: r.status_code for name, r in answers.items()}
    [(status, body, _)] = bodies
    assert status == 404 and bill.number not in body


def test_one_off_price_line_names_the_product_and_unit_price(rpc: Transport) -> None:
    s = Scenario(rpc, APRIL, name="Setup fee")
    customer = s.customer(currency="KWD")
    price = s.price(1234, currency="KWD", recurring=False)
    draft = s.call(
        INVOICES,
        "CreateInvoice",
        inv.CreateInvoiceRequest(
            customer_id=customer.id,
            lines=[inv.InvoiceLineInput(price_id=price.id, quantity=3)],
        ),
    )
    [line] = draft.lines
    assert line.description == "Setup fee, 3 \u00d7 1.234 KWD"
    assert line.amount.amount_minor == 3702
