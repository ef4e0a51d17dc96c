"""Invoice documents: the PDF's text and the page's HTML against golden files.

The invoice is built from domain objects with fixed ids and instants, so the
document is fully determined: the PDF must render to the same bytes every
time (and to the golden SHA-256: fonts and fpdf2 are pinned and shipped),
its extracted text must equal the golden text, and the page's HTML the
golden HTML. Regenerate the golden files with ACCRUE_UPDATE_GOLDEN=1 after a
deliberate change, and read the diff.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from dataclasses import replace
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import pytest
from pypdf import PdfReader

from accrue.catalog.model import PriceTerms, PricingScheme, Recurring
from accrue.customers.model import Customer, LifecycleState, PostalAddress
from accrue.invoicing import model as inv
from accrue.invoicing.documents.model import credit_note_content, invoice_content
from accrue.invoicing.documents.page import CSP, render_page
from accrue.invoicing.documents.pdf import render_pdf
from accrue.invoicing.line_text import item_label
from accrue.invoicing.model import BillingReason, CreditNoteReason
from accrue.invoicing.tax import TaxRate
from accrue.kernel.calendar import BillingInterval, IntervalUnit, anchor_from
from accrue.subscriptions.charges import period_charges, unused_time_credits, with_tax
from accrue.subscriptions.model import SubscriptionItem, create_subscription, start

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
UPDATE = os.environ.get("ACCRUE_UPDATE_GOLDEN") == "1"
START = datetime(2027, 4, 1, 4, tzinfo=UTC)  # midnight in New York
VAT = TaxRate("US-NY", Fraction(4, 100), "Sales tax")
MONTHLY = Recurring(interval_unit=IntervalUnit.MONTH, interval_count=1)


def customer() -> Customer:
    return Customer(
        id="cus_golden",
        tenant_id="ten_golden",
        display_name='Zoë & <script>alert("x")</script> Ltd',
        email="billing@example.com",
        currency_code="USD",
        billing_address=PostalAddress(
            line1="1 Main St", city="New York", region="NY", postal_code="10001", country_code="US"
        ),
        tax_location=None,
        time_zone="America/New_York",
        metadata={},
        payment_methods=(),
        default_payment_method_id="",
        state=LifecycleState.ACTIVE,
        create_time=START,
        update_time=START,
    )


def invoice() -> inv.Invoice:
    terms = PriceTerms(
        currency_code="USD",
        scheme=PricingScheme.PER_UNIT,
        unit_amount_minor=1500,
        recurring=MONTHLY,
    )
    item = SubscriptionItem("price_golden", terms, 2, label=item_label("Pro", "Monthly"))
    sub = create_subscription(
        id="sub_golden",
        tenant_id="ten_golden",
        customer_id="cus_golden",
        items=[item],
        anchor=anchor_from(START, "America/New_York"),
        interval=BillingInterval(IntervalUnit.MONTH, 1),
        now=START,
    )
    sub = start(sub, START).subscription
    credit_at = datetime(2027, 4, 17, 4, tzinfo=UTC)
    charges = [
        *unused_time_credits(sub, credit_at, sub.current_period),
        *period_charges(sub, sub.current_period),
    ]
    draft = inv.new_invoice(
        id="in_golden",
        tenant_id="ten_golden",
        customer_id="cus_golden",
        subscription_id=sub.id,
        currency_code="USD",
        reason=BillingReason.SUBSCRIPTION_CYCLE,
        lines=with_tax(charges, VAT, "USD"),
        period_start=sub.current_period.start,
        period_end=sub.current_period.end,
        test_clock_id="",
        now=START,
    )
    return inv.numbered(inv.finalize(draft, credit_balance_minor=0, now=START), 7)


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages) + "\n"


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


def test_invoice_pdf_matches_golden_text_and_rerenders_to_the_same_bytes() -> None:
    content = invoice_content(invoice(), customer(), "Acme Billing GmbH")
    first, second = render_pdf(content), render_pdf(content)
    assert first == second
    assert first.startswith(b"%PDF-")
    check_golden("invoice.pdf.txt", pdf_text(first))
    check_golden("invoice.pdf.sha256", hashlib.sha256(first).hexdigest() + "\n")
    text = pdf_text(first)
    line = "Pro (Monthly), 2 \u00d7 15.00 USD, 2027-04-01 \u2013 2027-05-01"
    assert line in re.sub(r"\s+", " ", text)
    assert "Amount due 16.64 USD" in text
    assert "Tax Sales tax 4% 0.64 USD" in text


def test_payment_makes_a_new_state_with_its_own_document() -> None:
    open_invoice = invoice()
    paid = inv.record_payment(open_invoice, open_invoice.amount_due_minor, START)
    before = render_pdf(invoice_content(open_invoice, customer(), "Acme"))
    after = render_pdf(invoice_content(paid, customer(), "Acme"))
    assert before != after
    assert paid.version != open_invoice.version
    assert "Status: Paid" in pdf_text(after)
    assert "Amount due: 0.00 USD" in pdf_text(after)


def test_credit_note_pdf_matches_golden_text() -> None:
    open_invoice = invoice()
    _, note = inv.credit(
        open_invoice,
        id="cn_golden",
        number=3,
        amount_minor=520,
        currency_code="USD",
        reason=CreditNoteReason.SERVICE_CREDIT,
        memo="Outage on 2027-04-10",
        now=datetime(2027, 4, 20, 16, tzinfo=UTC),
    )
    content = credit_note_content(note, open_invoice, customer(), "Acme Billing GmbH")
    data = render_pdf(content)
    assert data == render_pdf(content)
    check_golden("credit_note.pdf.txt", pdf_text(data))


def test_page_html_matches_golden_and_escapes_customer_input() -> None:
    html = render_page(invoice_content(invoice(), customer(), "Acme <Billing>"))
    check_golden("invoice_page.html", html)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "Acme &lt;Billing&gt;" in html
    # No script, no external resource: the CSP allows one stylesheet by hash.
    assert "src=" not in html and "href=" not in html
    assert CSP.startswith("default-src 'none'; style-src 'sha256-")


def test_draft_has_no_document() -> None:
    draft = replace(invoice(), status=inv.InvoiceStatus.DRAFT, finalize_time=None)
    with pytest.raises(inv.InvalidState):
        invoice_content(draft, customer(), "Acme")
