"""What invoice documents need from persistence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from accrue.invoicing.model import CreditNote


@dataclass(frozen=True, slots=True)
class RenderRecord:
    """The fingerprint of one state (version) of a document, from its first rendering."""

    tenant_id: str
    document_id: str
    version: int
    kind: str
    sha256: str
    byte_size: int
    first_render_time: datetime


class DocumentRepository(Protocol):
    def get_credit_note(self, tenant_id: str, credit_note_id: str) -> CreditNote | None: ...
    def get_render(self, tenant_id: str, document_id: str, version: int) -> RenderRecord | None: ...
    def add_render(self, record: RenderRecord) -> None: ...
