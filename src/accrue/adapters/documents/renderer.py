"""The document renderer the services use: PDF with fpdf2, the page as HTML."""

from __future__ import annotations

from accrue.adapters.documents.page import render_page
from accrue.adapters.documents.pdf import render_pdf
from accrue.domain.invoice_document import DocumentContent


class DocumentRenderer:
    def pdf(self, content: DocumentContent) -> bytes:
        return render_pdf(content)

    def page(self, content: DocumentContent) -> str:
        return render_page(content)
