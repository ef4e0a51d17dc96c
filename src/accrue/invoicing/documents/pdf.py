"""Invoice and credit-note PDFs with fpdf2, byte for byte reproducible.

Reproducible means: the same `DocumentContent` gives the same bytes on any
machine. So the fonts are files shipped inside this package (DejaVu Sans,
Bitstream Vera licence; never a system font that differs by machine, and
unlike the PDF core fonts they print any customer name), the creation date
is the document's own issue instant, the file identifier is fpdf2's hash of
the content, and no producer version or random id is written.
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from accrue.invoicing.documents.model import DocumentContent

FONTS = Path(__file__).resolve().parent / "fonts"
CONTENT_TYPE = "application/pdf"
_FAMILY = "DejaVu"
_WIDTHS = (86, 16, 30, 20, 28)  # description, quantity, unit price, tax, amount (mm)


def render_pdf(content: DocumentContent) -> bytes:
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_creation_date(content.issued_at.astimezone(UTC))
    pdf.set_producer("Accrue")
    pdf.set_creator("Accrue")
    pdf.set_title(f"{content.title} {content.number}")
    pdf.set_lang("en")
    pdf.add_font(_FAMILY, "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font(_FAMILY, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(15, 15, 15)
    pdf.add_page()
    _header(pdf, content)
    _parties(pdf, content)
    _facts(pdf, content)
    _lines(pdf, content)
    _totals(pdf, content)
    for note in content.notes:
        pdf.set_font(_FAMILY, "", 8)
        pdf.multi_cell(0, 4.5, note, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def _header(pdf: FPDF, content: DocumentContent) -> None:
    pdf.set_font(_FAMILY, "B", 18)
    pdf.cell(100, 10, content.title, new_x=XPos.RIGHT, new_y=YPos.TOP)
    pdf.set_font(_FAMILY, "B", 11)
    pdf.cell(0, 10, content.number, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_FAMILY, "", 10)
    pdf.cell(100, 6, f"Status: {content.status}", new_x=XPos.RIGHT, new_y=YPos.TOP)
    pdf.set_font(_FAMILY, "B", 10)
    pdf.cell(
        0, 6, f"Amount due: {content.amount_due}", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    pdf.ln(4)


def _parties(pdf: FPDF, content: DocumentContent) -> None:
    top = pdf.get_y()
    for x, heading, rows in ((15, "From", content.seller), (110, "Bill to", content.buyer)):
        pdf.set_xy(x, top)
        pdf.set_font(_FAMILY, "B", 9)
        pdf.cell(85, 5, heading, new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_font(_FAMILY, "", 9)
        for row in rows:
            pdf.set_x(x)
            pdf.multi_cell(85, 4.5, row, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_y(max(pdf.get_y(), top + 5 + 4.5 * max(len(content.seller), len(content.buyer))))
    pdf.ln(4)


def _facts(pdf: FPDF, content: DocumentContent) -> None:
    for label, value in content.facts:
        pdf.set_font(_FAMILY, "B", 9)
        pdf.cell(40, 5, label, new_x=XPos.RIGHT, new_y=YPos.TOP)
        pdf.set_font(_FAMILY, "", 9)
        pdf.cell(0, 5, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)


def _lines(pdf: FPDF, content: DocumentContent) -> None:
    pdf.set_font(_FAMILY, "", 8.5)
    with pdf.table(
        col_widths=_WIDTHS,
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        line_height=4.5,
        first_row_as_headings=True,
        borders_layout="HORIZONTAL_LINES",
    ) as table:
        table.row(("Description", "Qty", "Unit price", "Tax", "Amount"))
        for line in content.lines:
            table.row((line.description, line.quantity, line.unit_price, line.tax, line.amount))
    pdf.ln(3)


def _totals(pdf: FPDF, content: DocumentContent) -> None:
    last = len(content.totals) - 1
    for index, (label, value) in enumerate(content.totals):
        strong = index == last or label == "Total"
        pdf.set_font(_FAMILY, "B" if strong else "", 9.5)
        pdf.set_x(95)
        pdf.cell(60, 5.5, label, align="R", new_x=XPos.RIGHT, new_y=YPos.TOP)
        pdf.cell(0, 5.5, value, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
