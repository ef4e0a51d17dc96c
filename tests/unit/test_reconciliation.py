"""Reconciliation: the fee schedule, every break category found exactly where it
was injected, payouts tied out, determinism, and clean reports staying clean."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accrue.kernel.money import CURRENCY_EXPONENTS
from accrue.payments.psp.simulator import fee_minor
from accrue.reconciliation.matching import (
    Break,
    BreakCategory,
    FeeSchedule,
    InternalRecord,
    Reconciler,
)
from accrue.reconciliation.settlement import LineKind, SettlementFormat, SettlementLine
from tests.reconciliation_files import (
    CURRENCIES,
    GeneratedReport,
    build_report,
    from_simulator,
    reconcile,
)

pytestmark = pytest.mark.timeout(300)

SIM = SettlementFormat.SIMULATED
BAL = SettlementFormat.BALANCE_TRANSACTIONS
CUT_OFF = datetime(2026, 11, 30, tzinfo=UTC)
FEES = FeeSchedule()

# -- the fee schedule -------------------------------------------------------


def test_default_fee_schedule_is_the_simulators_fee_for_every_small_amount() -> None:
    for currency in ("USD", "JPY", "KWD", "CLF"):
        for amount in range(0, 20_001):
            assert FEES.fee_for(amount, currency) == fee_minor(amount, currency)


@given(
    amount=st.integers(min_value=0, max_value=10**15),
    currency=st.sampled_from(sorted(CURRENCY_EXPONENTS)),
)
def test_default_fee_schedule_is_the_simulators_fee_for_any_amount(
    amount: int, currency: str
) -> None:
    assert FEES.fee_for(amount, currency) == fee_minor(amount, currency)


def test_fee_schedule_rounds_half_up_and_adds_the_fixed_part_by_exponent() -> None:
    fees = FeeSchedule(percent_basis_points=150, fixed_minor_by_exponent={0: 10, 2: 25})
    assert fees.fee_for(100, "USD") == 2 + 25  # 1.5 rounds up
    assert fees.fee_for(99, "USD") == 1 + 25  # 1.485 rounds down
    assert fees.fee_for(1000, "JPY") == 15 + 10
    assert fees.fee_for(1000, "KWD") == 15  # no fixed part for exponent 3
    with pytest.raises(ValueError, match="positive"):
        fees.fee_for(-1, "USD")


# -- injected breaks: precision and recall ----------------------------------


@pytest.mark.parametrize("fmt", list(SettlementFormat))
@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_every_injected_break_is_found_and_nothing_else(fmt: SettlementFormat, seed: int) -> None:
    report = build_report(seed=seed, n=400, fmt=fmt)
    outcome = reconcile(report, batch_size=97)
    assert outcome.found() == report.expected
    assert len(outcome.breaks) == len(report.expected)  # one break per injection
    wanted = set(BreakCategory)
    if fmt is SIM:
        wanted.discard(BreakCategory.PAYOUT_MISMATCH)  # the layout lists no payouts
    assert {category for category, _, _ in report.expected} == wanted


@pytest.mark.parametrize("batch_size", [1, 7, 5000])
def test_batch_and_chunk_sizes_do_not_change_the_breaks(batch_size: int) -> None:
    report = build_report(seed=9, n=300, fmt=BAL)
    reference = reconcile(report, batch_size=1000)
    outcome = reconcile(report, batch_size=batch_size, chunk_size=batch_size)
    assert outcome.breaks == reference.breaks
    assert outcome.totals == reference.totals


def test_the_same_file_twice_gives_byte_identical_breaks() -> None:
    report = build_report(seed=21, n=500, fmt=BAL)
    first = "\n".join(repr(b) for b in reconcile(report, batch_size=64).breaks).encode()
    second = "\n".join(repr(b) for b in reconcile(report, batch_size=64).breaks).encode()
    assert first == second
    assert len(first) > 0


def test_breaks_come_in_line_order_and_finish_in_sort_key_order() -> None:
    report = build_report(seed=4, n=300, fmt=BAL)
    breaks = reconcile(report, batch_size=50).breaks
    line_breaks = [b for b in breaks if b.line_number]
    assert [b.line_number for b in line_breaks] == sorted(b.line_number for b in line_breaks)
    tail = breaks[len(line_breaks) :]
    assert all(b.line_number == 0 for b in tail)
    assert tail == sorted(tail, key=Break.sort_key)


# -- payouts ----------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_clean_payout_ties_out_to_the_minor_unit(seed: int) -> None:
    report = build_report(seed=seed, n=500, fmt=BAL)
    outcome = reconcile(report, keep=True)
    assert outcome.lines is not None
    sums: dict[str, int] = defaultdict(int)
    for line in outcome.lines:
        if line.payout_id and line.kind is not LineKind.PAYOUT:
            sums[line.payout_id] += line.net_minor
    clean = set(report.payouts) - report.broken_payouts
    assert clean
    for payout_id in clean:
        assert sums[payout_id] == report.payouts[payout_id]
    totals = outcome.totals
    assert totals.payouts_tied_out == len(clean)
    # Every payout id named by a line or a payout row is checked.
    assert totals.payout_count == len(set(sums) | set(report.payouts))
    mismatched = {
        b.payout_id for b in outcome.breaks if b.category is BreakCategory.PAYOUT_MISMATCH
    }
    assert mismatched == report.broken_payouts


def test_a_payout_mismatch_carries_what_the_lines_net_to_and_what_was_paid() -> None:
    lines = [
        line(2, LineKind.CHARGE, "accrue_pay_a", 1000, fee=59, payout="po_1"),
        line(3, LineKind.REFUND, "accrue_re_b", -200, payout="po_1"),
        line(4, LineKind.PAYOUT, "po_1", -740, payout="po_1"),
    ]
    reconciler = Reconciler(fee_schedule=FEES, cut_off=CUT_OFF)
    reconciler.feed(lines, {})
    (found,) = reconciler.finish([])
    assert (found.category, found.line_number, found.payout_id) == (
        BreakCategory.PAYOUT_MISMATCH,
        0,
        "po_1",
    )
    assert (found.expected_minor, found.actual_minor) == (741, 740)
    assert found.detail == "Payout po_1: paid 7.40 USD but its 2 lines net to 7.41 USD."


def test_payout_rows_are_required_only_where_the_layout_lists_payouts() -> None:
    lines = [line(2, LineKind.CHARGE, "accrue_pay_a", 1000, fee=59, payout="po_1")]
    for payout_rows, expected in ((None, []), (False, []), (True, [BreakCategory.PAYOUT_MISMATCH])):
        reconciler = Reconciler(fee_schedule=FEES, cut_off=CUT_OFF, payout_rows=payout_rows)
        reconciler.feed(lines, {})
        assert [b.category for b in reconciler.finish([])] == expected


def test_a_payout_mixing_currencies_does_not_tie_out() -> None:
    lines = [
        line(2, LineKind.ADJUSTMENT, "", 100, payout="po_1"),
        line(3, LineKind.ADJUSTMENT, "", 100, payout="po_1", currency="EUR"),
        line(4, LineKind.PAYOUT, "po_1", -200, payout="po_1"),
    ]
    reconciler = Reconciler(fee_schedule=FEES, cut_off=CUT_OFF)
    reconciler.feed(lines, {})
    (found,) = reconciler.finish([])
    assert "paid in USD but has lines in EUR" in found.detail


# -- the rules, one by one --------------------------------------------------


def line(
    number: int,
    kind: LineKind,
    reference: str,
    gross: int,
    *,
    fee: int = 0,
    payout: str = "",
    status: str = "available",
    currency: str = "USD",
) -> SettlementLine:
    return SettlementLine(
        line_number=number,
        kind=kind,
        psp_id=f"txn_{number}",
        reference=reference,
        currency_code=currency,
        gross_minor=gross,
        fee_minor=fee,
        net_minor=gross - fee,
        payout_id=payout,
        status=status,
        occurred_on=None,
    )


def record(
    reference: str,
    amount: int,
    *,
    status: str = "succeeded",
    settled: bool = False,
    created: datetime = CUT_OFF - timedelta(days=1),
    currency: str = "USD",
) -> InternalRecord:
    record_id = reference.removeprefix("accrue_")
    kind = LineKind.CHARGE if record_id.startswith("pay_") else LineKind.REFUND
    return InternalRecord(
        kind=kind,
        record_id=record_id,
        reference=reference,
        amount_minor=amount,
        currency_code=currency,
        status=status,
        create_time=created,
        settled=settled,
    )


def test_a_line_that_ties_out_is_a_match_and_counts_in_the_totals() -> None:
    charge = line(2, LineKind.CHARGE, "accrue_pay_a", 1000, fee=fee_minor(1000, "USD"))
    refund = line(3, LineKind.REFUND, "accrue_re_b", -400)
    records = {r.reference: r for r in (record("accrue_pay_a", 1000), record("accrue_re_b", 400))}
    reconciler = Reconciler(fee_schedule=FEES, cut_off=CUT_OFF)
    assert reconciler.references([charge, refund]) == set(records)
    result = reconciler.feed([charge, refund], records)
    assert result.breaks == []
    assert [(m.line, m.record) for m in result.matches] == [
        (charge, records["accrue_pay_a"]),
        (refund, records["accrue_re_b"]),
    ]
    assert reconciler.finish(records.values()) == []  # seen: not missing at the PSP
    usd = reconciler.totals().by_currency["USD"]
    assert (usd.matched_count, usd.matched_gross_minor, usd.matched_fees_minor) == (2, 600, 59)
    assert (usd.matched_net_minor, usd.refund_count, usd.refunds_minor) == (541, 1, -400)


@pytest.mark.parametrize(
    ("the_line", "the_record", "category", "expected", "actual"),
    [
        # Precedence: a duplicate is reported as such even if its fee is also wrong.
        (line(2, LineKind.CHARGE, "accrue_pay_a", 1000, fee=60),
         record("accrue_pay_a", 1000, settled=True), BreakCategory.DUPLICATE, 1000, 1000),
        (line(2, LineKind.CHARGE, "accrue_pay_a", 1000, fee=59, status="pending"),
         record("accrue_pay_a", 1000), BreakCategory.PENDING_AT_CUTOFF, 1000, 1000),
        (line(2, LineKind.CHARGE, "accrue_pay_a", 1000, fee=59), None,
         BreakCategory.MISSING_INTERNALLY, None, 1000),
        (line(2, LineKind.REFUND, "accrue_pay_a", -1000), record("accrue_pay_a", 1000),
         BreakCategory.MISSING_INTERNALLY, 1000, -1000),
        (line(2, LineKind.DISPUTE, "accrue_pay_a", -1000, fee=1500), None,
         BreakCategory.MISSING_INTERNALLY, None, -1000),
        (line(2, LineKind.CHARGE, "accrue_pay_a", 1000, fee=59),
         record("accrue_pay_a", 1000, status="failed"), BreakCategory.STATUS_MISMATCH, 1000, 1000),
        (line(2, LineKind.CHARGE, "accrue_pay_a", 1000, fee=59),
         record("accrue_pay_a", 1000, status="unknown"), BreakCategory.STATUS_MISMATCH, 1000, 1000),
        (line(2, LineKind.CHARGE, "accrue_pay_a", 1000, status="failed"),
         record("accrue_pay_a", 1000), BreakCategory.STATUS_MISMATCH, 1000, 1000),
        (line(2, LineKind.CHARGE, "accrue_pay_a", 1000, fee=59, currency="EUR"),
         record("accrue_pay_a", 1000), BreakCategory.CURRENCY_MISMATCH, 1000, 1000),
        (line(2, LineKind.CHARGE, "accrue_pay_a", 1000, fee=59),
         record("accrue_pay_a", 1001), BreakCategory.AMOUNT_MISMATCH, 1001, 1000),
        (line(2, LineKind.REFUND, "accrue_re_b", 300), record("accrue_re_b", 300),
         BreakCategory.AMOUNT_MISMATCH, -300, 300),
        (line(2, LineKind.CHARGE, "accrue_pay_a", 1000, fee=60),
         record("accrue_pay_a", 1000), BreakCategory.FEE_MISMATCH, 59, 60),
        (line(2, LineKind.REFUND, "accrue_re_b", -300, fee=1), record("accrue_re_b", 300),
         BreakCategory.FEE_MISMATCH, 0, 1),
        (line(2, LineKind.PAYOUT, "po_1", -10, payout="po_1", status="failed"), None,
         BreakCategory.PAYOUT_MISMATCH, None, -10),
    ],
)  # fmt: skip
def test_each_line_gets_the_first_break_that_applies(
    the_line: SettlementLine,
    the_record: InternalRecord | None,
    category: BreakCategory,
    expected: int | None,
    actual: int | None,
) -> None:
    reconciler = Reconciler(fee_schedule=FEES, cut_off=CUT_OFF)
    records = {} if the_record is None else {the_record.reference: the_record}
    result = reconciler.feed([the_line], records)
    assert result.matches == []
    (found,) = result.breaks
    assert (found.category, found.line_number, found.reference) == (category, 2, the_line.reference)
    assert (found.expected_minor, found.actual_minor) == (expected, actual)
    assert found.record_id == ("" if the_record is None else the_record.record_id)
    assert found.detail.startswith("Line 2 (")


@pytest.mark.parametrize(
    ("the_line", "changed", "expected", "actual", "detail"),
    [
        (line(2, LineKind.CHARGE, "accrue_pay_a", 1250, fee=66), BreakCategory.AMOUNT_MISMATCH,
         1000, 1250, "Line 2 (charge accrue_pay_a) settled 12.50 USD but pay_a is 10.00 USD."),
        (line(2, LineKind.CHARGE, "accrue_pay_a", 1000, fee=59, currency="EUR"),
         BreakCategory.CURRENCY_MISMATCH, 1000, 1000,
         "Line 2 (charge accrue_pay_a) is in EUR but pay_a is 10.00 USD."),
    ],
)  # fmt: skip
def test_a_settled_line_imported_again_with_another_amount_reports_both_facts(
    the_line: SettlementLine,
    changed: BreakCategory,
    expected: int,
    actual: int,
    detail: str,
) -> None:
    settled = record("accrue_pay_a", 1000, settled=True)
    reconciler = Reconciler(fee_schedule=FEES, cut_off=CUT_OFF)
    result = reconciler.feed([the_line], {settled.reference: settled})
    assert result.matches == []
    duplicate, difference = result.breaks
    assert (duplicate.category, duplicate.line_number) == (BreakCategory.DUPLICATE, 2)
    assert duplicate.detail == (
        "Line 2 (charge accrue_pay_a) settles pay_a, which an earlier report settled already."
    )
    assert (difference.category, difference.line_number, difference.record_id) == (
        changed,
        2,
        "pay_a",
    )
    assert (difference.expected_minor, difference.actual_minor) == (expected, actual)
    assert difference.detail == detail
    totals = reconciler.totals()
    assert (totals.break_count, totals.breaks_by_category) == (
        2,
        {BreakCategory.DUPLICATE: 1, changed: 1},
    )


def test_a_line_repeated_in_the_report_with_another_amount_reports_both_facts() -> None:
    paid = record("accrue_pay_a", 1000)
    reconciler = Reconciler(fee_schedule=FEES, cut_off=CUT_OFF)
    lines = [
        line(2, LineKind.CHARGE, paid.reference, 1000, fee=59),
        line(3, LineKind.CHARGE, paid.reference, 1000, fee=59),  # a plain repeat
        line(4, LineKind.CHARGE, paid.reference, 900, fee=56),
    ]
    result = reconciler.feed(lines, {paid.reference: paid})
    assert [m.line.line_number for m in result.matches] == [2]
    assert [(b.category, b.line_number) for b in result.breaks] == [
        (BreakCategory.DUPLICATE, 3),
        (BreakCategory.DUPLICATE, 4),
        (BreakCategory.AMOUNT_MISMATCH, 4),
    ]


def test_payouts_of_a_layout_without_payout_rows_are_counted_and_tied_out() -> None:
    """The simulator's layout names each line's payout but lists no payout rows:
    every payout named is counted, and ties out when all its lines match."""
    paid = {r.reference: r for r in (record("accrue_pay_a", 1000), record("accrue_pay_b", 2000))}
    lines = [
        line(2, LineKind.CHARGE, "accrue_pay_a", 1000, fee=59, payout="po_clean"),
        line(3, LineKind.CHARGE, "accrue_pay_b", 2000, fee=88, payout="po_clean"),
        line(4, LineKind.CHARGE, "accrue_pay_c", 500, fee=45, payout="po_broken"),
        line(5, LineKind.CHARGE, "accrue_pay_d", 100, fee=33, payout="po_mixed"),
        line(6, LineKind.CHARGE, "accrue_pay_e", 100, fee=3, payout="po_mixed", currency="JPY"),
    ]
    reconciler = Reconciler(fee_schedule=FEES, cut_off=CUT_OFF, payout_rows=False)
    fed = reconciler.feed(lines, paid)
    assert [b.line_number for b in fed.breaks] == [4, 5, 6]  # no records for c, d, e
    (mixed,) = reconciler.finish([])
    assert (mixed.category, mixed.payout_id, mixed.currency_code) == (
        BreakCategory.PAYOUT_MISMATCH,
        "po_mixed",
        "JPY",
    )
    assert mixed.detail == "Payout po_mixed: its 2 lines are in JPY, USD."
    totals = reconciler.totals()
    assert (totals.payout_count, totals.payouts_tied_out) == (3, 1)


def test_failed_on_both_sides_is_neither_a_break_nor_a_match() -> None:
    reconciler = Reconciler(fee_schedule=FEES, cut_off=CUT_OFF)
    failed = record("accrue_pay_a", 1000, status="failed")
    result = reconciler.feed([line(2, LineKind.CHARGE, "accrue_pay_a", 1000, status="failed")],
                             {failed.reference: failed})  # fmt: skip
    assert (result.breaks, result.matches) == ([], [])
    assert reconciler.finish([failed]) == []


def test_a_reference_seen_twice_is_a_duplicate_on_the_second_line_even_across_batches() -> None:
    paid = record("accrue_pay_a", 1000)
    records = {paid.reference: paid}
    reconciler = Reconciler(fee_schedule=FEES, cut_off=CUT_OFF)
    first = reconciler.feed([line(2, LineKind.CHARGE, paid.reference, 1000, fee=59)], records)
    second = reconciler.feed([line(9, LineKind.CHARGE, paid.reference, 1000, fee=59)], records)
    assert len(first.matches) == 1 and first.breaks == []
    assert [(b.category, b.line_number) for b in second.breaks] == [(BreakCategory.DUPLICATE, 9)]
    assert second.breaks[0].detail == (
        "Line 9 (charge accrue_pay_a) repeats a reference that appears earlier in this report."
    )


def test_finish_reports_only_records_the_report_should_have_settled() -> None:
    reconciler = Reconciler(fee_schedule=FEES, cut_off=CUT_OFF)
    seen_with_a_break = record("accrue_pay_seen", 500)
    reconciler.feed([line(2, LineKind.CHARGE, seen_with_a_break.reference, 400, fee=42)],
                    {seen_with_a_break.reference: seen_with_a_break})  # fmt: skip
    unseen = [
        record("accrue_pay_missing", 1000),
        record("accrue_re_missing", 250),
        record("accrue_pay_inflight", 300, status="processing"),
        record("accrue_re_inflight", 300, status="unknown"),
        record("accrue_pay_at_cutoff", 300, created=CUT_OFF),
        record("accrue_pay_after", 1000, created=CUT_OFF + timedelta(microseconds=1)),
        record("accrue_pay_declined", 1000, status="failed"),
        record("accrue_pay_earlier", 1000, settled=True),
        seen_with_a_break,
    ]
    random.Random(1).shuffle(unseen)
    found = reconciler.finish(unseen)
    assert [(b.category, b.line_number, b.reference, b.expected_minor) for b in found] == [
        (BreakCategory.MISSING_AT_PSP, 0, "accrue_pay_at_cutoff", 300),
        (BreakCategory.MISSING_AT_PSP, 0, "accrue_pay_missing", 1000),
        (BreakCategory.MISSING_AT_PSP, 0, "accrue_re_missing", -250),
        (BreakCategory.PENDING_AT_CUTOFF, 0, "accrue_pay_inflight", 300),
        (BreakCategory.PENDING_AT_CUTOFF, 0, "accrue_re_inflight", -300),
    ]
    assert found[1].detail == (
        "The payment pay_missing of 10.00 USD succeeded but the report does not settle it."
    )
    assert found[4].detail == (
        "The refund re_inflight of 3.00 USD was still unknown at the cut-off"
        " and the report does not list it."
    )
    with pytest.raises(RuntimeError):
        reconciler.finish([])
    with pytest.raises(RuntimeError):
        reconciler.feed([], {})


def test_sort_key_is_a_total_order() -> None:
    base = Break(BreakCategory.AMOUNT_MISMATCH, 3, "r", "id", "po", "USD", None, 1, "d")
    variants = [
        base,
        Break(BreakCategory.AMOUNT_MISMATCH, 3, "r", "id", "po", "USD", 0, 1, "d"),
        Break(BreakCategory.AMOUNT_MISMATCH, 3, "r", "id", "po", "USD", None, None, "d"),
        Break(BreakCategory.AMOUNT_MISMATCH, 3, "r", "id", "po", "USD", None, 1, "e"),
        Break(BreakCategory.MISSING_INTERNALLY, 3, "r", "id", "po", "USD", None, 1, "d"),
        Break(BreakCategory.AMOUNT_MISMATCH, 0, "r", "id", "po", "USD", None, 1, "d"),
    ]
    keys = [b.sort_key() for b in variants]
    assert len(set(keys)) == len(variants)
    assert sorted(variants, key=Break.sort_key) == sorted(reversed(variants), key=Break.sort_key)


def test_totals_count_breaks_by_category_and_currency_and_are_a_copy() -> None:
    report = build_report(seed=3, n=300, fmt=BAL)
    outcome = reconcile(report)
    totals = outcome.totals
    by_category: dict[BreakCategory, int] = defaultdict(int)
    for item in outcome.breaks:
        by_category[item.category] += 1
    assert totals.breaks_by_category == by_category
    assert totals.break_count == len(outcome.breaks)
    assert sum(s.break_count for s in totals.by_currency.values()) == len(outcome.breaks)
    totals.by_currency["USD"].breaks_by_category.clear()
    totals.breaks_by_category.clear()
    assert reconcile(report).totals.breaks_by_category == by_category


# -- clean reports ----------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_simulators_own_report_reconciles_cleanly(seed: int) -> None:
    report = from_simulator(seed=seed, n=250)
    outcome = reconcile(report, batch_size=33, keep=True)
    assert outcome.breaks == []
    assert outcome.lines is not None
    assert outcome.totals.matched_count == outcome.totals.line_count == len(outcome.lines) > 100
    assert {m.line.reference for m in outcome.matches} == {x.reference for x in outcome.lines}


def assert_clean(report: GeneratedReport, *, batch_size: int) -> None:
    outcome = reconcile(report, batch_size=batch_size, chunk_size=batch_size * 13 + 1, keep=True)
    assert outcome.breaks == []
    assert outcome.lines is not None
    totals = outcome.totals
    assert totals.line_count == len(outcome.lines) == report.line_count
    assert totals.break_count == 0 and totals.breaks_by_category == {}
    assert totals.payouts_tied_out == totals.payout_count == len(report.payouts)
    settling = [x for x in outcome.lines if x.kind in (LineKind.CHARGE, LineKind.REFUND)]
    settled = [x for x in settling if x.status == "available"]
    assert totals.matched_count == len(settled) == len(outcome.matches)
    for code in {x.currency_code for x in outcome.lines}:
        mine = [x for x in outcome.lines if x.currency_code == code]
        matched = [x for x in settled if x.currency_code == code]
        summary = totals.by_currency[code]
        assert summary.line_count == len(mine)
        assert summary.gross_minor == sum(x.gross_minor for x in mine)
        assert summary.fee_minor == sum(x.fee_minor for x in mine)
        assert summary.net_minor == sum(x.net_minor for x in mine)
        assert summary.matched_gross_minor == sum(x.gross_minor for x in matched)
        assert summary.matched_fees_minor == sum(x.fee_minor for x in matched)
        assert summary.matched_net_minor == sum(x.net_minor for x in matched)
        refunds = [x for x in mine if x.kind is LineKind.REFUND]
        assert (summary.refund_count, summary.refunds_minor) == (
            len(refunds),
            sum(x.gross_minor for x in refunds),
        )
        if report.fmt is BAL:
            # Everything paid out: the payout rows cancel the lines they pay.
            paid = sum(x.net_minor for x in mine if x.payout_id)
            assert paid == 0


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    n=st.integers(min_value=0, max_value=120),
    fmt=st.sampled_from(list(SettlementFormat)),
    currencies=st.lists(st.sampled_from(CURRENCIES), min_size=1, max_size=4, unique=True),
    refund_rate=st.floats(min_value=0.0, max_value=0.9),
    batch_size=st.integers(min_value=1, max_value=50),
)
def test_clean_generated_reports_have_no_breaks_and_totals_are_the_sums_of_the_lines(
    seed: int,
    n: int,
    fmt: SettlementFormat,
    currencies: list[str],
    refund_rate: float,
    batch_size: int,
) -> None:
    report = build_report(
        seed=seed,
        n=n,
        fmt=fmt,
        currencies=tuple(currencies),
        inject=False,
        refund_rate=refund_rate,
    )
    assert report.expected == set()
    assert_clean(report, batch_size=batch_size)
