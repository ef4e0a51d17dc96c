"""`evolve` makes the same changed copy `dataclasses.replace` makes, checks included."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accrue.invoicing.model import BillingReason, Invoice, InvoiceStatus
from accrue.kernel.calendar import BillingInterval, IntervalUnit
from accrue.kernel.errors import ValidationFailed
from accrue.kernel.records import evolve

CREATED = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _invoice(**overrides: Any) -> Invoice:
    values: dict[str, Any] = {
        "id": "in_1",
        "tenant_id": "ten_1",
        "customer_id": "cus_1",
        "subscription_id": "sub_1",
        "currency_code": "EUR",
        "status": InvoiceStatus.DRAFT,
        "billing_reason": BillingReason.SUBSCRIPTION_CYCLE,
        "lines": (),
        "period_start": None,
        "period_end": None,
        "test_clock_id": "",
        "create_time": CREATED,
    }
    return Invoice(**(values | overrides))


# Changes an invoice goes through on its way from draft to paid.
CHANGES = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(list(InvoiceStatus)),
        "number": st.text(max_size=12),
        "credit_applied_minor": st.integers(-(10**15), 10**15),
        "amount_paid_minor": st.integers(0, 10**15),
        "finalize_time": st.none() | st.just(CREATED),
        "ledger_transaction_id": st.text(max_size=30),
        "version": st.integers(1, 10**6),
        "attempt_count": st.integers(0, 50),
    },
)


@given(CHANGES)
def test_a_copy_equals_what_replace_makes_and_leaves_the_original_alone(
    changes: dict[str, Any],
) -> None:
    original = _invoice()
    copied = evolve(original, **changes)
    assert copied == replace(original, **changes)
    assert type(copied) is Invoice
    assert original == _invoice()
    with pytest.raises(FrozenInstanceError):
        copied.number = "changed"  # type: ignore[misc]


def test_the_record_checks_itself_as_its_constructor_does() -> None:
    monthly = BillingInterval(IntervalUnit.MONTH, 1)
    with pytest.raises(ValidationFailed):
        evolve(monthly, count=0)
    assert evolve(monthly, count=3) == BillingInterval(IntervalUnit.MONTH, 3)


def test_an_unknown_field_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="no field"):
        evolve(_invoice(), numbr="INV-000001")


def test_fields_outside_init_are_recomputed_as_replace_recomputes_them() -> None:
    @dataclass(frozen=True)
    class Priced:
        unit_minor: int
        quantity: int
        total_minor: int = field(init=False)
        CURRENCY: ClassVar[str] = "EUR"

        def __post_init__(self) -> None:
            object.__setattr__(self, "total_minor", self.unit_minor * self.quantity)

    assert evolve(Priced(250, 2), quantity=3).total_minor == 750


def test_a_class_with_its_own_init_is_copied_through_that_init() -> None:
    @dataclass(frozen=True, init=False)
    class Code:
        text: str

        def __init__(self, text: str) -> None:
            object.__setattr__(self, "text", text.strip().upper())

    copied = evolve(Code("eur"), text=" usd ")
    assert copied == replace(Code("eur"), text=" usd ") == Code("USD")


def test_only_dataclasses_are_copied() -> None:
    with pytest.raises(TypeError, match="dataclass"):
        evolve(CREATED, year=2027)
