"""Document fingerprints and the page-link key on SQLite and PostgreSQL.

The SHA-256 of a document state is recorded once, at its first rendering;
the generated link key is stored once and shared, so a link made by one
server works on another (and after a restart) on the same database.
"""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from accrue import schema as t
from accrue.billing.v1 import invoice_pb2 as inv
from tests.conftest import Transport
from tests.contract.billing_steps import INVOICES, Scenario, utc
from tests.support import GrpcClients, running_server


def test_first_rendering_is_recorded_and_links_outlive_the_server(database_url: str) -> None:
    with running_server(database_url) as first:
        key = first.new_tenant()
        clients = GrpcClients(first.grpc_target, key)
        try:
            s = Scenario(Transport("grpc", clients), utc(2026, 4, 1), name="Stored")
            created = s.subscribe(s.customer().id, s.price(1000).id)
            request = inv.GetInvoiceDocumentRequest(invoice_id=created.latest_invoice_id)
            documents = [s.call(INVOICES, "GetInvoiceDocument", request) for _ in range(2)]
            link = s.call(
                INVOICES,
                "CreateInvoiceLink",
                inv.CreateInvoiceLinkRequest(invoice_id=created.latest_invoice_id),
            )
        finally:
            clients.close()
        assert documents[0].content == documents[1].content
        with first.uow(write=False) as uow:
            rows = uow._conn.execute(select(t.document_renders)).all()
            keys = uow._conn.execute(
                select(func.count())
                .select_from(t.server_secrets)
                .where(t.server_secrets.c.name == "invoice_link")
            )
            assert keys.scalar_one() == 1
        assert [(row.sha256, row.byte_size) for row in rows] == [
            (documents[0].sha256, len(documents[0].content))
        ]

    with running_server(database_url) as second:
        page = httpx.get(second.connect_url + link.path)
        assert page.status_code == 200
        assert "10.00 USD" in page.text
