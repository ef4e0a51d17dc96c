"""The hosted invoice page: one self-contained, read-only HTML document.

Every value is HTML-escaped (customer names and memos are customer input);
the page has no script, no external resource and no link anywhere, and its
one stylesheet is allowed by hash in a strict Content-Security-Policy, so
even an escaping mistake could not run code or reach another resource. It
is laid out for phones first and widens on a desktop.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

from accrue.invoicing.documents.model import DocumentContent

CONTENT_TYPE = "text/html; charset=utf-8"

_STYLE = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:#1d2330;background:#f3f4f7}
main{max-width:860px;margin:0 auto;padding:16px}
.card{background:#fff;border-radius:10px;padding:18px;margin-bottom:14px;
box-shadow:0 1px 3px rgba(0,0,0,.08)}
h1{font-size:22px;margin:0 0 4px}
.number{color:#5b6475;margin:0}
.due{font-size:26px;font-weight:700;margin:10px 0 2px}
.status{display:inline-block;padding:2px 10px;border-radius:999px;background:#eef0f4;
font-weight:600;font-size:13px}
.status-paid{background:#dcf5e4;color:#13622f}
.status-open{background:#fff1d6;color:#7a4d00}
.parties{display:grid;grid-template-columns:1fr;gap:12px}
.parties h2,.facts h2{font-size:12px;text-transform:uppercase;letter-spacing:.05em;
color:#5b6475;margin:0 0 4px}
.parties p{margin:0;overflow-wrap:anywhere}
dl{display:grid;grid-template-columns:auto 1fr;gap:4px 14px;margin:0}
dt{color:#5b6475}dd{margin:0;overflow-wrap:anywhere}
table{width:100%;border-collapse:collapse}
th{text-align:left;font-size:12px;color:#5b6475;border-bottom:1px solid #dde1e8;padding:6px 4px}
td{padding:8px 4px;border-bottom:1px solid #eef0f4;vertical-align:top}
td.num,th.num{text-align:right;white-space:nowrap}
td.desc{overflow-wrap:anywhere}
.totals td{border:0;padding:3px 4px}
.totals tr.strong td{font-weight:700;border-top:1px solid #dde1e8}
.notes{color:#5b6475;font-size:13px}
@media (max-width:640px){
 thead{display:none}
 .lines tr{display:block;border-bottom:1px solid #eef0f4;padding:6px 0}
 .lines td{display:flex;justify-content:space-between;border:0;padding:2px 0}
 .lines td::before{content:attr(data-label);color:#5b6475;margin-right:12px}
 .lines td.desc{display:block;font-weight:600}
 .lines td.desc::before{content:none}
}
@media (min-width:641px){.parties{grid-template-columns:1fr 1fr}}
"""

CSP = (
    "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
    + "'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = (
    ("content-type", CONTENT_TYPE),
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("x-frame-options", "DENY"),
    ("x-robots-tag", "noindex, nofollow"),
)

NOT_FOUND_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width,initial-scale=1">'
    "<title>Not found</title></head><body><h1>Not found</h1>"
    "<p>This link is not valid. Ask the sender for a new one.</p></body></html>"
)


def render_page(content: DocumentContent) -> str:
    e = escape
    status_class = {"Paid": "status-paid"}.get(content.status, "")
    if content.status.startswith("Open"):
        status_class = "status-open"
    lines = "".join(
        "<tr>"
        f'<td class="desc" data-label="Description">{e(line.description)}</td>'
        f'<td class="num" data-label="Qty">{e(line.quantity)}</td>'
        f'<td class="num" data-label="Unit price">{e(line.unit_price)}</td>'
        f'<td class="num" data-label="Tax">{e(line.tax)}</td>'
        f'<td class="num" data-label="Amount">{e(line.amount)}</td>'
        "</tr>"
        for line in content.lines
    )
    last = len(content.totals) - 1
    totals = "".join(
        f'<tr class="{"strong" if i == last or label == "Total" else ""}">'
        f'<td>{e(label)}</td><td class="num">{e(value)}</td></tr>'
        for i, (label, value) in enumerate(content.totals)
    )
    facts = "".join(f"<dt>{e(label)}</dt><dd>{e(value)}</dd>" for label, value in content.facts)
    notes = "".join(f'<p class="notes">{e(note)}</p>' for note in content.notes)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex,nofollow">'
        f"<title>{e(content.title)} {e(content.number)}</title>"
        f"<style>{_STYLE}</style></head><body><main>"
        '<section class="card">'
        f"<h1>{e(content.title)}</h1>"
        f'<p class="number" id="number">{e(content.number)}</p>'
        f'<p class="due" id="amount-due">{e(content.amount_due)}</p>'
        f'<span class="status {status_class}" id="status">{e(content.status)}</span>'
        "</section>"
        '<section class="card parties">'
        f"<div><h2>From</h2>{_rows(content.seller)}</div>"
        f"<div><h2>Bill to</h2>{_rows(content.buyer)}</div>"
        "</section>"
        f'<section class="card facts"><dl>{facts}</dl></section>'
        '<section class="card"><table class="lines"><thead><tr>'
        '<th>Description</th><th class="num">Qty</th><th class="num">Unit price</th>'
        '<th class="num">Tax</th><th class="num">Amount</th></tr></thead>'
        f"<tbody>{lines}</tbody></table>"
        f'<table class="totals" id="totals"><tbody>{totals}</tbody></table>{notes}'
        "</section></main></body></html>"
    )


def _rows(rows: tuple[str, ...]) -> str:
    return "".join(f"<p>{escape(row)}</p>" for row in rows)
