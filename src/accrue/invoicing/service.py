"""Invoice and credit-note use cases. Each runs inside the unit of work it is given."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from accrue.catalog.model import TaxBehavior
from accrue.customers.model import Customer
from accrue.invoicing.issuing import Invoicing
from accrue.invoicing.line_text import item_label, one_off_line
from accrue.invoicing.model import (
    BillingReason,
    CreditNote,
    CreditNoteReason,
    Invoice,
    InvoiceStatus,
    LineCharge,
)
from accrue.invoicing.ports import InvoicingUnitOfWork
from accrue.kernel.errors import CurrencyMismatch, NotFound, ValidationFailed
from accrue.kernel.money import check_amount
from accrue.kernel.paging import Page, PageRequest, paginate
from accrue.kernel.rounding import DEFAULT_RULE


@dataclass(frozen=True, slots=True)
class LineRequest:
    """A price and quantity, or a custom tax-exclusive amount per unit."""

    price_id: str
    quantity: int
    unit_amount_minor: int | None
    currency_code: str
    description: str


class InvoiceService:
    def __init__(self, invoicing: Invoicing) -> None:
        self._invoicing = invoicing

    def create(
        self,
        uow: InvoicingUnitOfWork,
        tenant_id: str,
        customer_id: str,
        lines: Sequence[LineRequest],
    ) -> Invoice:
        customer = self._customer(uow, tenant_id, customer_id)
        customer.ensure_active()
        now = self._invoicing.now_for(uow, customer)
        charges = [self._charge(uow, customer, line, i) for i, line in enumerate(lines)]
        draft = self._invoicing.draft(
            customer, self._invoicing.lines(customer, charges), reason=BillingReason.MANUAL, now=now
        )
        for line in lines:
            if line.price_id:
                uow.prices.mark_in_use(tenant_id, line.price_id)
        return self._invoicing.add_draft(uow, draft)

    def get(
        self, uow: InvoicingUnitOfWork, tenant_id: str, invoice_id: str, *, for_update: bool = False
    ) -> Invoice:
        invoice = uow.invoices.get(tenant_id, invoice_id, for_update=for_update)
        if invoice is None:
            raise NotFound("invoice", invoice_id)
        return invoice

    def list_invoices(
        self,
        uow: InvoicingUnitOfWork,
        tenant_id: str,
        page: PageRequest,
        *,
        customer_id: str,
        subscription_id: str,
        status: InvoiceStatus | None,
    ) -> Page[Invoice]:
        fetched = uow.invoices.list(
            tenant_id, page, customer_id=customer_id, subscription_id=subscription_id, status=status
        )
        return paginate(fetched, page)

    def finalize(self, uow: InvoicingUnitOfWork, tenant_id: str, invoice_id: str) -> Invoice:
        invoice = self.get(uow, tenant_id, invoice_id, for_update=True)
        return self._invoicing.finalize(uow, invoice, now=self._now(uow, invoice))

    def void(self, uow: InvoicingUnitOfWork, tenant_id: str, invoice_id: str) -> Invoice:
        invoice = self.get(uow, tenant_id, invoice_id, for_update=True)
        return self._invoicing.void(uow, invoice, now=self._now(uow, invoice))

    def mark_uncollectible(
        self, uow: InvoicingUnitOfWork, tenant_id: str, invoice_id: str
    ) -> Invoice:
        invoice = self.get(uow, tenant_id, invoice_id, for_update=True)
        return self._invoicing.write_off(uow, invoice, now=self._now(uow, invoice))

    def create_credit_note(
        self,
        uow: InvoicingUnitOfWork,
        tenant_id: str,
        invoice_id: str,
        *,
        amount_minor: int,
        currency_code: str,
        reason: CreditNoteReason,
        memo: str,
    ) -> CreditNote:
        invoice = self.get(uow, tenant_id, invoice_id, for_update=True)
        return self._invoicing.credit(
            uow,
            invoice,
            amount_minor=amount_minor,
            currency_code=currency_code,
            reason=reason,
            memo=memo,
            now=self._now(uow, invoice),
        )

    def list_credit_notes(
        self,
        uow: InvoicingUnitOfWork,
        tenant_id: str,
        page: PageRequest,
        *,
        invoice_id: str,
        customer_id: str,
    ) -> Page[CreditNote]:
        fetched = uow.invoices.list_credit_notes(
            tenant_id, page, invoice_id=invoice_id, customer_id=customer_id
        )
        return paginate(fetched, page)

    def _now(self, uow: InvoicingUnitOfWork, invoice: Invoice) -> datetime:
        return self._invoicing.now_for_invoice(uow, invoice)

    @staticmethod
    def _customer(uow: InvoicingUnitOfWork, tenant_id: str, customer_id: str) -> Customer:
        customer = uow.customers.get(tenant_id, customer_id)
        if customer is None:
            raise NotFound("customer", customer_id)
        return customer

    @staticmethod
    def _charge(
        uow: InvoicingUnitOfWork, customer: Customer, line: LineRequest, index: int
    ) -> LineCharge:
        path = f"lines[{index}]"
        quantity = line.quantity or 1
        if line.price_id:
            price = uow.prices.get(customer.tenant_id, line.price_id)
            if price is None:
                raise NotFound("price", line.price_id)
            price.ensure_active()
            terms = price.terms
            if terms.currency_code != customer.currency_code:
                raise CurrencyMismatch(
                    f"price {price.id!r} is in {terms.currency_code}; the customer is billed"
                    f" in {customer.currency_code}",
                    metadata={"left": customer.currency_code, "right": terms.currency_code},
                )
            amount = terms.amount_for(quantity).amount_minor
            unit, behavior = terms.unit_amount_minor, terms.tax_behavior
            product = uow.products.get(customer.tenant_id, price.product_id)
            description = one_off_line(
                label=item_label(product.display_name if product else "", price.nickname)
                or price.id,
                quantity=quantity,
                unit_amount_minor=unit,
                currency_code=terms.currency_code,
            )
        else:
            if line.currency_code != customer.currency_code:
                raise CurrencyMismatch(
                    f"{path}.unit_amount is in {line.currency_code}; the customer is billed"
                    f" in {customer.currency_code}",
                    metadata={"left": customer.currency_code, "right": line.currency_code},
                )
            unit = line.unit_amount_minor or 0
            if unit < 0:
                raise ValidationFailed.on(
                    f"{path}.unit_amount.amount_minor", "must not be negative"
                )
            check_amount(unit, field=f"{path}.unit_amount")
            amount = check_amount(unit * quantity, field=f"{path}.amount")
            behavior, description = TaxBehavior.EXCLUSIVE, line.description
        return LineCharge(
            description=line.description or description or line.price_id,
            price_id=line.price_id,
            subscription_id="",
            quantity=quantity,
            unit_amount_minor=unit,
            amount_minor=amount,
            tax_behavior=behavior,
            period_start=None,
            period_end=None,
            proration=False,
            fraction=Fraction(1),
            full_period_amount_minor=amount,
            unrounded=Fraction(amount),
            rounding=DEFAULT_RULE.value,
            explanation=f"{quantity} x {unit} = {amount}" if unit is not None else f"{amount}",
        )
