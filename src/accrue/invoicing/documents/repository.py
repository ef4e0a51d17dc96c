"""Rendered-document fingerprints and the hosted-page signing key."""

from __future__ import annotations

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from accrue.invoicing import tables as t
from accrue.invoicing.documents.ports import RenderRecord
from accrue.invoicing.model import CreditNote
from accrue.invoicing.repository import _credit_note_from_row

_r = t.document_renders.c
_n = t.credit_notes.c


class SqlDocumentRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get_credit_note(self, tenant_id: str, credit_note_id: str) -> CreditNote | None:
        row = self._conn.execute(
            select(t.credit_notes).where(_n.tenant_id == tenant_id, _n.id == credit_note_id)
        ).first()
        return None if row is None else _credit_note_from_row(row)

    def get_render(self, tenant_id: str, document_id: str, version: int) -> RenderRecord | None:
        row = self._conn.execute(
            select(t.document_renders).where(
                _r.tenant_id == tenant_id, _r.document_id == document_id, _r.version == version
            )
        ).first()
        if row is None:
            return None
        return RenderRecord(
            tenant_id=row.tenant_id,
            document_id=row.document_id,
            version=row.version,
            kind=row.kind,
            sha256=row.sha256,
            byte_size=row.byte_size,
            first_render_time=row.first_render_time,
        )

    def add_render(self, record: RenderRecord) -> None:
        """Record a first rendering; a concurrent first rendering's record is kept."""
        insert = pg_insert if self._conn.dialect.name == "postgresql" else sqlite_insert
        self._conn.execute(
            insert(t.document_renders)
            .on_conflict_do_nothing()
            .values(
                tenant_id=record.tenant_id,
                document_id=record.document_id,
                version=record.version,
                kind=record.kind,
                sha256=record.sha256,
                byte_size=record.byte_size,
                first_render_time=record.first_render_time,
            )
        )
