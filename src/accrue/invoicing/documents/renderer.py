"""The document renderer the services use: PDF with fpdf2, the page as HTML."""

from __future__ import annotations

from accrue.invoicing.documents.model import DocumentContent
from accrue.invoicing.documents.page import render_page
from accrue.invoicing.documents.pdf import render_pdf


class DocumentRenderer:
    def pdf(self, content: DocumentContent) -> bytes:
        return render_pdf(content)

    def page(self, content: DocumentContent) -> str:
        return render_page(content)
