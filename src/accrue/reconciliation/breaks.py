"""What reconciliation reports: breaks, their sentences, and exact totals.

Kept apart from the matching rules in `reconciliation` (which re-exports
everything here) so each module stays readable on its own.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING

from accrue.kernel.money import CURRENCY_EXPONENTS
from accrue.reconciliation.settlement import LineKind, SettlementLine

if TYPE_CHECKING:
    from accrue.reconciliation.matching import InternalRecord


class BreakCategory(enum.Enum):
    """Why a line, a record or a payout does not tie out; definition order is
    the order breaks of one line number sort in."""

    MISSING_INTERNALLY = "missing_internally"
    MISSING_AT_PSP = "missing_at_psp"
    DUPLICATE = "duplicate"
    AMOUNT_MISMATCH = "amount_mismatch"
    CURRENCY_MISMATCH = "currency_mismatch"
    FEE_MISMATCH = "fee_mismatch"
    STATUS_MISMATCH = "status_mismatch"
    PENDING_AT_CUTOFF = "pending_at_cutoff"
    PAYOUT_MISMATCH = "payout_mismatch"


_ORDER = {category: i for i, category in enumerate(BreakCategory)}


@dataclass(frozen=True, slots=True)
class Break:
    """One discrepancy. `line_number` is 0 when it concerns a record the report
    lacks or a payout as a whole. Amounts are signed minor units of
    `currency_code`, as the report writes them (a refund's gross is negative)."""

    category: BreakCategory
    line_number: int
    reference: str
    record_id: str
    payout_id: str
    currency_code: str
    expected_minor: int | None
    actual_minor: int | None
    detail: str

    def sort_key(self) -> tuple[object, ...]:
        """A total order: by line, then category, then every other field."""
        return (
            self.line_number,
            _ORDER[self.category],
            self.reference,
            self.record_id,
            self.payout_id,
            self.currency_code,
            _optional(self.expected_minor),
            _optional(self.actual_minor),
            self.detail,
        )


def _optional(value: int | None) -> tuple[int, int]:
    return (0, 0) if value is None else (1, value)


@dataclass(slots=True)
class CurrencySummary:
    """Totals of one currency. `gross/fee/net_minor` and the refund figures
    cover every line of the report (payout rows included, so a fully paid-out
    report nets to zero); the `matched_` figures only lines that tied out."""

    currency_code: str
    line_count: int = 0
    matched_count: int = 0
    gross_minor: int = 0
    fee_minor: int = 0
    net_minor: int = 0
    matched_gross_minor: int = 0
    matched_fees_minor: int = 0
    matched_net_minor: int = 0
    refund_count: int = 0
    refunds_minor: int = 0
    break_count: int = 0
    breaks_by_category: dict[BreakCategory, int] = field(default_factory=dict)


@dataclass(slots=True)
class Totals:
    """A run's totals, exact integers, accumulated as batches are fed."""

    line_count: int = 0
    matched_count: int = 0
    break_count: int = 0
    breaks_by_category: dict[BreakCategory, int] = field(default_factory=dict)
    by_currency: dict[str, CurrencySummary] = field(default_factory=dict)
    payout_count: int = 0
    payouts_tied_out: int = 0

    def currency(self, code: str) -> CurrencySummary:
        summary = self.by_currency.get(code)
        if summary is None:
            summary = self.by_currency[code] = CurrencySummary(code)
        return summary

    def add_line(self, line: SettlementLine) -> None:
        self.line_count += 1
        summary = self.currency(line.currency_code)
        summary.line_count += 1
        summary.gross_minor += line.gross_minor
        summary.fee_minor += line.fee_minor
        summary.net_minor += line.net_minor
        if line.kind is LineKind.REFUND:
            summary.refund_count += 1
            summary.refunds_minor += line.gross_minor

    def add_match(self, line: SettlementLine) -> None:
        self.matched_count += 1
        summary = self.currency(line.currency_code)
        summary.matched_count += 1
        summary.matched_gross_minor += line.gross_minor
        summary.matched_fees_minor += line.fee_minor
        summary.matched_net_minor += line.net_minor

    def add_break(self, item: Break) -> None:
        self.break_count += 1
        _bump(self.breaks_by_category, item.category)
        summary = self.currency(item.currency_code)
        summary.break_count += 1
        _bump(summary.breaks_by_category, item.category)

    def copy(self) -> Totals:
        return replace(
            self,
            breaks_by_category=dict(self.breaks_by_category),
            by_currency={
                code: replace(s, breaks_by_category=dict(s.breaks_by_category))
                for code, s in self.by_currency.items()
            },
        )


def _bump(counts: dict[BreakCategory, int], category: BreakCategory) -> None:
    counts[category] = counts.get(category, 0) + 1


def money(minor: int, currency_code: str) -> str:
    """`-1234, "USD"` -> `-12.34 USD`, for sentences."""
    exponent = CURRENCY_EXPONENTS.get(currency_code)
    if exponent is None:
        return f"{minor} minor units of {currency_code}"
    sign = "-" if minor < 0 else ""
    units, rest = divmod(abs(minor), 10**exponent)
    amount = f"{units}.{rest:0{exponent}d}" if exponent else str(units)
    return f"{sign}{amount} {currency_code}"


def describe(
    category: BreakCategory,
    *,
    line: SettlementLine | None = None,
    record: InternalRecord | None = None,
    expected: int | None = None,
) -> str:
    """One deterministic sentence for a break, from the facts on both sides."""
    if line is None:
        assert record is not None
        return _unseen(category, record)
    at = f"Line {line.line_number} ({line.kind.value} {line.reference or line.psp_id})"
    return _LINE_SENTENCES[category](at, line, record, expected)


def _unseen(category: BreakCategory, record: InternalRecord) -> str:
    what = f"{_noun(record.kind)} {record.record_id}"
    amount = money(record.amount_minor, record.currency_code)
    if category is BreakCategory.MISSING_AT_PSP:
        return f"The {what} of {amount} succeeded but the report does not settle it."
    return (
        f"The {what} of {amount} was still {record.status} at the cut-off"
        " and the report does not list it."
    )


def _duplicate(at: str, line: SettlementLine, record: InternalRecord | None, _: int | None) -> str:
    if record is not None and record.settled:
        return f"{at} settles {record.record_id}, which an earlier report settled already."
    return f"{at} repeats a reference that appears earlier in this report."


def _pending(at: str, line: SettlementLine, record: InternalRecord | None, _: int | None) -> str:
    return f"{at} of {money(line.gross_minor, line.currency_code)} is still pending at the PSP."


def _payout(at: str, line: SettlementLine, record: InternalRecord | None, _: int | None) -> str:
    return f"{at}: the payout of {money(-line.net_minor, line.currency_code)} failed."


def _missing(at: str, line: SettlementLine, record: InternalRecord | None, _: int | None) -> str:
    gross = money(line.gross_minor, line.currency_code)
    if line.kind not in (LineKind.CHARGE, LineKind.REFUND):
        return f"{at} moved {gross}; Accrue records no {line.kind.value}s, book it by hand."
    if record is not None:
        return f"{at} names {record.record_id}, which is a {_noun(record.kind)}."
    verb = "settled" if line.status == "available" else f"is {line.status} for"
    return f"{at} {verb} {gross} but Accrue has no {_noun(line.kind)} with that reference."


def _status(at: str, line: SettlementLine, record: InternalRecord | None, _: int | None) -> str:
    theirs = "settled" if line.status == "available" else line.status
    ours = "unknown" if record is None else record.status
    return f"{at} is {theirs} at the PSP but {ours} in Accrue."


def _currency(at: str, line: SettlementLine, record: InternalRecord | None, _: int | None) -> str:
    return f"{at} is in {line.currency_code} but {_ours(record)}."


def _amount(at: str, line: SettlementLine, record: InternalRecord | None, _: int | None) -> str:
    gross = money(line.gross_minor, line.currency_code)
    return f"{at} settled {gross} but {_ours(record)}."


def _fee(at: str, line: SettlementLine, record: InternalRecord | None, fee: int | None) -> str:
    charged = money(line.fee_minor, line.currency_code)
    schedule = money(fee or 0, line.currency_code)
    return f"{at} was charged a fee of {charged}; the fee schedule says {schedule}."


def _ours(record: InternalRecord | None) -> str:
    if record is None:
        return "Accrue has no record of it"
    return f"{record.record_id} is {money(record.signed_minor, record.currency_code)}"


def _noun(kind: LineKind) -> str:
    return "payment" if kind is LineKind.CHARGE else kind.value


_Sentence = Callable[[str, SettlementLine, "InternalRecord | None", "int | None"], str]
_LINE_SENTENCES: Mapping[BreakCategory, _Sentence] = MappingProxyType(
    {
        BreakCategory.DUPLICATE: _duplicate,
        BreakCategory.PENDING_AT_CUTOFF: _pending,
        BreakCategory.PAYOUT_MISMATCH: _payout,
        BreakCategory.MISSING_INTERNALLY: _missing,
        BreakCategory.STATUS_MISMATCH: _status,
        BreakCategory.CURRENCY_MISMATCH: _currency,
        BreakCategory.AMOUNT_MISMATCH: _amount,
        BreakCategory.FEE_MISMATCH: _fee,
        BreakCategory.MISSING_AT_PSP: _missing,
    }
)
