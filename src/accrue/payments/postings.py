"""The ledger postings of money moving through the PSP.

A capture moves what the customer owed (its receivable, for an invoice
payment) or a prepayment (its credit balance, for a standalone amount) into
PSP clearing: funds the PSP holds for us until it settles them. A refund
gives clearing back: contra-revenue for an invoice payment, the customer's
credit balance for a prepayment. Fees are not known for certain until the
settlement report, so reconciliation posts them.
"""

from __future__ import annotations

from accrue.ledger.model import AccountRef, Direction, Entry, PostingRequest, posting_from_nets
from accrue.payments.model import Payment, Refund


def clearing(currency_code: str) -> AccountRef:
    return AccountRef("psp_clearing", currency_code)


def _counter_account(payment: Payment, *, to_invoice: bool) -> AccountRef:
    if to_invoice:
        return AccountRef("accounts_receivable", payment.currency_code, payment.customer_id)
    return AccountRef("customer_credit", payment.currency_code, payment.customer_id)


def capture_posting(payment: Payment, *, to_invoice: bool) -> PostingRequest:
    """`to_invoice` is False when the money goes to the customer's credit
    balance: a standalone payment, or an invoice that was closed meanwhile."""
    amount = payment.amount_minor
    return PostingRequest(
        entries=(
            Entry(clearing(payment.currency_code), Direction.DEBIT, amount),
            Entry(_counter_account(payment, to_invoice=to_invoice), Direction.CREDIT, amount),
        ),
        source_type="payment_capture",
        source_id=payment.id,
        description=f"Payment {payment.id} captured by {payment.psp}",
        resource_type="payment",
        resource_id=payment.id,
    )


def refund_posting(payment: Payment, refund: Refund, *, to_invoice: bool) -> PostingRequest:
    debit = (
        AccountRef("refunds", payment.currency_code)
        if to_invoice
        else _counter_account(payment, to_invoice=False)
    )
    return PostingRequest(
        entries=(
            Entry(debit, Direction.DEBIT, refund.amount_minor),
            Entry(clearing(payment.currency_code), Direction.CREDIT, refund.amount_minor),
        ),
        source_type="payment_refund",
        source_id=refund.id,
        description=f"Refund {refund.id} of payment {payment.id}",
        resource_type="refund",
        resource_id=refund.id,
    )


def settlement_posting(
    *, run_id: str, currency_code: str, gross_minor: int, fee_minor: int, net_minor: int, label: str
) -> PostingRequest | None:
    """Settled lines of one currency: the net reached the bank, the fee went to the
    PSP, and PSP clearing gives up the gross. `label` keeps the source unique per batch."""
    nets = {
        AccountRef("bank", currency_code): net_minor,
        AccountRef("psp_fees", currency_code): fee_minor,
        clearing(currency_code): -gross_minor,
    }
    return posting_from_nets(
        nets,
        source_type="settlement",
        source_id=f"{run_id}:{label}:{currency_code}",
        description=f"Settlement of {currency_code} lines from {label} of run {run_id}",
        resource_type="reconciliation_run",
        resource_id=run_id,
    )
