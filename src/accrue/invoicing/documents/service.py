"""Invoice documents (PDF) and the hosted invoice page behind signed links.

A document is drawn from the stored invoice (or credit note) alone, so the
same state always renders the same bytes. Rendering happens outside any
transaction (it takes a moment and holds nothing); the SHA-256 of each state
is then recorded in a short transaction the first time, and every later
rendering of that state must hash the same - a difference would mean the
document of record changed, which is refused loudly instead of served.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from accrue.customers.model import Customer
from accrue.invoicing.documents import page_links
from accrue.invoicing.documents.model import DocumentContent, credit_note_content, invoice_content
from accrue.invoicing.documents.page_links import PageGrant
from accrue.invoicing.documents.ports import RenderRecord
from accrue.invoicing.model import Invoice
from accrue.kernel.clock import Clock
from accrue.kernel.errors import AccrueError, InternalError, NotFound
from accrue.ports import UnitOfWork, UnitOfWorkFactory

DEFAULT_LINK_TTL = timedelta(days=30)
PDF = "application/pdf"


class DocumentRenderer(Protocol):
    def pdf(self, content: DocumentContent) -> bytes: ...
    def page(self, content: DocumentContent) -> str: ...


@dataclass(frozen=True, slots=True)
class RenderedDocument:
    content: bytes
    content_type: str
    sha256: str
    file_name: str
    version: int


@dataclass(frozen=True, slots=True)
class InvoiceLink:
    url: str
    path: str
    expire_time: datetime


class DocumentService:
    def __init__(
        self,
        *,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        renderer: DocumentRenderer,
        link_key: Callable[[], bytes],
        base_url: Callable[[], str],
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._renderer = renderer
        self._link_key = link_key
        self._base_url = base_url

    # -- documents -------------------------------------------------------------

    def document(
        self, tenant_id: str, *, invoice_id: str = "", credit_note_id: str = ""
    ) -> RenderedDocument:
        with self._uow(write=False) as uow:
            content = (
                self._credit_note_content(uow, tenant_id, credit_note_id)
                if credit_note_id
                else invoice_content(*self._invoice_parts(uow, tenant_id, invoice_id))
            )
            recorded = uow.documents.get_render(tenant_id, content.document_id, content.version)
        data = self._renderer.pdf(content)
        digest = hashlib.sha256(data).hexdigest()
        if recorded is None:
            with self._uow(write=True) as uow:
                uow.documents.add_render(
                    RenderRecord(
                        tenant_id=tenant_id,
                        document_id=content.document_id,
                        version=content.version,
                        kind=content.kind,
                        sha256=digest,
                        byte_size=len(data),
                        first_render_time=self._clock.now(),
                    )
                )
                recorded = uow.documents.get_render(tenant_id, content.document_id, content.version)
                uow.commit()
        if recorded is None or recorded.sha256 != digest:
            raise InternalError(
                f"document {content.document_id!r} version {content.version} no longer renders"
                " to its recorded bytes",
                metadata={"document_id": content.document_id},
            )
        return RenderedDocument(
            content=data,
            content_type=PDF,
            sha256=digest,
            file_name=f"{content.number}.pdf",
            version=content.version,
        )

    # -- hosted page -------------------------------------------------------------

    def create_link(self, tenant_id: str, invoice_id: str, *, ttl_seconds: int) -> InvoiceLink:
        with self._uow(write=False) as uow:
            invoice_content(*self._invoice_parts(uow, tenant_id, invoice_id))
        ttl = timedelta(seconds=ttl_seconds) if ttl_seconds else DEFAULT_LINK_TTL
        expire = self._clock.now().replace(microsecond=0) + ttl
        token = page_links.sign(self._link_key(), PageGrant(tenant_id, invoice_id, expire))
        path = f"/i/{token}"
        return InvoiceLink(url=self._base_url().rstrip("/") + path, path=path, expire_time=expire)

    def page(self, token: str) -> str | None:
        """The page a link shows; None for any link that must be refused."""
        grant = page_links.verify(self._link_key(), token, now=self._clock.now())
        if grant is None:
            return None
        with self._uow(write=False) as uow:
            try:
                parts = self._invoice_parts(uow, grant.tenant_id, grant.invoice_id)
                content = invoice_content(*parts)
            except AccrueError:
                return None
        return self._renderer.page(content)

    # -- helpers ---------------------------------------------------------------------

    @staticmethod
    def _invoice_parts(
        uow: UnitOfWork, tenant_id: str, invoice_id: str
    ) -> tuple[Invoice, Customer, str]:
        invoice = uow.invoices.get(tenant_id, invoice_id)
        if invoice is None:
            raise NotFound("invoice", invoice_id)
        return invoice, *_parties(uow, invoice)

    @staticmethod
    def _credit_note_content(uow: UnitOfWork, tenant_id: str, note_id: str) -> DocumentContent:
        note = uow.documents.get_credit_note(tenant_id, note_id)
        if note is None:
            raise NotFound("credit note", note_id)
        invoice = uow.invoices.get(tenant_id, note.invoice_id)
        assert invoice is not None, "a credit note's invoice exists"
        return credit_note_content(note, invoice, *_parties(uow, invoice))


def _parties(uow: UnitOfWork, invoice: Invoice) -> tuple[Customer, str]:
    customer = uow.customers.get(invoice.tenant_id, invoice.customer_id)
    tenant = uow.tenants.get(invoice.tenant_id)
    assert customer is not None and tenant is not None, "an invoice's customer and tenant exist"
    return customer, tenant.name
