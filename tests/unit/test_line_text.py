"""Invoice lines read like an invoice: product, unit price, civil dates, share in days."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

from accrue.catalog.model import PriceTerms, PricingScheme, Recurring
from accrue.invoicing.line_text import civil_date, item_label, share_text
from accrue.kernel.calendar import BillingInterval, IntervalUnit, Period, anchor_from
from accrue.subscriptions.charges import period_charges, unused_time_credits
from accrue.subscriptions.model import SubscriptionItem, create_subscription, start

MONTHLY = Recurring(interval_unit=IntervalUnit.MONTH, interval_count=1)


def terms(amount: int, currency: str = "USD") -> PriceTerms:
    return PriceTerms(
        currency_code=currency,
        scheme=PricingScheme.PER_UNIT,
        unit_amount_minor=amount,
        recurring=MONTHLY,
    )


def subscription(item: SubscriptionItem, at: datetime, zone: str):  # type: ignore[no-untyped-def]
    sub = create_subscription(
        id="sub_1",
        tenant_id="t_1",
        customer_id="cus_1",
        items=[item],
        anchor=anchor_from(at, zone),
        interval=BillingInterval(IntervalUnit.MONTH, 1),
        now=at,
    )
    return start(sub, at).subscription


def test_renewal_line_names_product_unit_price_and_civil_dates_in_customer_zone() -> None:
    # Midnight in New York is 04:00Z in April: the customer reads dates, not "04:00:00Z".
    at = datetime(2027, 4, 1, 4, tzinfo=UTC)
    item = SubscriptionItem("price_1", terms(1500), 2, label=item_label("Pro", "Monthly"))
    sub = subscription(item, at, "America/New_York")
    [line] = period_charges(sub, sub.current_period)
    assert line.description == "Pro (Monthly), 2 \u00d7 15.00 USD, 2027-04-01 \u2013 2027-05-01"
    assert line.amount_minor == 3000
    assert "price_1" not in line.description


def test_proration_credit_shows_unit_price_and_days_not_the_line_total() -> None:
    at = datetime(2027, 4, 1, 4, tzinfo=UTC)
    item = SubscriptionItem("price_1", terms(1500), 2, label="Pro")
    sub = subscription(item, at, "America/New_York")
    cancel_at = datetime(2027, 4, 17, 4, tzinfo=UTC)  # 14 of April's 30 days left
    [credit] = unused_time_credits(sub, cancel_at, sub.current_period)
    assert credit.description == (
        "Unused time on Pro, 2 \u00d7 15.00 USD, 14 of 30 days, 2027-04-17 \u2013 2027-05-01"
    )
    assert credit.amount_minor == -1400
    # The exact derivation stays available beside the words.
    assert credit.explanation.startswith("-3000 x 1209600/2592000")


def test_kwd_unit_price_has_three_decimals() -> None:
    at = datetime(2027, 4, 1, tzinfo=UTC)
    item = SubscriptionItem("price_k", terms(1234, "KWD"), 3, label="Seats")
    sub = subscription(item, at, "Asia/Kuwait")
    [line] = period_charges(sub, sub.current_period)
    assert "3 \u00d7 1.234 KWD" in line.description
    assert "3.702" not in line.description


def test_civil_dates_and_shares() -> None:
    assert civil_date(datetime(2027, 4, 1, 4, tzinfo=UTC), "America/New_York") == "2027-04-01"
    assert civil_date(datetime(2027, 4, 1, 13, 30, tzinfo=UTC), "UTC") == "2027-04-01 13:30"
    assert share_text(Fraction(14), 30) == "14 of 30 days"
    assert share_text(Fraction(31, 2), 31) == "15.5 of 31 days"
    # A DST month still has its calendar days.
    march = Period(datetime(2027, 3, 1, 5, tzinfo=UTC), datetime(2027, 4, 1, 4, tzinfo=UTC))
    item = SubscriptionItem("price_1", terms(3100), 1, label="Pro")
    sub = subscription(item, march.start, "America/New_York")
    [credit] = unused_time_credits(sub, datetime(2027, 3, 17, 4, tzinfo=UTC), sub.current_period)
    assert ", 15 of 31 days, 2027-03-17 \u2013 2027-04-01" in credit.description
