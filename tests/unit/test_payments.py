"""Payment and refund rules: the state machine, refund reservations, postings, dunning."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accrue.kernel.errors import InvalidState, PspUnavailableError, RefundExceedsRefundable
from accrue.payments import model as pay
from accrue.payments.dunning import DunningPolicy
from accrue.payments.engine import PaymentEngine, PaymentPolicy
from accrue.payments.model import Cause, PaymentStatus, PspResult, RefundStatus
from accrue.payments.postings import capture_posting, refund_posting
from accrue.payments.psp.port import PspOutcomeUnknown, PspRejected, PspUnavailable
from accrue.platform.resilience.backoff import Backoff
from accrue.platform.resilience.circuit_breaker import CircuitBreakers
from tests.fakes.payments import FakeGateway, payment_stack

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _payment(amount: int = 1000, invoice_id: str = "") -> pay.Payment:
    return pay.new_payment(
        id="pay_1",
        tenant_id="ten_1",
        customer_id="cus_1",
        invoice_id=invoice_id,
        amount_minor=amount,
        currency_code="USD",
        payment_method_id="pm_1",
        psp="simulated",
        request_id="req-1",
        request_fingerprint="f",
        description="",
        metadata={},
        now=NOW,
        inquire_at=NOW + timedelta(seconds=30),
    )


def _captured(amount: int = 1000) -> pay.Payment:
    return pay.settle(_payment(amount), PspResult("ch_1", True, "", 59), Cause.PSP_RESPONSE, NOW)


def test_a_new_payment_is_processing_with_pending_recorded_and_an_inquiry_scheduled() -> None:
    payment = _payment()
    assert payment.status is PaymentStatus.PROCESSING
    assert [(c.from_status, c.to_status, c.cause) for c in payment.transitions] == [
        ("", "pending", Cause.CREATED),
        ("pending", "processing", Cause.SENDING),
    ]
    assert payment.next_inquiry_time == NOW + timedelta(seconds=30)
    assert payment.psp_idempotency_key == "accrue_pay_1"


def test_the_psp_key_depends_on_the_record_alone() -> None:
    assert pay.psp_key("pay_1") == pay.psp_key("pay_1") != pay.psp_key("pay_2")


def test_a_final_payment_ignores_later_news() -> None:
    succeeded = _captured()
    again = pay.settle(succeeded, PspResult("ch_9", False, "do_not_honor"), Cause.PSP_WEBHOOK, NOW)
    assert again == succeeded
    assert pay.unknown(succeeded, NOW, inquire_at=NOW) == succeeded
    assert pay.unreachable(succeeded, NOW) == succeeded


def test_an_unknown_payment_is_never_failed_for_being_unreachable() -> None:
    unknown = pay.unknown(_payment(), NOW, inquire_at=NOW + timedelta(seconds=30))
    assert unknown.status is PaymentStatus.UNKNOWN
    # An earlier request may have reached the PSP: only its answer may settle it.
    assert pay.unreachable(unknown, NOW).status is PaymentStatus.UNKNOWN
    settled = pay.settle(unknown, PspResult("ch_1", True, ""), Cause.PSP_INQUIRY, NOW)
    assert settled.status is PaymentStatus.SUCCEEDED
    assert settled.next_inquiry_time is None
    assert [c.cause for c in settled.transitions][-2:] == [Cause.PSP_NO_ANSWER, Cause.PSP_INQUIRY]


def test_a_request_that_never_reached_the_psp_fails_the_payment() -> None:
    failed = pay.unreachable(_payment(), NOW)
    assert failed.status is PaymentStatus.FAILED
    assert failed.failure_code == pay.PSP_UNAVAILABLE


def test_a_decline_keeps_the_psp_code_and_no_fee() -> None:
    failed = pay.settle(
        _payment(), PspResult("ch_1", False, "insufficient_funds", 30), Cause.PSP_RESPONSE, NOW
    )
    assert (failed.status, failed.failure_code, failed.fee_minor) == (
        PaymentStatus.FAILED,
        "insufficient_funds",
        0,
    )


def test_only_succeeded_payments_are_refundable() -> None:
    with pytest.raises(InvalidState):
        pay.reserve_refund(_payment(), 1, NOW)


def test_a_refund_above_what_is_left_is_refused_with_the_figures() -> None:
    payment = pay.reserve_refund(_captured(1000), 700, NOW)
    with pytest.raises(RefundExceedsRefundable) as refused:
        pay.reserve_refund(payment, 301, NOW)
    assert refused.value.metadata["refundable_minor"] == "300"


@settings(max_examples=200, deadline=None)
@given(
    amount=st.integers(1, 10**9),
    steps=st.lists(
        st.tuples(st.integers(1, 10**9), st.sampled_from(["ok", "fail", "open"])), max_size=30
    ),
)
def test_refunds_never_exceed_the_captured_amount(amount: int, steps: list[Any]) -> None:
    payment = _captured(amount)
    succeeded = 0
    for index, (wanted, outcome) in enumerate(steps):
        try:
            reserved = pay.reserve_refund(payment, wanted, NOW)
        except RefundExceedsRefundable:
            assert wanted > payment.refundable_minor or payment.refundable_minor == 0
            continue
        refund = pay.new_refund(
            payment,
            id=f"re_{index}",
            amount_minor=wanted,
            reason="",
            request_id=f"r{index}",
            request_fingerprint="",
            now=NOW,
            inquire_at=NOW,
        )
        payment = reserved
        if outcome == "open":
            continue  # still in flight: its amount stays reserved
        result = PspResult(f"re_psp_{index}", outcome == "ok", "" if outcome == "ok" else "x")
        settled = pay.settle_refund(refund, result, Cause.PSP_RESPONSE, NOW)
        payment = pay.refund_settled(payment, settled, NOW)
        succeeded += wanted if settled.status is RefundStatus.SUCCEEDED else 0
        assert payment.refundable_minor >= 0
    assert payment.amount_refunded_minor == succeeded
    assert payment.amount_refunded_minor + payment.refund_reserved_minor <= amount


@settings(max_examples=100, deadline=None)
@given(amount=st.integers(1, 10**12), to_invoice=st.booleans(), refunded=st.integers(1, 10**12))
def test_capture_and_refund_postings_balance(amount: int, to_invoice: bool, refunded: int) -> None:
    payment = _captured(amount)
    capture = capture_posting(payment, to_invoice=to_invoice)
    capture.validate()
    assert sum(e.signed_minor for e in capture.entries) == 0
    counter = "accounts_receivable" if to_invoice else "customer_credit"
    assert {e.account.code for e in capture.entries} == {"psp_clearing", counter}
    refund = pay.new_refund(
        payment,
        id="re_1",
        amount_minor=min(refunded, amount),
        reason="",
        request_id="r",
        request_fingerprint="",
        now=NOW,
        inquire_at=NOW,
    )
    posting = refund_posting(payment, refund, to_invoice=to_invoice)
    posting.validate()
    assert sum(e.signed_minor for e in posting.entries) == 0
    debit = "refunds" if to_invoice else "customer_credit"
    assert {e.account.code for e in posting.entries} == {"psp_clearing", debit}


def test_dunning_retries_follow_the_schedule_then_stop() -> None:
    policy = DunningPolicy.parse("3,5,7", "cancel")
    assert policy.max_attempts == 4
    assert policy.next_attempt(1, NOW) == NOW + timedelta(days=3)
    assert policy.next_attempt(2, NOW) == NOW + timedelta(days=5)
    assert policy.next_attempt(3, NOW) == NOW + timedelta(days=7)
    assert policy.next_attempt(4, NOW) is None
    assert DunningPolicy.parse("", "unpaid").next_attempt(1, NOW) is None
    with pytest.raises(ValueError, match="positive"):
        DunningPolicy.parse("3,0", "cancel")


# -- the PSP call: retries, declines, the breaker --------------------------------


def _engine(failures: int = 3, attempts: int = 3) -> tuple[PaymentEngine, list[float]]:
    slept: list[float] = []
    stack = payment_stack(
        gateway=FakeGateway(),
        breakers=CircuitBreakers(failure_threshold=failures, reset_after_seconds=60),
        policy=PaymentPolicy(backoff=Backoff(0.1, 0.4, attempts)),
        sleep=slept.append,
        rng=random.Random(7),
    )
    return stack.engine, slept


def _flaky(*errors: Exception) -> Any:
    queue = list(errors)

    def request() -> str:
        if queue:
            raise queue.pop(0)
        return "charged"

    return request


def test_transient_failures_are_retried_with_jittered_backoff_until_an_answer() -> None:
    engine, slept = _engine()
    call = engine._call("psp", _flaky(PspUnavailable("refused"), PspOutcomeUnknown("timeout")))
    assert (call.answered, call.value, call.requests, call.maybe_sent) == (
        True,
        "charged",
        3,
        True,
    )
    assert len(slept) == 2
    assert 0 <= slept[0] <= 0.1 and 0 <= slept[1] <= 0.2


def test_a_rejection_is_not_retried() -> None:
    engine, slept = _engine()
    call = engine._call("psp", _flaky(PspRejected("bad token", code="invalid_token")))
    assert call.requests == 1 and slept == []
    assert call.rejected is not None and call.rejected.code == "invalid_token"


def test_a_request_that_never_left_is_known_not_sent() -> None:
    engine, _ = _engine(failures=10)
    call = engine._call("psp", _flaky(*[PspUnavailable("refused")] * 3))
    assert (call.answered, call.maybe_sent, call.requests) == (False, False, 3)
    call = engine._call(
        "psp", _flaky(PspUnavailable("refused"), PspOutcomeUnknown("reset"), PspUnavailable("x"))
    )
    assert (call.answered, call.maybe_sent) == (False, True)


def test_the_breaker_opens_after_repeated_failures_and_stops_calls() -> None:
    engine, _ = _engine(failures=2, attempts=3)
    calls = engine._call("psp", _flaky(*[PspOutcomeUnknown("timeout")] * 5))
    assert calls.requests == 2  # the third try found the breaker open
    with pytest.raises(PspUnavailableError) as refused:
        engine.check_available("psp")
    assert refused.value.retry_after_seconds is not None
    assert 0 < refused.value.retry_after_seconds <= 60
