"""What a subscription bills for a period, a change, a pause or a cancellation.

These functions only compute charges; the billing engine decides when to
call them and puts the results on invoices. Preview and commit both call
the same function with the same arguments, so they cannot disagree.

Licensed prices are billed in advance: a period's invoice is made when the
period starts. A period that is a whole calendar period (anchor boundary to
anchor boundary) is billed at the price's amount; a shorter one (a first
period up to a chosen anchor) is prorated per second against the full
calendar period that contains it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from fractions import Fraction

from accrue.catalog.model import PricingScheme, packages
from accrue.invoicing.line_text import TIMES, period_text, whole_period_line
from accrue.invoicing.model import InvoiceLine, LineCharge, taxed
from accrue.invoicing.proration import prorate_partial_period
from accrue.invoicing.tax import TaxRate
from accrue.kernel.calendar import Period, period_containing
from accrue.kernel.rounding import DEFAULT_RULE
from accrue.subscriptions.model import Subscription, SubscriptionItem


def period_charges(sub: Subscription, period: Period) -> list[LineCharge]:
    """One line per item for `period`, prorated if it is shorter than its calendar period."""
    full = period_containing(sub.anchor, sub.interval, period.start)
    whole = full == period or (period.start == full.start and period.end >= full.end)
    return [
        _whole(sub, item, period) if whole else _partial(sub, item, full, period)
        for item in sub.items
        if not item.metered
    ]


def metered_notices(sub: Subscription, period: Period) -> list[LineCharge]:
    """Zero lines saying metered items are billed at period end.

    An invoice needs a line; a subscription of metered items only starts with one of these.
    """
    return [
        LineCharge(
            description=f"{item.label or item.price_id}, usage billed at period end, "
            + period_text(period.start, period.end, sub.anchor.time_zone),
            price_id=item.price_id,
            subscription_id=sub.id,
            quantity=0,
            unit_amount_minor=None,
            amount_minor=0,
            tax_behavior=item.terms.tax_behavior,
            period_start=period.start,
            period_end=period.end,
            proration=False,
            fraction=Fraction(1),
            full_period_amount_minor=0,
            unrounded=Fraction(0),
            rounding=DEFAULT_RULE.value,
            explanation="metered: billed in arrears for this period on the next invoice",
        )
        for item in sub.items
        if item.metered
    ]


def unused_time_credits(sub: Subscription, at: datetime, period: Period) -> list[LineCharge]:
    """Credits for [at, period.end) of every item, as prepaid time given back."""
    if not period.start <= at < period.end:
        return []
    return [
        LineCharge.from_proration(
            prorate_partial_period(
                item.terms,
                item.quantity,
                period=period,
                used_from=at,
                used_to=period.end,
                credit=True,
            ),
            price_id=item.price_id,
            subscription_id=sub.id,
            behavior=item.terms.tax_behavior,
            label=item.label,
            time_zone=sub.anchor.time_zone,
        )
        for item in sub.items
        if not item.metered
    ]


def with_tax(
    charges: Sequence[LineCharge], rate: TaxRate | None, currency_code: str
) -> list[InvoiceLine]:
    return [taxed(charge, rate, currency_code) for charge in charges]


def _whole(sub: Subscription, item: SubscriptionItem, period: Period) -> LineCharge:
    terms = item.terms
    amount = terms.amount_for(item.quantity).amount_minor
    explanation = f"{amount} for one whole period"
    if terms.scheme is PricingScheme.PACKAGE:
        count = packages(item.quantity, terms.package_size)
        explanation = (
            f"{item.quantity} units in packages of {terms.package_size}, rounded up ="
            f" {count} packages {TIMES} {terms.unit_amount_minor} = {explanation}"
        )
    return LineCharge(
        description=whole_period_line(
            label=item.label or item.price_id,
            quantity=item.quantity,
            unit_amount_minor=terms.shown_unit_amount_minor,
            currency_code=item.terms.currency_code,
            start=period.start,
            end=period.end,
            time_zone=sub.anchor.time_zone,
        ),
        price_id=item.price_id,
        subscription_id=sub.id,
        quantity=item.quantity,
        unit_amount_minor=terms.shown_unit_amount_minor,
        amount_minor=amount,
        tax_behavior=terms.tax_behavior,
        period_start=period.start,
        period_end=period.end,
        proration=False,
        fraction=Fraction(1),
        full_period_amount_minor=amount,
        unrounded=Fraction(amount),
        rounding=DEFAULT_RULE.value,
        explanation=explanation,
    )


def _partial(sub: Subscription, item: SubscriptionItem, full: Period, period: Period) -> LineCharge:
    line = prorate_partial_period(
        item.terms,
        item.quantity,
        period=full,
        used_from=period.start,
        used_to=min(period.end, full.end),
    )
    return LineCharge.from_proration(
        line,
        price_id=item.price_id,
        subscription_id=sub.id,
        behavior=item.terms.tax_behavior,
        label=item.label,
        time_zone=sub.anchor.time_zone,
    )
