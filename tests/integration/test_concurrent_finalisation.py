"""Invoice numbers stay gapless when many finalisations race (both databases)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from accrue.billing.v1 import customer_pb2 as cus
from accrue.billing.v1 import invoice_pb2 as inv
from accrue.billing.v1.money_pb2 import Money
from tests.support import GrpcClients, running_server

DRAFTS = 40


def test_concurrent_finalisation_numbers_invoices_without_gaps(database_url: str) -> None:
    with running_server(database_url) as server:
        clients = GrpcClients(server.grpc_target, server.new_tenant("numbers"))
        try:
            customer = clients.customers.CreateCustomer(
                cus.CreateCustomerRequest(
                    customer=cus.Customer(display_name="Racer", currency_code="USD")
                ),
                metadata=clients.metadata,
            )
            line = inv.InvoiceLineInput(unit_amount=Money(amount_minor=100, currency_code="USD"))
            drafts = [
                clients.invoices.CreateInvoice(
                    inv.CreateInvoiceRequest(customer_id=customer.id, lines=[line]),
                    metadata=clients.metadata,
                )
                for _ in range(DRAFTS)
            ]

            def finalise(draft_id: str) -> inv.Invoice:
                request = inv.FinalizeInvoiceRequest(id=draft_id, request_id=f"fin-{draft_id}")
                result: inv.Invoice = clients.invoices.FinalizeInvoice(
                    request, metadata=clients.metadata, timeout=60
                )
                return result

            with ThreadPoolExecutor(max_workers=8) as pool:
                finalised = list(pool.map(finalise, [d.id for d in drafts]))
        finally:
            clients.close()
    numbers = sorted(invoice.number for invoice in finalised)
    assert numbers == [f"INV-{n:06d}" for n in range(1, DRAFTS + 1)]
    assert all(invoice.status == inv.INVOICE_STATUS_OPEN for invoice in finalised)
