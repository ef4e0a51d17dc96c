"""Matching a PSP settlement report against Accrue's payments and refunds.

The `Reconciler` is fed the report in batches (the caller loads, per batch,
only the records the batch references), so a report of a million lines runs
in memory that grows with the number of payouts and of distinct references
(a set of short strings), never with the lines themselves.

Each line gets the first of these breaks that applies (and a DUPLICATE line a
second one, see below):

1. DUPLICATE - its reference appeared earlier in this report (charges,
   refunds and payouts), or its record was settled by an earlier import.
2. PENDING_AT_CUTOFF - the line is `pending`: the PSP has not settled it.
3. MISSING_INTERNALLY - a charge or refund with no Accrue record of that
   kind, or a dispute, adjustment or fee line: Accrue records none of those,
   so money moved that its books do not show.
4. STATUS_MISMATCH - `available` at the PSP but not SUCCEEDED here, or
   `failed` there but not FAILED here. (`failed` in both: no break, no match,
   since no money moved.)
5. CURRENCY_MISMATCH, 6. AMOUNT_MISMATCH (a charge's gross is the payment's
   amount, a refund's the negated refund amount), 7. FEE_MISMATCH (a charge's
   fee is the `FeeSchedule`'s, a refund's is zero).

A charge or refund line with none of these is a `Match`. A `failed` payout
row is a PAYOUT_MISMATCH on its line.

A DUPLICATE charge or refund line whose record it names differs from it in
currency or amount gets that CURRENCY_MISMATCH or AMOUNT_MISMATCH too, on
the same line: a settled payment reported again with another amount is both
a repeat and a difference, and an operator must see both facts.

`finish` adds what only the whole report can tell: records created by the
cut-off that it never mentioned (MISSING_AT_PSP if SUCCEEDED, PENDING_AT_CUTOFF
if still in flight) and each payout's check.

Matching runs on tuples: `feed_rows` takes `SettlementRow`s and `RecordRow`s
(the fields of `SettlementLine` and `InternalRecord` in order) and decides the
common case - a line that ties out - without building an object; every other
line goes through the same rules as `feed`, on the objects, so both give the
same breaks, sentences and totals.

Payout sign convention: a payout row's `net` is negative (money leaving the
PSP balance). A payout ties out when the sum of `net` over the lines naming
it (charges, refunds, disputes, adjustments, fees) equals the amount paid,
`-net` of its payout row. A PAYOUT_MISMATCH break carries that sum as
`expected_minor` and the amount paid as `actual_minor` (None when the
report has no payout row for it).

A layout without payout rows (the simulator's) still names each line's
payout: the PSP pays out what those lines net to, so there is no second
amount to compare, and such a payout ties out when its lines are in one
currency and every one of them matched - the books account for all of it.
Each payout named is counted; one whose lines do not all match needs no
break of its own (its lines carry theirs), one mixing currencies is a
PAYOUT_MISMATCH.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from accrue.kernel.money import CURRENCY_EXPONENTS
from accrue.reconciliation.breaks import (
    Break,
    BreakCategory,
    CurrencySummary,
    Totals,
    describe,
    money,
)
from accrue.reconciliation.settlement import LineKind, SettlementLine, SettlementRow

__all__ = [
    "BatchResult",
    "Break",
    "BreakCategory",
    "CurrencySummary",
    "FeeSchedule",
    "InternalRecord",
    "Match",
    "Reconciler",
    "RecordRow",
    "RowBatchResult",
    "Totals",
]

_RECORD_KINDS = (LineKind.CHARGE, LineKind.REFUND)
_PSP_ONLY_KINDS = (LineKind.DISPUTE, LineKind.ADJUSTMENT, LineKind.FEE)
_IN_FLIGHT = frozenset({"processing", "unknown", "pending"})


@dataclass(frozen=True, slots=True)
class InternalRecord:
    """A payment (CHARGE) or refund (REFUND) as the books know it."""

    kind: LineKind
    record_id: str
    reference: str
    amount_minor: int
    currency_code: str
    status: str
    create_time: datetime
    settled: bool

    @property
    def signed_minor(self) -> int:
        """The gross a report should show: positive for a charge, negative for a refund."""
        return self.amount_minor if self.kind is LineKind.CHARGE else -self.amount_minor

    def row(self) -> RecordRow:
        return (
            *(self.kind, self.record_id, self.reference, self.amount_minor),
            *(self.currency_code, self.status, self.create_time, self.settled),
        )


# An `InternalRecord` as a plain tuple of its fields in order (`InternalRecord(*row)`).
RecordRow = tuple[LineKind, str, str, int, str, str, datetime, bool]


@dataclass(frozen=True)
class FeeSchedule:
    """What the PSP may charge per succeeded charge: a percentage rounded half
    up to the minor unit, plus a fixed amount that depends on the currency's
    exponent (30 cents where there are cents, nothing in JPY or KWD).

    The defaults are the simulated PSP's: 290 basis points is its
    `(amount * 29 + 500) // 1000`, scaled by ten in numerator and denominator.
    """

    percent_basis_points: int = 290
    fixed_minor_by_exponent: Mapping[int, int] = field(
        default_factory=lambda: MappingProxyType({2: 30})
    )

    def fee_for(self, amount_minor: int, currency_code: str) -> int:
        if amount_minor < 0:
            raise ValueError("fees are computed on a charge's positive amount")
        fixed = self.fixed_minor_by_exponent.get(CURRENCY_EXPONENTS[currency_code], 0)
        return (amount_minor * self.percent_basis_points + 5000) // 10000 + fixed

    def expected_fee(self, record: InternalRecord) -> int:
        """Refunds cost nothing; a charge costs `fee_for` its amount."""
        if record.kind is LineKind.REFUND:
            return 0
        return self.fee_for(record.amount_minor, record.currency_code)


@dataclass(frozen=True, slots=True)
class Match:
    """A line that ties out with its record: status, currency, amount and fee."""

    line: SettlementLine
    record: InternalRecord


@dataclass(slots=True)
class BatchResult:
    matches: list[Match]
    breaks: list[Break]


@dataclass(slots=True)
class RowBatchResult:
    """`matched` holds the positions in the batch of the lines that tied out;
    `matched_sums` their gross, fee and net by currency."""

    matched: list[int]
    breaks: list[Break]
    matched_sums: dict[str, list[int]]


@dataclass(slots=True)
class _Payout:
    """Running sums for one payout id; the lines themselves are not kept."""

    currencies: set[str] = field(default_factory=set)
    members_net: int = 0
    member_count: int = 0
    matched_count: int = 0
    row: SettlementLine | None = None


class Reconciler:
    """Stateful across batches: feed every batch in file order, then `finish` once.

    `payout_rows` says whether the report lists payouts (`SettlementFormat.
    lists_payouts`). When it does, a payout id named by lines without a
    payout row is a PAYOUT_MISMATCH; the simulator's layout has no payout
    rows, so there is nothing to tie out. None infers it from the report:
    payout rows are required once any payout row was seen.
    """

    def __init__(
        self, *, fee_schedule: FeeSchedule, cut_off: datetime, payout_rows: bool | None = None
    ) -> None:
        self._fees = fee_schedule
        self._cut_off = cut_off
        self._payout_rows = payout_rows
        self._seen: set[str] = set()
        self._payouts_seen: set[str] = set()
        self._payouts: dict[str, _Payout] = {}
        self._totals = Totals()
        self._finished = False
        # The fee schedule's fixed part by currency, for matching on tuples.
        self._fixed_fees = {
            code: fee_schedule.fixed_minor_by_exponent.get(exponent, 0)
            for code, exponent in CURRENCY_EXPONENTS.items()
        }
        self._plain_fees = type(fee_schedule) is FeeSchedule

    def references(self, lines: Sequence[SettlementLine]) -> set[str]:
        """The references of the charges and refunds in `lines`: the records to load."""
        return {line.reference for line in lines if line.kind in _RECORD_KINDS}

    def row_references(self, rows: Sequence[SettlementRow]) -> dict[str, LineKind]:
        """`references` of a batch of rows, each with the kind of record to look for
        first: its line's, so that a store can look a reference up among the records
        of that kind alone and among the other kind's only if none has it (that
        record makes the line MISSING_INTERNALLY). A reference that a charge and a
        refund line both name is a refund's, the record `records` gives it."""
        charge, refund = LineKind.CHARGE, LineKind.REFUND
        wanted = {row[3]: charge for row in rows if row[1] is charge}
        wanted.update({row[3]: refund for row in rows if row[1] is refund})
        return wanted

    def feed(
        self, lines: Sequence[SettlementLine], records: Mapping[str, InternalRecord]
    ) -> BatchResult:
        """Match one batch. `records` maps references to records; missing keys
        mean Accrue has no such payment or refund."""
        rows = [_line_row(line) for line in lines]
        result = self.feed_rows(rows, {ref: record.row() for ref, record in records.items()})
        matches = [Match(lines[i], records[lines[i].reference]) for i in result.matched]
        return BatchResult(matches=matches, breaks=result.breaks)

    def feed_rows(  # noqa: PLR0912, PLR0915 - the hot loop, kept in one frame on purpose
        self, rows: Sequence[SettlementRow], records: Mapping[str, RecordRow]
    ) -> RowBatchResult:
        """`feed` on tuples: the same breaks and totals, and the positions of
        the lines that tied out instead of `Match` objects."""
        if self._finished:
            raise RuntimeError("the reconciler has finished; start a new one")
        charge, refund, payout_kind = LineKind.CHARGE, LineKind.REFUND, LineKind.PAYOUT
        seen, payouts = self._seen, self._payouts
        fixed_fees, plain_fees = self._fixed_fees, self._plain_fees
        basis_points = self._fees.percent_basis_points
        # Per currency: lines, gross, fee, net, refunds, refunds' gross, matched,
        # matched gross, fee and net.
        sums: dict[str, list[int]] = {}
        matched: list[int] = []
        breaks: list[Break] = []
        for i, row in enumerate(rows):
            _, kind, _, reference, currency, gross, fee, net, payout_id, status, _ = row
            summed = sums.get(currency)
            if summed is None:
                summed = sums[currency] = [0] * 10
            summed[0] += 1
            summed[1] += gross
            summed[2] += fee
            summed[3] += net
            if kind is refund:
                summed[4] += 1
                summed[5] += gross
            member = None
            if payout_id:
                if kind is payout_kind:
                    self._track_payout(SettlementLine(*row))
                else:
                    member = payouts.get(payout_id)
                    if member is None:
                        member = payouts[payout_id] = _Payout()
                    member.currencies.add(currency)
                    member.members_net += net
                    member.member_count += 1
            record = records.get(reference) if kind is charge or kind is refund else None
            if (
                record is not None
                and status == "available"
                and record[0] is kind
                and not record[7]
                and record[5] == "succeeded"
                and record[4] == currency
                and reference not in seen
            ):
                amount = record[3]
                if kind is charge:
                    ties = gross == amount and (
                        fee == (amount * basis_points + 5000) // 10000 + fixed_fees[currency]
                        if plain_fees
                        else fee == self._fees.fee_for(amount, currency)
                    )
                else:
                    ties = gross == -amount and fee == 0
                if ties:
                    seen.add(reference)
                    matched.append(i)
                    summed[6] += 1
                    summed[7] += gross
                    summed[8] += fee
                    summed[9] += net
                    if member is not None:
                        member.matched_count += 1
                    continue
            line = SettlementLine(*row)
            found = self._check(line, None if record is None else InternalRecord(*record))
            if isinstance(found, Match):
                matched.append(i)
                summed[6] += 1
                summed[7] += gross
                summed[8] += fee
                summed[9] += net
                if member is not None:
                    member.matched_count += 1
            else:
                for item in found:
                    self._totals.add_break(item)
                breaks.extend(found)
        totals = self._totals
        for currency, summed in sums.items():
            summary = totals.currency(currency)
            totals.line_count += summed[0]
            totals.matched_count += summed[6]
            summary.line_count += summed[0]
            summary.gross_minor += summed[1]
            summary.fee_minor += summed[2]
            summary.net_minor += summed[3]
            summary.refund_count += summed[4]
            summary.refunds_minor += summed[5]
            summary.matched_count += summed[6]
            summary.matched_gross_minor += summed[7]
            summary.matched_fees_minor += summed[8]
            summary.matched_net_minor += summed[9]
        breaks.sort(key=Break.sort_key)
        return RowBatchResult(
            matched=matched,
            breaks=breaks,
            matched_sums={currency: summed[7:10] for currency, summed in sums.items() if summed[6]},
        )

    def finish(self, unseen: Iterable[InternalRecord]) -> list[Break]:
        """Breaks about records the report never mentioned, and about payouts.

        `unseen` may hold any records: those settled earlier, created after
        the cut-off, FAILED, or whose reference did appear in the report are
        skipped, so a caller can pass every record not settled by this run.
        """
        return self.finish_rows(record.row() for record in unseen)

    def finish_rows(self, unseen: Iterable[RecordRow]) -> list[Break]:
        """`finish` on tuples."""
        if self._finished:
            raise RuntimeError("finish() was called already")
        self._finished = True
        seen, cut_off = self._seen, self._cut_off
        found: list[Break] = []
        for row in unseen:
            if row[7] or row[6] > cut_off or row[2] in seen:
                continue  # settled earlier, after the cut-off, or in the report
            item = self._unseen_break(InternalRecord(*row))
            if item is not None:
                found.append(item)
        found += self._payout_breaks()
        for item in found:
            self._totals.add_break(item)
        found.sort(key=Break.sort_key)
        return found

    def seen_references(self) -> AbstractSet[str]:
        """The references of the charges and refunds fed so far, which `finish` passes
        over: a caller may leave their records out of what it passes to `finish`.
        A live view: it grows as batches are fed."""
        return self._seen

    def totals(self) -> Totals:
        """A copy of the running totals (final after `finish`)."""
        return self._totals.copy()

    # -- one line ---------------------------------------------------------

    def _check(self, line: SettlementLine, record: InternalRecord | None) -> Match | list[Break]:
        """The line's match, or its breaks (none: nothing moved)."""
        category = self._classify(line, record)
        if category is not None:
            found = [self._break(category, line, record)]
            changed = None
            if category is BreakCategory.DUPLICATE:
                changed = _changed_since(line, record)
            if changed is not None:
                found.append(self._break(changed, line, record))
            return found
        if record is None or line.kind is LineKind.PAYOUT or line.status != "available":
            return []  # a payout row, or failed on both sides: nothing moved
        return Match(line, record)

    def _classify(  # noqa: PLR0911 - one return per rule, in the documented precedence
        self, line: SettlementLine, record: InternalRecord | None
    ) -> BreakCategory | None:
        if self._repeated(line) or (record is not None and record.settled):
            return BreakCategory.DUPLICATE
        if line.status == "pending":
            return BreakCategory.PENDING_AT_CUTOFF
        if line.kind is LineKind.PAYOUT:
            return BreakCategory.PAYOUT_MISMATCH if line.status == "failed" else None
        if line.kind in _PSP_ONLY_KINDS or record is None or record.kind is not line.kind:
            return BreakCategory.MISSING_INTERNALLY
        if record.status != ("succeeded" if line.status == "available" else "failed"):
            return BreakCategory.STATUS_MISMATCH
        if line.status != "available":
            return None
        if line.currency_code != record.currency_code:
            return BreakCategory.CURRENCY_MISMATCH
        if line.gross_minor != record.signed_minor:
            return BreakCategory.AMOUNT_MISMATCH
        if line.fee_minor != self._fees.expected_fee(record):
            return BreakCategory.FEE_MISMATCH
        return None

    def _repeated(self, line: SettlementLine) -> bool:
        """Whether the line's reference appeared before (charges, refunds, payouts)."""
        if line.kind is LineKind.PAYOUT:
            seen = self._payouts_seen
        elif line.kind in _RECORD_KINDS:
            seen = self._seen
        else:
            return False
        if line.reference in seen:
            return True
        seen.add(line.reference)
        return False

    def _break(
        self, category: BreakCategory, line: SettlementLine, record: InternalRecord | None
    ) -> Break:
        expected = None if record is None else record.signed_minor
        actual = line.gross_minor
        if category is BreakCategory.FEE_MISMATCH and record is not None:
            expected, actual = self._fees.expected_fee(record), line.fee_minor
        return Break(
            category=category,
            line_number=line.line_number,
            reference=line.reference,
            record_id="" if record is None else record.record_id,
            payout_id=line.payout_id,
            currency_code=line.currency_code,
            expected_minor=expected,
            actual_minor=actual,
            detail=describe(category, line=line, record=record, expected=expected),
        )

    def _track_payout(self, line: SettlementLine) -> None:
        if not line.payout_id:
            return
        payout = self._payouts.setdefault(line.payout_id, _Payout())
        if line.kind is LineKind.PAYOUT:
            if payout.row is None:
                payout.row = line
            return
        payout.currencies.add(line.currency_code)
        payout.members_net += line.net_minor
        payout.member_count += 1

    # -- the whole report -------------------------------------------------

    def _unseen_break(self, record: InternalRecord) -> Break | None:
        if record.settled or record.create_time > self._cut_off or record.reference in self._seen:
            return None
        if record.status == "succeeded":
            category = BreakCategory.MISSING_AT_PSP
        elif record.status in _IN_FLIGHT:
            category = BreakCategory.PENDING_AT_CUTOFF
        else:
            return None
        return Break(
            category=category,
            line_number=0,
            reference=record.reference,
            record_id=record.record_id,
            payout_id="",
            currency_code=record.currency_code,
            expected_minor=record.signed_minor,
            actual_minor=None,
            detail=describe(category, record=record),
        )

    def _payout_breaks(self) -> list[Break]:
        rows_required = self._payout_rows
        if rows_required is None:
            rows_required = any(p.row is not None for p in self._payouts.values())
        found: list[Break] = []
        for payout_id in sorted(self._payouts):
            payout = self._payouts[payout_id]
            row = payout.row
            if row is None and not rows_required:
                found += self._rowless_payout(payout_id, payout)
                continue
            self._totals.payout_count += 1
            if row is not None and row.status == "failed":
                continue  # its own line carries the break
            detail = _payout_problem(payout)
            if detail is None:
                self._totals.payouts_tied_out += 1
                continue
            currency = row.currency_code if row is not None else min(payout.currencies)
            found.append(
                Break(
                    category=BreakCategory.PAYOUT_MISMATCH,
                    line_number=0,
                    reference=payout_id,
                    record_id="",
                    payout_id=payout_id,
                    currency_code=currency,
                    expected_minor=payout.members_net,
                    actual_minor=None if row is None else -row.net_minor,
                    detail=f"Payout {payout_id}: {detail}.",
                )
            )
        return found

    def _rowless_payout(self, payout_id: str, payout: _Payout) -> list[Break]:
        """A payout of a layout without payout rows: paid what its lines net to,
        so it ties out when they are in one currency and every one matched."""
        self._totals.payout_count += 1
        if len(payout.currencies) > 1:
            return [
                Break(
                    category=BreakCategory.PAYOUT_MISMATCH,
                    line_number=0,
                    reference=payout_id,
                    record_id="",
                    payout_id=payout_id,
                    currency_code=min(payout.currencies),
                    expected_minor=payout.members_net,
                    actual_minor=None,
                    detail=f"Payout {payout_id}: its {payout.member_count} lines are in"
                    f" {', '.join(sorted(payout.currencies))}.",
                )
            ]
        if payout.matched_count == payout.member_count:
            self._totals.payouts_tied_out += 1
        return []


def _line_row(line: SettlementLine) -> SettlementRow:
    return (
        *(line.line_number, line.kind, line.psp_id, line.reference, line.currency_code),
        *(line.gross_minor, line.fee_minor, line.net_minor, line.payout_id, line.status),
        line.occurred_on,
    )


def _changed_since(line: SettlementLine, record: InternalRecord | None) -> BreakCategory | None:
    """What else a DUPLICATE line contradicts in its record: currency, then amount."""
    if record is None or record.kind is not line.kind or line.status != "available":
        return None
    if line.currency_code != record.currency_code:
        return BreakCategory.CURRENCY_MISMATCH
    if line.gross_minor != record.signed_minor:
        return BreakCategory.AMOUNT_MISMATCH
    return None


def _payout_problem(payout: _Payout) -> str | None:
    row = payout.row
    if row is None:
        return f"{payout.member_count} lines name it but the report has no payout row"
    currency = row.currency_code
    others = sorted(payout.currencies - {currency})
    if others:
        return f"paid in {currency} but has lines in {', '.join(others)}"
    if payout.members_net == -row.net_minor:
        return None
    return (
        f"paid {money(-row.net_minor, currency)} but its {payout.member_count} lines"
        f" net to {money(payout.members_net, currency)}"
    )
