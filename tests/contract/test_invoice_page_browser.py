"""The hosted invoice page in a real browser (headless Chromium), desktop and phone.

Chromium loads the page from the running server through a signed link (so
the strict Content-Security-Policy is in force), the rendered DOM must show
the invoice's number, amount due, totals and line texts, and screenshots are
taken at a desktop and a phone width. CI installs Debian's `chromium` (see
scripts/test); where it is missing the test is skipped and says so.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from accrue.billing.v1 import invoice_pb2 as inv
from tests.conftest import Transport
from tests.contract.billing_steps import INVOICES, Scenario, utc
from tests.support import RunningServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRED = os.environ.get("ACCRUE_REQUIRE_CHROMIUM") == "1"  # set by CI, which installs it
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not REQUIRED, reason="chromium is not installed (apt-get install chromium)"
)
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}


def chromium(*args: str) -> str:
    assert CHROMIUM is not None, "chromium is required here (ACCRUE_REQUIRE_CHROMIUM=1)"
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )
    return done.stdout


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def text_of(dom: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:p|span|table)>', dom, re.S)
    assert match is not None, element_id
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1)))


def test_page_renders_totals_and_lines_at_desktop_and_phone_width(
    grpc_transport_for_page: Transport, server: RunningServer, tmp_path: Path
) -> None:
    s = Scenario(grpc_transport_for_page, utc(2026, 4, 1), name="Team plan")
    customer = s.customer(tax_country="DE", currency="EUR")
    created = s.subscribe(customer.id, s.price(1234, currency="EUR").id, quantity=3)
    bill = s.invoice(created.latest_invoice_id)
    link = s.call(INVOICES, "CreateInvoiceLink", inv.CreateInvoiceLinkRequest(invoice_id=bill.id))
    url = server.connect_url + link.path

    dom = chromium("--dump-dom", url)
    assert text_of(dom, "number").strip() == bill.number
    assert text_of(dom, "amount-due").strip() == "44.05 EUR"
    assert text_of(dom, "status").strip() == "Open - payment due"
    totals = " ".join(text_of(dom, "totals").split())
    assert "Subtotal 37.02 EUR" in totals and "Tax VAT 19% 7.03 EUR" in totals
    assert "Total 44.05 EUR" in totals and "Amount due 44.05 EUR" in totals
    [line] = bill.lines
    assert line.description.startswith("Team plan, 3 \u00d7 12.34 EUR, 2026-04-01")
    assert html.escape(line.description) in dom

    for name, (width, height) in WIDTHS.items():
        shot = tmp_path / f"{name}.png"
        chromium(f"--window-size={width},{height}", f"--screenshot={shot}", url)
        assert png_size(shot) == (width, height)
        assert shot.stat().st_size > 10_000  # a rendered page, not a blank one


@pytest.fixture
def grpc_transport_for_page(server: RunningServer, api_key: str):  # type: ignore[no-untyped-def]
    from tests.contract.billing_steps import grpc_transport

    yield from grpc_transport(server, api_key)
