"""The document renderer the services use: PDF with fpdf2, the page as HTML."""

from __future__ import annotations

from accrue.invoicing.documents.model import DocumentContent
from accrue.invoicing.documents.page import render_page


class DocumentRenderer:
    def pdf(self, content: DocumentContent) -> bytes:
        # fpdf2 (with numpy, fontTools and cryptography behind it) takes about half a
        # second to import: paid by the first PDF asked for, not by every process start
        # (`accrue serve`, each worker, every CLI command).
        from accrue.invoicing.documents.pdf import render_pdf

        return render_pdf(content)

    def page(self, content: DocumentContent) -> str:
        return render_page(content)
