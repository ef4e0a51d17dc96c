"""Test clocks, subscriptions, invoices and credit notes in SQL, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError

from accrue import schema as t
from accrue.catalog.model import (
    PriceTerms,
    PriceTier,
    PricingScheme,
    Recurring,
    TaxBehavior,
    UsageType,
)
from accrue.customers.model import Customer
from accrue.invoicing import model as inv
from accrue.invoicing.model import (
    BillingReason,
    CreditNote,
    CreditNoteReason,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineCharge,
)
from accrue.invoicing.proration import prorate_partial_period
from accrue.invoicing.tax import TaxRate
from accrue.kernel.calendar import BillingInterval, IntervalUnit, Period, anchor_from
from accrue.kernel.errors import ConcurrentModification
from accrue.kernel.lifecycle import LifecycleState
from accrue.kernel.paging import PageRequest
from accrue.platform.db import migrate
from accrue.platform.db.engine import build_engine
from accrue.platform.ports import StoredResponse
from accrue.subscriptions.model import Pause, Subscription, SubscriptionItem, SubscriptionStatus
from accrue.subscriptions.ports import DueSubscription
from accrue.tenancy.model import Tenant
from accrue.test_clocks.model import TestClock
from accrue.unit_of_work import SqlUnitOfWorkFactory

CREATED = datetime(2024, 1, 31, 12, 0, 0, 654321, tzinfo=UTC)
START = datetime(2024, 1, 31, 12, 0, 0, tzinfo=UTC)
LATER = datetime(2024, 2, 1, 9, 30, 0, 250000, tzinfo=UTC)
EVERYTHING = PageRequest(size=100, after_id="", query_fingerprint="")
# More than 64 bits on both sides of the bar: must come back exactly, never via a float.
HUGE = Fraction(2**80 + 1, 3**55)
CA_TAX = TaxRate("US-CA", Fraction(725, 10000), "Sales tax")
MONTHLY = Recurring(IntervalUnit.MONTH, 1)
PER_SEAT = PriceTerms("USD", PricingScheme.PER_UNIT, unit_amount_minor=1999, recurring=MONTHLY)
TIERED = PriceTerms(
    "USD",
    PricingScheme.TIERED,
    tiers=(PriceTier(10, 500, 0), PriceTier(100, 400, 250), PriceTier(None, 300, 1000)),
    recurring=Recurring(IntervalUnit.MONTH, 1, UsageType.METERED),
    tax_behavior=TaxBehavior.INCLUSIVE,
)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    built = build_engine(database_url, pool_size=4)
    migrate.upgrade(built)
    yield built
    built.dispose()


@pytest.fixture
def uow_factory(engine: Engine) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(engine)


def customer(tenant_id: str, customer_id: str, clock_id: str = "") -> Customer:
    return Customer(
        id=customer_id,
        tenant_id=tenant_id,
        display_name=customer_id,
        email="",
        currency_code="USD",
        billing_address=None,
        tax_location=None,
        time_zone="UTC",
        metadata={},
        payment_methods=(),
        default_payment_method_id="",
        state=LifecycleState.ACTIVE,
        create_time=CREATED,
        update_time=CREATED,
        test_clock_id=clock_id,
    )


def clock(tenant_id: str, clock_id: str) -> TestClock:
    return TestClock(clock_id, tenant_id, "Month-end run", START, 0, CREATED, CREATED)


def arrange(uow_factory: SqlUnitOfWorkFactory, tenant_id: str) -> None:
    """A tenant with test clock clk_1, customer cus_sim on it and cus_real on real time."""
    with uow_factory(write=True) as uow:
        uow.tenants.add(Tenant(id=tenant_id, name=tenant_id, create_time=CREATED))
        uow.test_clocks.add(clock(tenant_id, "clk_1"))
        uow.customers.add(customer(tenant_id, "cus_sim", "clk_1"))
        uow.customers.add(customer(tenant_id, "cus_real"))
        uow.commit()


def subscription(
    tenant_id: str,
    sub_id: str,
    *,
    customer_id: str = "cus_real",
    clock_id: str = "",
    period_end: datetime = datetime(2024, 2, 29, 12, tzinfo=UTC),
) -> Subscription:
    """An ACTIVE subscription whose next action is the renewal at `period_end`."""
    return Subscription(
        id=sub_id,
        tenant_id=tenant_id,
        customer_id=customer_id,
        status=SubscriptionStatus.ACTIVE,
        items=(SubscriptionItem("price_seat", PER_SEAT, 3),),
        anchor=anchor_from(START, "America/New_York"),
        interval=BillingInterval(IntervalUnit.MONTH),
        current_period=Period(START, period_end),
        create_time=CREATED,
        test_clock_id=clock_id,
    )


def exact_lines(subscription_id: str) -> tuple[InvoiceLine, ...]:
    """A taxed proration, a taxed full-period charge and an untaxed line with huge fractions."""
    period = Period(START, datetime(2024, 2, 29, 12, tzinfo=UTC))
    prorated = prorate_partial_period(
        TIERED,
        37,
        period=period,
        used_from=datetime(2024, 2, 9, 7, 3, 11, tzinfo=UTC),
        used_to=period.end,
    )
    proration = LineCharge.from_proration(
        prorated,
        price_id="price_tiered",
        subscription_id=subscription_id,
        behavior=TaxBehavior.INCLUSIVE,
    )
    full = LineCharge(
        description="Seats x 3 — février",
        price_id="price_seat",
        subscription_id=subscription_id,
        quantity=3,
        unit_amount_minor=1999,
        amount_minor=5997,
        tax_behavior=TaxBehavior.EXCLUSIVE,
        period_start=period.start,
        period_end=period.end,
        proration=False,
        fraction=Fraction(1),
        full_period_amount_minor=5997,
        unrounded=Fraction(5997),
        rounding="ROUND_HALF_EVEN",
        explanation="3 x 1999 = 5997",
    )
    odd = replace(
        full,
        description="Adjustment",
        price_id="",
        unit_amount_minor=None,
        amount_minor=-1,
        period_start=None,
        period_end=None,
        proration=True,
        fraction=HUGE,
        unrounded=-HUGE,
    )
    lines = (
        inv.taxed(proration, CA_TAX, "USD"),
        inv.taxed(full, CA_TAX, "USD"),
        inv.taxed(odd, None, "USD"),
    )
    assert lines[0].unrounded_tax.denominator > 1
    return lines


def stored_next_action_time(engine: Engine, tenant_id: str, sub_id: str) -> datetime | None:
    c = t.subscriptions.c
    query = select(c.next_action_time).where(c.tenant_id == tenant_id, c.id == sub_id)
    with engine.connect() as conn:
        value: datetime | None = conn.execute(query).scalar_one()
    return value


# --- test clocks and customers ---------------------------------------------------


def test_test_clock_round_trips_and_updates(uow_factory: SqlUnitOfWorkFactory) -> None:
    arrange(uow_factory, "ten_a")
    advanced = replace(
        clock("ten_a", "clk_1"),
        frozen_time=datetime(2024, 3, 1, tzinfo=UTC),
        work_items_run=12,
        update_time=CREATED + timedelta(minutes=1),
    )
    with uow_factory(write=True) as uow:
        assert uow.test_clocks.get("ten_a", "clk_1", for_update=True) == clock("ten_a", "clk_1")
        uow.test_clocks.update(advanced)
        uow.test_clocks.add(clock("ten_a", "clk_0"))
        uow.commit()

    with uow_factory(write=False) as uow:
        assert uow.test_clocks.get("ten_a", "clk_1") == advanced
        assert uow.test_clocks.get("ten_b", "clk_1") is None
        listed = uow.test_clocks.list("ten_a", EVERYTHING)
        second_page = uow.test_clocks.list("ten_a", PageRequest(1, "clk_0", ""))
    assert [c.id for c in listed] == ["clk_0", "clk_1"]
    assert second_page == [advanced]


def test_customer_test_clock_id_round_trips_and_never_changes(
    uow_factory: SqlUnitOfWorkFactory, engine: Engine
) -> None:
    arrange(uow_factory, "ten_a")
    with uow_factory(write=True) as uow:
        # An update cannot move a customer onto real time.
        uow.customers.update(replace(customer("ten_a", "cus_sim"), display_name="renamed"))
        uow.commit()

    with uow_factory(write=False) as uow:
        simulated = uow.customers.get("ten_a", "cus_sim")
        real = uow.customers.get("ten_a", "cus_real")
    assert simulated == replace(customer("ten_a", "cus_sim", "clk_1"), display_name="renamed")
    assert real == customer("ten_a", "cus_real")
    with engine.connect() as conn:
        c = t.customers.c
        stored = {row.id: row.test_clock_id for row in conn.execute(select(c.id, c.test_clock_id))}
    assert stored == {"cus_sim": "clk_1", "cus_real": None}


# --- subscriptions -----------------------------------------------------------------


def test_subscription_round_trips_items_trial_pause_and_exact_pending_lines(
    uow_factory: SqlUnitOfWorkFactory, engine: Engine
) -> None:
    arrange(uow_factory, "ten_a")
    resume_at = datetime(2024, 4, 15, 9, 30, tzinfo=UTC)
    paused = replace(
        subscription("ten_a", "sub_1", customer_id="cus_sim", clock_id="clk_1"),
        status=SubscriptionStatus.PAUSED,
        items=(
            SubscriptionItem("price_seat", PER_SEAT, 3),
            SubscriptionItem("price_tiered", TIERED, 37),
        ),
        trial_end=datetime(2024, 2, 14, 12, tzinfo=UTC),
        cancel_at_period_end=False,
        pause=Pause(datetime(2024, 2, 20, 8, 15, 1, tzinfo=UTC), resume_at),
        version=6,
        metadata={"crm": "42", "ünïcode": "✓"},
        pending_lines=exact_lines("sub_1"),
        latest_invoice_id="in_7",
        update_time=CREATED + timedelta(days=20),
    )
    pause_without_end = replace(
        subscription("ten_a", "sub_2"),
        status=SubscriptionStatus.PAUSED,
        pause=Pause(datetime(2024, 2, 20, tzinfo=UTC), None),
    )
    with uow_factory(write=True) as uow:
        uow.subscriptions.add(paused)
        uow.subscriptions.add(pause_without_end)
        uow.commit()

    with uow_factory(write=False) as uow:
        loaded = uow.subscriptions.get("ten_a", "sub_1")
        assert uow.subscriptions.get("ten_a", "sub_2") == pause_without_end
        assert uow.subscriptions.get("ten_b", "sub_1") is None
    assert loaded == paused
    assert loaded is not None
    assert loaded.pending_lines[2].charge.fraction == HUGE
    assert loaded.pending_lines[2].charge.unrounded == -HUGE
    assert loaded.pending_lines[0].tax_rate == CA_TAX
    assert loaded.pending_lines[0].unrounded_tax == paused.pending_lines[0].unrounded_tax
    # The scheduler's column follows the aggregate: a paused subscription is due at its resume.
    assert stored_next_action_time(engine, "ten_a", "sub_1") == resume_at
    assert stored_next_action_time(engine, "ten_a", "sub_2") is None


def test_update_with_a_stale_version_raises_and_changes_nothing(
    uow_factory: SqlUnitOfWorkFactory, engine: Engine
) -> None:
    arrange(uow_factory, "ten_a")
    original = subscription("ten_a", "sub_1")
    with uow_factory(write=True) as uow:
        uow.subscriptions.add(original)
        uow.commit()

    renewed = replace(
        original,
        current_period=Period(original.current_period.end, datetime(2024, 3, 31, 12, tzinfo=UTC)),
        version=2,
    )
    with uow_factory(write=True) as uow:
        uow.subscriptions.update(renewed, expected_version=1)
        uow.commit()
    assert stored_next_action_time(engine, "ten_a", "sub_1") == renewed.current_period.end

    with pytest.raises(ConcurrentModification) as caught, uow_factory(write=True) as uow:
        uow.subscriptions.update(replace(original, version=2), expected_version=1)
    assert caught.value.metadata["resource_id"] == "sub_1"
    with uow_factory(write=False) as uow:
        assert uow.subscriptions.get("ten_a", "sub_1", for_update=True) == renewed


def test_subscription_list_filters_and_pages_in_id_order(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    arrange(uow_factory, "ten_a")
    with uow_factory(write=True) as uow:
        for sub_id in ("sub_3", "sub_1", "sub_2"):
            uow.subscriptions.add(subscription("ten_a", sub_id))
        uow.subscriptions.add(
            replace(
                subscription("ten_a", "sub_0", customer_id="cus_sim", clock_id="clk_1"),
                status=SubscriptionStatus.CANCELED,
            )
        )
        uow.commit()

    with uow_factory(write=False) as uow:
        subs = uow.subscriptions
        everything = subs.list("ten_a", EVERYTHING, customer_id="", status=None)
        by_customer = subs.list("ten_a", EVERYTHING, customer_id="cus_real", status=None)
        canceled = subs.list(
            "ten_a", EVERYTHING, customer_id="", status=SubscriptionStatus.CANCELED
        )
        page = subs.list("ten_a", PageRequest(1, "sub_1", ""), customer_id="", status=None)
        other_tenant = subs.list("ten_b", EVERYTHING, customer_id="", status=None)
    assert [s.id for s in everything] == ["sub_0", "sub_1", "sub_2", "sub_3"]
    assert [s.id for s in by_customer] == ["sub_1", "sub_2", "sub_3"]
    assert [s.id for s in canceled] == ["sub_0"]
    # One row more than the page size tells the caller another page follows.
    assert [s.id for s in page] == ["sub_2", "sub_3"]
    assert other_tenant == []


def test_due_work_is_found_per_clock_and_on_real_time_in_time_order(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    arrange(uow_factory, "ten_a")
    arrange(uow_factory, "ten_b")
    early, late = datetime(2024, 2, 10, tzinfo=UTC), datetime(2024, 2, 20, tzinfo=UTC)
    with uow_factory(write=True) as uow:
        for tenant_id in ("ten_a", "ten_b"):
            simulated = {"customer_id": "cus_sim", "clock_id": "clk_1"}
            uow.subscriptions.add(subscription(tenant_id, "sub_c2", **simulated, period_end=early))
            uow.subscriptions.add(subscription(tenant_id, "sub_c1", **simulated, period_end=early))
            uow.subscriptions.add(subscription(tenant_id, "sub_c0", **simulated, period_end=late))
            uow.subscriptions.add(subscription(tenant_id, "sub_r1", period_end=late))
            uow.subscriptions.add(subscription(tenant_id, "sub_r2", period_end=early))
        uow.subscriptions.add(
            replace(subscription("ten_a", "sub_done"), status=SubscriptionStatus.CANCELED)
        )
        uow.commit()

    with uow_factory(write=True) as uow:
        subs = uow.subscriptions
        on_clock = subs.due_on_clock("ten_a", "clk_1", until=late, limit=10)
        first_two = subs.due_on_clock("ten_a", "clk_1", until=late, limit=2)
        before_late = subs.due_on_clock(
            "ten_a", "clk_1", until=late - timedelta(seconds=1), limit=9
        )
        real_time = subs.claim_due(now=late, limit=10)
        claimed_early = subs.claim_due(now=early, limit=1)
    assert on_clock == [
        DueSubscription("ten_a", "sub_c1", early),
        DueSubscription("ten_a", "sub_c2", early),
        DueSubscription("ten_a", "sub_c0", late),
    ]
    assert first_two == on_clock[:2]
    assert before_late == on_clock[:2]
    assert real_time == [
        DueSubscription("ten_a", "sub_r2", early),
        DueSubscription("ten_b", "sub_r2", early),
        DueSubscription("ten_a", "sub_r1", late),
        DueSubscription("ten_b", "sub_r1", late),
    ]
    assert claimed_early == real_time[:1]


# --- invoices, credit notes, numbers ------------------------------------------------


def draft_invoice(
    tenant_id: str, invoice_id: str, *, customer_id: str = "cus_sim", subscription_id: str = "sub_1"
) -> Invoice:
    return inv.new_invoice(
        id=invoice_id,
        tenant_id=tenant_id,
        customer_id=customer_id,
        subscription_id=subscription_id,
        currency_code="USD",
        reason=BillingReason.SUBSCRIPTION_CYCLE,
        lines=exact_lines("sub_1"),
        period_start=START,
        period_end=datetime(2024, 2, 29, 12, tzinfo=UTC),
        test_clock_id="clk_1",
        now=CREATED,
    )


def test_invoice_with_lines_round_trips_exactly_and_updates(
    uow_factory: SqlUnitOfWorkFactory, engine: Engine
) -> None:
    arrange(uow_factory, "ten_a")
    draft = draft_invoice("ten_a", "in_1")
    with uow_factory(write=True) as uow:
        uow.invoices.add(draft)
        uow.commit()

    with uow_factory(write=False) as uow:
        loaded = uow.invoices.get("ten_a", "in_1")
        assert uow.invoices.get("ten_b", "in_1") is None
    assert loaded == draft
    assert loaded is not None
    assert [line.line_number for line in loaded.lines] == [1, 2, 3]
    assert loaded.lines[2].charge.fraction == HUGE
    assert loaded.lines[2].tax_rate is None
    assert loaded.lines[1].tax_rate == CA_TAX

    finalized = replace(
        inv.numbered(inv.finalize(draft, credit_balance_minor=100, now=CREATED), 1),
        ledger_transaction_id="tx_1",
    )
    with uow_factory(write=True) as uow:
        current = uow.invoices.get("ten_a", "in_1", for_update=True)
        assert current == draft
        uow.invoices.update(finalized)
        uow.commit()

    with uow_factory(write=False) as uow:
        assert uow.invoices.get("ten_a", "in_1") == finalized
    c = t.invoices.c
    totals = select(
        c.number, c.subtotal_minor, c.tax_minor, c.total_minor, c.amount_due_minor
    ).where(c.id == "in_1")
    with engine.connect() as conn:
        stored = conn.execute(totals).one()
    assert tuple(stored) == (
        "INV-000001",
        finalized.subtotal_minor,
        finalized.tax_minor,
        finalized.total_minor,
        finalized.amount_due_minor,
    )


def test_an_invoice_update_is_seen_by_its_own_unit_of_work_and_stored_only_on_commit(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """On PostgreSQL an update waits for the commit's round trip; the unit of work
    that made it must still read it back, and a rollback must leave no trace."""
    arrange(uow_factory, "ten_u")
    draft = draft_invoice("ten_u", "in_u")
    with uow_factory(write=True) as uow:
        uow.invoices.add(draft)
        uow.commit()
    finalized = inv.numbered(inv.finalize(draft, credit_balance_minor=0, now=LATER), 7)
    everything = PageRequest(size=10, after_id="", query_fingerprint="")

    with uow_factory(write=True) as uow:  # rolled back
        uow.invoices.update(finalized)
        assert uow.invoices.get("ten_u", "in_u") == finalized
        listed = uow.invoices.list(
            "ten_u", everything, customer_id="", subscription_id="", status=None
        )
        assert [(i.status, i.number) for i in listed] == [(InvoiceStatus.OPEN, "INV-000007")]
    with uow_factory(write=False) as uow:
        assert uow.invoices.get("ten_u", "in_u") == draft

    with uow_factory(write=True) as uow:  # committed; the last update wins
        uow.invoices.update(replace(finalized, status=InvoiceStatus.UNCOLLECTIBLE))
        uow.invoices.update(finalized)
        uow.commit()
    with uow_factory(write=False) as uow:
        assert uow.invoices.get("ten_u", "in_u") == finalized


def test_a_final_write_that_fails_at_commit_rolls_back_everything_with_a_database_error(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """What a unit of work leaves for commit (here a stored response whose key is
    taken) fails the commit as a database error, however it is sent; nothing of
    the unit of work stays, and the next one works."""
    arrange(uow_factory, "ten_f")
    stored = StoredResponse(method="/m", fingerprint="f" * 64, response=b"answer")
    with uow_factory(write=True) as uow:
        uow.idempotency.add("ten_f", "taken", stored, create_time=CREATED)
        uow.commit()
    draft = draft_invoice("ten_f", "in_f")
    with uow_factory(write=True) as uow:
        uow.invoices.add(draft)
        uow.commit()

    with pytest.raises(IntegrityError), uow_factory(write=True) as uow:
        uow.customers.add(customer("ten_f", "cus_lost"))
        uow.invoices.update(inv.finalize(draft, credit_balance_minor=0, now=LATER))
        uow.idempotency.add("ten_f", "taken", stored, create_time=LATER)
        uow.commit()

    with uow_factory(write=True) as uow:
        assert uow.customers.get("ten_f", "cus_lost") is None
        assert uow.invoices.get("ten_f", "in_f") == draft
        uow.customers.add(customer("ten_f", "cus_kept"))
        uow.commit()
    with uow_factory(write=False) as uow:
        assert uow.customers.get("ten_f", "cus_kept") is not None


def test_invoice_list_filters_pages_and_loads_lines(uow_factory: SqlUnitOfWorkFactory) -> None:
    arrange(uow_factory, "ten_a")
    manual = draft_invoice("ten_a", "in_3", subscription_id="", customer_id="cus_real")
    opened = inv.numbered(
        inv.finalize(draft_invoice("ten_a", "in_2"), credit_balance_minor=0, now=START), 1
    )
    with uow_factory(write=True) as uow:
        for invoice in (manual, opened, draft_invoice("ten_a", "in_1")):
            uow.invoices.add(invoice)
        uow.commit()

    with uow_factory(write=False) as uow:
        invoices = uow.invoices

        def ids(
            customer_id: str = "", subscription_id: str = "", status: InvoiceStatus | None = None
        ) -> list[str]:
            listed = invoices.list(
                "ten_a",
                EVERYTHING,
                customer_id=customer_id,
                subscription_id=subscription_id,
                status=status,
            )
            return [i.id for i in listed]

        everything = invoices.list(
            "ten_a", EVERYTHING, customer_id="", subscription_id="", status=None
        )
        assert ids() == ["in_1", "in_2", "in_3"]
        assert ids(customer_id="cus_real") == ["in_3"]
        assert ids(subscription_id="sub_1") == ["in_1", "in_2"]
        assert ids(status=InvoiceStatus.OPEN) == ["in_2"]
        paged = invoices.list(
            "ten_a", PageRequest(1, "in_1", ""), customer_id="", subscription_id="", status=None
        )
    assert everything[1] == opened
    assert everything[2] == manual
    assert [i.id for i in paged] == ["in_2", "in_3"]
    assert all(len(i.lines) == 3 for i in everything)


def test_credit_notes_round_trip_and_filter(uow_factory: SqlUnitOfWorkFactory) -> None:
    arrange(uow_factory, "ten_a")

    def note(note_id: str, number: int, invoice_id: str, customer_id: str) -> CreditNote:
        return CreditNote(
            id=note_id,
            tenant_id="ten_a",
            number=inv.format_number("CN", number),
            invoice_id=invoice_id,
            customer_id=customer_id,
            currency_code="USD",
            amount_minor=1000,
            tax_minor=68,
            applied_to_invoice_minor=600,
            credit_balance_added_minor=400,
            reason=CreditNoteReason.SERVICE_CREDIT,
            memo="Outage on 2 Feb — sorry",
            create_time=CREATED,
            ledger_transaction_id="tx_9" if number == 1 else "",
        )

    notes = [
        note("cn_1", 1, "in_1", "cus_sim"),
        note("cn_2", 2, "in_2", "cus_real"),
        note("cn_3", 3, "in_1", "cus_sim"),
    ]
    with uow_factory(write=True) as uow:
        uow.invoices.add(draft_invoice("ten_a", "in_1"))
        uow.invoices.add(draft_invoice("ten_a", "in_2", customer_id="cus_real"))
        for credit_note in notes:
            uow.invoices.add_credit_note(credit_note)
        uow.commit()

    with uow_factory(write=False) as uow:
        listed = uow.invoices.list_credit_notes("ten_a", EVERYTHING, invoice_id="", customer_id="")
        of_in_1 = uow.invoices.list_credit_notes(
            "ten_a", EVERYTHING, invoice_id="in_1", customer_id=""
        )
        of_real = uow.invoices.list_credit_notes(
            "ten_a", EVERYTHING, invoice_id="", customer_id="cus_real"
        )
        page = uow.invoices.list_credit_notes(
            "ten_a", PageRequest(1, "cn_1", ""), invoice_id="", customer_id=""
        )
    assert listed == notes
    assert of_in_1 == [notes[0], notes[2]]
    assert of_real == [notes[1]]
    assert page == notes[1:]


def test_numbers_count_from_one_per_tenant_and_series(uow_factory: SqlUnitOfWorkFactory) -> None:
    arrange(uow_factory, "ten_a")
    arrange(uow_factory, "ten_b")
    with uow_factory(write=True) as uow:
        numbers = uow.invoices.next_number
        a = [numbers("ten_a", "invoice") for _ in range(3)]
        b = [numbers("ten_b", "invoice") for _ in range(2)]
        notes = [numbers("ten_a", "credit_note") for _ in range(2)]
        uow.commit()
    with uow_factory(write=True) as uow:
        after_commit = uow.invoices.next_number("ten_a", "invoice")
        uow.commit()
    assert (a, b, notes, after_commit) == ([1, 2, 3], [1, 2], [1, 2], 4)


def test_a_rolled_back_number_is_handed_out_again(uow_factory: SqlUnitOfWorkFactory) -> None:
    arrange(uow_factory, "ten_a")
    with uow_factory(write=True) as uow:
        assert uow.invoices.next_number("ten_a", "invoice") == 1
        uow.commit()
    with uow_factory(write=True) as uow:
        assert uow.invoices.next_number("ten_a", "invoice") == 2
        # left without commit
    with uow_factory(write=True) as uow:
        assert uow.invoices.next_number("ten_a", "invoice") == 2
        uow.commit()


# --- concurrency (PostgreSQL: SQLite serialises writers on one lock) ----------------


@pytest.fixture
def pg_factory(postgres_url: str) -> Iterator[SqlUnitOfWorkFactory]:
    built = build_engine(postgres_url, pool_size=4)
    migrate.upgrade(built)
    yield SqlUnitOfWorkFactory(built)
    built.dispose()


def test_concurrent_claims_receive_disjoint_due_subscriptions(
    pg_factory: SqlUnitOfWorkFactory,
) -> None:
    arrange(pg_factory, "ten_a")
    due = datetime(2024, 2, 10, tzinfo=UTC)
    with pg_factory(write=True) as uow:
        for n in range(10):
            uow.subscriptions.add(
                subscription("ten_a", f"sub_{n:02d}", period_end=due + timedelta(minutes=n))
            )
        uow.commit()

    # Both transactions stay open until both have claimed, so each sees the
    # other's rows locked.
    both_claimed = threading.Barrier(2, timeout=10)
    claims: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            with pg_factory(write=True) as uow:
                claimed = uow.subscriptions.claim_due(now=due + timedelta(hours=1), limit=4)
                claims[name] = [d.subscription_id for d in claimed]
                both_claimed.wait()
                uow.commit()
        except BaseException as exc:
            errors.append(exc)
            both_claimed.abort()

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(claims["a"]) == len(claims["b"]) == 4
    assert set(claims["a"]).isdisjoint(claims["b"])
    # Together they took the eight earliest, each in order.
    assert sorted(claims["a"] + claims["b"]) == [f"sub_{n:02d}" for n in range(8)]
    assert claims["a"] == sorted(claims["a"]) and claims["b"] == sorted(claims["b"])


def test_a_waiting_finalisation_gets_the_number_a_rolled_back_one_gave_back(
    pg_factory: SqlUnitOfWorkFactory,
) -> None:
    arrange(pg_factory, "ten_a")
    with pg_factory(write=True) as uow:
        assert uow.invoices.next_number("ten_a", "invoice") == 1
        uow.commit()

    got: list[int] = []

    def other() -> None:
        with pg_factory(write=True) as uow:
            got.append(uow.invoices.next_number("ten_a", "invoice"))
            uow.commit()

    thread = threading.Thread(target=other)
    with pg_factory(write=True) as uow:
        assert uow.invoices.next_number("ten_a", "invoice") == 2
        thread.start()
        wait_until_a_lock_is_awaited(pg_factory.engine)
        assert got == []
        # left without commit: the number goes back
    thread.join(timeout=10)
    assert got == [2]


def wait_until_a_lock_is_awaited(engine: Engine) -> None:
    deadline = time.monotonic() + 10
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted"))
            if waiting.scalar_one():
                return
            conn.rollback()
            time.sleep(0.02)
    raise AssertionError("the second transaction never waited for the counter's row lock")
