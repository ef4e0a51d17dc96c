"""The ledger postings an invoice's life produces.

Each posting is built from per-account signed nets (debit positive), so it
balances by construction and never carries two entries for one account. The
accounts: the customer's receivable (what it owes), revenue, tax payable, and
the customer's credit balance (what Accrue owes it back).
"""

from __future__ import annotations

from collections.abc import Mapping

from accrue.invoicing.model import CreditNote, Invoice
from accrue.ledger.model import AccountRef, PostingRequest, posting_from_nets


def receivable(invoice: Invoice) -> AccountRef:
    return AccountRef("accounts_receivable", invoice.currency_code, invoice.customer_id)


def customer_credit(currency_code: str, customer_id: str) -> AccountRef:
    return AccountRef("customer_credit", currency_code, customer_id)


def finalization_posting(invoice: Invoice) -> PostingRequest | None:
    """Receivable for the total, revenue and tax payable for its parts.

    Credit balance used moves from customer credit to the receivable; a
    net-credit total goes to the customer's credit balance instead. None
    when every amount is zero.
    """
    cur = invoice.currency_code
    total = invoice.total_minor
    nets = {
        AccountRef("revenue", cur): -invoice.subtotal_minor,
        AccountRef("tax_payable", cur): -invoice.tax_minor,
        receivable(invoice): max(total, 0) - invoice.credit_applied_minor,
        customer_credit(cur, invoice.customer_id): invoice.credit_applied_minor - max(-total, 0),
    }
    return _posting(
        nets,
        source_type="invoice_finalization",
        source_id=invoice.id,
        # By id: the posting is written before the invoice takes its number,
        # which comes last from the tenant's counter (see Invoicing._finalized).
        description=f"Invoice {invoice.id} finalised",
        invoice=invoice,
    )


def credit_note_posting(invoice: Invoice, note: CreditNote) -> PostingRequest | None:
    """Revenue and tax reversed in proportion; the receivable or credit balance credited."""
    cur = invoice.currency_code
    nets = {
        AccountRef("revenue", cur): note.net_minor,
        AccountRef("tax_payable", cur): note.tax_minor,
        receivable(invoice): -note.applied_to_invoice_minor,
        customer_credit(cur, invoice.customer_id): -note.credit_balance_added_minor,
    }
    return _posting(
        nets,
        source_type="credit_note",
        source_id=note.id,
        description=f"Credit note {note.number} on invoice {invoice.number}",
        invoice=invoice,
    )


def write_off_posting(invoice: Invoice) -> PostingRequest | None:
    """The amount still due moves from the receivable to bad debt."""
    due = invoice.amount_due_minor
    nets = {AccountRef("bad_debt", invoice.currency_code): due, receivable(invoice): -due}
    return _posting(
        nets,
        source_type="invoice_write_off",
        source_id=invoice.id,
        description=f"Invoice {invoice.number} written off",
        invoice=invoice,
    )


def _posting(
    nets: Mapping[AccountRef, int],
    *,
    source_type: str,
    source_id: str,
    description: str,
    invoice: Invoice,
) -> PostingRequest | None:
    return posting_from_nets(
        nets,
        source_type=source_type,
        source_id=source_id,
        description=description,
        resource_type="invoice",
        resource_id=invoice.id,
    )
