"""Settlement reports with known breaks, for tests and benchmarks.

`build_report` writes a report in either layout straight from seeded random
charges and refunds (fast enough for a million lines), together with the
internal records it should be matched against, then injects breaks of
every category at known places and says exactly which breaks a correct
reconciliation must find, as `(category, line_number, reference)`. With
`inject=False` the report ties out completely: the property tests' clean
case. `from_simulator` instead drives the real simulated PSP and uses its
own `settlement_csv`, so the parser is held to what the simulator writes.

Alongside the breaks, every report carries noise that must *not* break:
declined payments absent from the report, payments created after the
cut-off, payments settled by an earlier report and (in the balance layout)
a charge failed on both sides.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from accrue.kernel.money import CURRENCY_EXPONENTS
from accrue.payments.model import psp_key
from accrue.payments.psp.simulator import SimulatedPsp, fee_minor
from accrue.platform.clock import FixedClock
from accrue.reconciliation.matching import (
    Break,
    BreakCategory,
    FeeSchedule,
    InternalRecord,
    Match,
    Reconciler,
    Totals,
)
from accrue.reconciliation.settlement import (
    LineKind,
    SettlementFormat,
    SettlementLine,
    parse_settlement,
)

CUT_OFF = datetime(2026, 11, 30, tzinfo=UTC)
DAYS = 3
START = CUT_OFF - timedelta(days=DAYS)
CURRENCIES = ("USD", "JPY", "KWD", "EUR")
# Injections need distinct victims; below this a report is too small to hold them all.
MIN_INJECTED_LINES = 60

Expected = tuple[BreakCategory, int, str]


@dataclass(slots=True, eq=False)
class Row:
    """One report line before it is written; identity marks injected rows."""

    kind: LineKind
    psp_id: str
    reference: str
    currency: str
    gross: int
    fee: int
    payout_id: str
    at: int  # seconds after START
    status: str = "available"

    @property
    def net(self) -> int:
        return self.gross - self.fee


@dataclass
class GeneratedReport:
    fmt: SettlementFormat
    data: bytes
    # Every internal record, by reference (what a repository would find).
    records: dict[str, InternalRecord]
    expected: set[Expected]
    cut_off: datetime = CUT_OFF
    fee_schedule: FeeSchedule = field(default_factory=FeeSchedule)
    # Amount paid per payout row (-net), for every payout row in the file; in a
    # layout without payout rows, what the lines naming each payout net to.
    payouts: dict[str, int] = field(default_factory=dict)
    broken_payouts: set[str] = field(default_factory=set)
    line_count: int = 0

    def unsettled(self) -> list[InternalRecord]:
        """What the service streams into `finish`: records no import settled, by id."""
        return sorted(
            (r for r in self.records.values() if not r.settled), key=lambda r: r.record_id
        )

    def chunks(self, size: int) -> Iterator[bytes]:
        for start in range(0, len(self.data), size):
            yield self.data[start : start + size]


def build_report(
    *,
    seed: int,
    n: int,
    fmt: SettlementFormat,
    currencies: tuple[str, ...] = CURRENCIES,
    inject: bool = True,
    refund_rate: float = 0.1,
) -> GeneratedReport:
    """A report of about `n` charge and refund lines (plus payouts and injections)."""
    if inject and n < MIN_INJECTED_LINES:
        raise ValueError(f"injecting every break needs n >= {MIN_INJECTED_LINES}")
    builder = _Builder(random.Random(seed), fmt, currencies)
    builder.add_base_rows(n, refund_rate)
    builder.add_noise()
    if inject:
        builder.inject_line_breaks()
    builder.add_payouts(inject=inject)
    return builder.render()


class _Builder:
    def __init__(self, rng: random.Random, fmt: SettlementFormat, currencies: tuple[str, ...]):
        self.rng = rng
        self.fmt = fmt
        self.currencies = currencies
        self.rows: list[Row] = []
        self.after: dict[int, list[Row]] = {}  # rows inserted after base row i
        self.removed: set[int] = set()
        self.records: dict[str, InternalRecord] = {}
        self.expected: list[tuple[BreakCategory, Row | None, str]] = []
        self.payout_rows: list[Row] = []
        self.broken_payouts: set[str] = set()
        self._payout_ids: dict[tuple[int, str], str] = {}
        self._ids = 0

    def new_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}_{self._ids:010d}"

    # -- the clean part ----------------------------------------------------

    def add_base_rows(self, n: int, refund_rate: float) -> None:
        rng, step = self.rng, DAYS * 86400 / max(n, 1)
        refundable: list[Row] = []
        for i in range(n):
            at = int(i * step)
            if refundable and rng.random() < refund_rate:
                j = int(rng.random() * len(refundable))
                target, refundable[j] = refundable[j], refundable[-1]  # O(1) removal
                refundable.pop()
                amount = 1 + int(rng.random() * target.gross)
                self.add_row(LineKind.REFUND, target.currency, amount, at)
            else:
                currency = self.currencies[int(rng.random() * len(self.currencies))]
                amount = 1 + int(rng.random() * 2_000_000)
                refundable.append(self.add_row(LineKind.CHARGE, currency, amount, at))

    def add_row(self, kind: LineKind, currency: str, amount: int, at: int) -> Row:
        charge = kind is LineKind.CHARGE
        self._ids += 1
        record_id = f"{'pay' if charge else 're'}_{self._ids:010d}"
        reference = psp_key(record_id)
        payout_key = (at // 86400, currency)
        payout_id = self._payout_ids.get(payout_key)
        if payout_id is None:
            payout_id = self._payout_ids[payout_key] = f"po_{_day(at)}_{currency}".replace("-", "")
        row = Row(
            kind,
            f"txn_{self._ids:010d}",
            reference,
            currency,
            amount if charge else -amount,
            fee_minor(amount, currency) if charge else 0,
            payout_id,
            at,
        )
        self.rows.append(row)
        created = START + timedelta(seconds=at)
        self.records[reference] = _record(kind, record_id, amount, currency, created)
        return row

    def add_noise(self) -> None:
        """Records and lines that must not break anything."""
        for status, created, settled in (
            ("failed", START, False),  # declined: the PSP lists nothing
            ("succeeded", CUT_OFF + timedelta(seconds=1), False),  # after the cut-off
            ("processing", CUT_OFF + timedelta(hours=1), False),
            ("succeeded", START - timedelta(days=1), True),  # settled by an earlier report
        ):
            record_id = self.new_id("pay")
            record = _record(LineKind.CHARGE, record_id, 1000, self.currencies[0], created)
            self.records[record.reference] = replace(record, status=status, settled=settled)
        if self.fmt is SettlementFormat.BALANCE_TRANSACTIONS and self.rows:
            row = self.add_row(LineKind.CHARGE, self.currencies[0], 777, 0)
            row.status, row.payout_id, row.fee = "failed", "", 0
            self._set_record(row, status="failed")

    # -- breaks on lines and records -----------------------------------------

    def inject_line_breaks(self) -> None:
        balance = self.fmt is SettlementFormat.BALANCE_TRANSACTIONS
        injections: list[Callable[[int], None]] = [
            self.unknown_reference,
            self.missing_at_psp,
            self.duplicate_line,
            self.settled_earlier,
            self.amount_mismatch,
            self.currency_mismatch,
            self.fee_mismatch,
            self.failed_here,
            self.in_flight_here,
        ]
        if balance:
            injections += [self.psp_only_line, self.failed_there, self.pending_there]
        plan = [inject for inject in injections for _ in range(self.rng.randint(1, 3))]
        base = [i for i, row in enumerate(self.rows) if row.status == "available"]
        for inject, victim in zip(plan, self.rng.sample(base, len(plan)), strict=True):
            inject(victim)

    def expect(self, category: BreakCategory, row: Row | None, reference: str) -> None:
        self.expected.append((category, row, reference))

    def _set_record(self, row: Row, **changes: Any) -> None:
        self.records[row.reference] = replace(self.records[row.reference], **changes)

    def unknown_reference(self, i: int) -> None:
        row = self.rows[i]
        del self.records[row.reference]
        self.expect(BreakCategory.MISSING_INTERNALLY, row, row.reference)

    def psp_only_line(self, i: int) -> None:
        row = self.rows[i]
        kind = self.rng.choice((LineKind.DISPUTE, LineKind.ADJUSTMENT, LineKind.FEE))
        extra = Row(
            kind=kind,
            psp_id=self.new_id("txn"),
            # A dispute names the charge it disputes; fees and adjustments name nothing.
            reference=row.reference if kind is LineKind.DISPUTE else "",
            currency=row.currency,
            gross=-self.rng.randint(1, 5000),
            fee=1500 if kind is LineKind.DISPUTE else 0,
            payout_id=row.payout_id,
            at=row.at,
        )
        self.after.setdefault(i, []).append(extra)
        self.expect(BreakCategory.MISSING_INTERNALLY, extra, extra.reference)

    def missing_at_psp(self, i: int) -> None:
        self.removed.add(i)
        self.expect(BreakCategory.MISSING_AT_PSP, None, self.rows[i].reference)

    def duplicate_line(self, i: int) -> None:
        row = self.rows[i]
        copy = replace(row)
        self.after.setdefault(self.rng.randrange(i, len(self.rows)), []).append(copy)
        self.expect(BreakCategory.DUPLICATE, copy, row.reference)

    def settled_earlier(self, i: int) -> None:
        self._set_record(self.rows[i], settled=True)
        self.expect(BreakCategory.DUPLICATE, self.rows[i], self.rows[i].reference)

    def amount_mismatch(self, i: int) -> None:
        row = self.rows[i]
        record = self.records[row.reference]
        self._set_record(row, amount_minor=record.amount_minor + self.rng.randint(1, 99))
        self.expect(BreakCategory.AMOUNT_MISMATCH, row, row.reference)

    def currency_mismatch(self, i: int) -> None:
        row = self.rows[i]
        other = next(c for c in ("CHF", "GBP") if c != row.currency)
        self._set_record(row, currency_code=other)
        self.expect(BreakCategory.CURRENCY_MISMATCH, row, row.reference)

    def fee_mismatch(self, i: int) -> None:
        row = self.rows[i]
        row.fee += self.rng.choice((-1, 1, 17))
        self.expect(BreakCategory.FEE_MISMATCH, row, row.reference)

    def failed_here(self, i: int) -> None:
        self._set_record(self.rows[i], status="failed")
        self.expect(BreakCategory.STATUS_MISMATCH, self.rows[i], self.rows[i].reference)

    def failed_there(self, i: int) -> None:
        row = self.rows[i]
        row.status, row.payout_id = "failed", ""
        self.expect(BreakCategory.STATUS_MISMATCH, row, row.reference)

    def in_flight_here(self, i: int) -> None:
        self.removed.add(i)
        self._set_record(self.rows[i], status=self.rng.choice(("processing", "unknown")))
        self.expect(BreakCategory.PENDING_AT_CUTOFF, None, self.rows[i].reference)

    def pending_there(self, i: int) -> None:
        row = self.rows[i]
        row.status, row.payout_id = "pending", ""
        self.expect(BreakCategory.PENDING_AT_CUTOFF, row, row.reference)

    # -- payouts -------------------------------------------------------------

    def ordered(self) -> Iterator[Row]:
        for i, row in enumerate(self.rows):
            if i not in self.removed:
                yield row
            yield from self.after.get(i, ())

    def add_payouts(self, *, inject: bool) -> None:
        """One payout row per payout id, paying exactly its lines' net; then,
        when injecting, one paying a wrong amount, one missing, one failed,
        and one listed twice."""
        if self.fmt is not SettlementFormat.BALANCE_TRANSACTIONS:
            return
        sums: dict[str, tuple[str, int]] = {}
        for row in self.ordered():
            if row.payout_id:
                currency, total = sums.get(row.payout_id, (row.currency, 0))
                sums[row.payout_id] = (currency, total + row.net)
        for payout_id, (currency, total) in sorted(sums.items()):
            paid_on = datetime.strptime(payout_id[3:11], "%Y%m%d").replace(tzinfo=UTC)
            paid_at = int((paid_on - START).total_seconds()) + 86400
            self.payout_rows.append(
                Row(
                    kind=LineKind.PAYOUT,
                    psp_id=self.new_id("txn"),
                    reference=payout_id,
                    currency=currency,
                    gross=-total,
                    fee=0,
                    # The layout allows the payout's own id or nothing here; write both.
                    payout_id=payout_id if len(self.payout_rows) % 2 else "",
                    at=paid_at,
                )
            )
        if inject:
            self.inject_payout_breaks()

    def inject_payout_breaks(self) -> None:
        if len(self.payout_rows) < 4:
            raise ValueError("too few payouts to inject payout breaks; raise n")
        wrong, missing, failed, twice = self.rng.sample(self.payout_rows, 4)
        wrong.gross -= self.rng.choice((-1, 1, 1000))
        self.expect(BreakCategory.PAYOUT_MISMATCH, None, wrong.reference)
        self.payout_rows.remove(missing)
        self.expect(BreakCategory.PAYOUT_MISMATCH, None, missing.reference)
        failed.status = "failed"
        self.expect(BreakCategory.PAYOUT_MISMATCH, failed, failed.reference)
        copy = replace(twice, psp_id=self.new_id("txn"))
        self.payout_rows.append(copy)
        self.expect(BreakCategory.DUPLICATE, copy, copy.reference)
        self.broken_payouts = {wrong.reference, missing.reference, failed.reference}

    # -- writing -------------------------------------------------------------

    def render(self) -> GeneratedReport:
        rows = [*self.ordered(), *self.payout_rows]
        line_of = {id(row): number for number, row in enumerate(rows, start=2)}
        expected = {
            (category, 0 if row is None else line_of[id(row)], reference)
            for category, row, reference in self.expected
        }
        write = _simulated_line if self.fmt is SettlementFormat.SIMULATED else _balance_line
        text = "".join([",".join(self.fmt.header), "\n", *(write(row) for row in rows)])
        payouts: dict[str, int] = {}
        for row in self.payout_rows:
            payouts.setdefault(row.reference, -row.net)
        broken_payouts = self.broken_payouts
        if not self.fmt.lists_payouts:
            # No payout rows: a payout pays what its lines net to, and ties out
            # when every one of its lines matches.
            for row in rows:
                if row.payout_id:
                    payouts[row.payout_id] = payouts.get(row.payout_id, 0) + row.net
            broken_payouts = {
                row.payout_id for _, row, _ in self.expected if row is not None and row.payout_id
            }
        return GeneratedReport(
            fmt=self.fmt,
            data=text.encode(),
            records=self.records,
            expected=expected,
            payouts=payouts,
            broken_payouts=broken_payouts,
            line_count=len(rows),
        )


def _day(at: int) -> str:
    """`YYYY-MM-DD` of `at` seconds after START; days repeat, so computed once each."""
    return _day_of(at // 86400)


@functools.cache
def _day_of(day: int) -> str:
    return f"{START + timedelta(days=day):%Y-%m-%d}"


def _clock(second: int) -> str:
    hours, rest = divmod(second, 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def _record(
    kind: LineKind, record_id: str, amount: int, currency: str, created: datetime
) -> InternalRecord:
    return InternalRecord(
        kind=kind,
        record_id=record_id,
        reference=psp_key(record_id),
        amount_minor=amount,
        currency_code=currency,
        status="succeeded",
        create_time=created,
        settled=False,
    )


def major(minor: int, currency: str) -> str:
    exponent = CURRENCY_EXPONENTS[currency]
    sign = "-" if minor < 0 else ""
    units, rest = divmod(abs(minor), 10**exponent)
    return f"{sign}{units}.{rest:0{exponent}d}" if exponent else f"{sign}{units}"


def _simulated_line(row: Row) -> str:
    c = row.currency
    return (
        f"{row.kind.value},{row.psp_id},{row.reference},{c},{major(row.gross, c)},"
        f"{major(row.fee, c)},{major(row.net, c)},{row.payout_id},"
        f"{_day(row.at)}T{_clock(row.at % 86400)}Z\n"
    )


def _balance_line(row: Row) -> str:
    c = row.currency
    available_on = "" if row.status == "failed" else _day(row.at + 2 * 86400)
    return (
        f"{row.psp_id},{row.kind.value},{row.status},{major(row.gross, c)},{major(row.fee, c)},"
        f"{major(row.net, c)},{c.lower()},{row.reference},{row.payout_id},{available_on}\n"
    )


def from_simulator(*, seed: int, n: int) -> GeneratedReport:
    """Drive the simulated PSP (succeeding, declined and refund-failing cards,
    full and partial refunds over several days) and reconcile its own report:
    a clean SIMULATED report and the records Accrue would hold."""
    rng = random.Random(seed)
    clock = FixedClock(START)
    psp = SimulatedPsp(clock, seed=seed)
    records: dict[str, InternalRecord] = {}
    tokens = ("tok_visa", "tok_visa", "tok_visa", "tok_do_not_honor", "tok_refund_fails")
    charged: list[tuple[str, int, str]] = []
    for i in range(n):
        clock.advance(timedelta(seconds=rng.randint(1, DAYS * 86400 // max(n, 1))))
        if charged and rng.random() < 0.2:
            psp_id, amount, currency = charged.pop(rng.randrange(len(charged)))
            record_id = f"re_{seed}_{i}"
            refund = psp.refund(
                idempotency_key=psp_key(record_id),
                charge_psp_id=psp_id,
                amount_minor=rng.randint(1, amount),
                currency_code=currency,
            ).refund
            assert refund is not None
            status, kind, amount = refund.status.value, LineKind.REFUND, refund.amount_minor
        else:
            record_id, currency = f"pay_{seed}_{i}", rng.choice(CURRENCIES)
            outcome = psp.charge(
                idempotency_key=psp_key(record_id),
                token=rng.choice(tokens),
                amount_minor=rng.randint(1, 500_000),
                currency_code=currency,
                metadata={},
            )
            assert outcome.charge is not None
            charge = outcome.charge.charge
            status, kind, amount = charge.status.value, LineKind.CHARGE, charge.amount_minor
            if status == "succeeded":
                charged.append((charge.psp_id, amount, currency))
        record = _record(kind, record_id, amount, currency, clock.now())
        records[record.reference] = replace(record, status=status)
    text = psp.settlement_csv()
    return GeneratedReport(
        fmt=SettlementFormat.SIMULATED,
        data=text.encode(),
        records=records,
        expected=set(),
        cut_off=clock.now(),
        line_count=text.count("\n"),
    )


@dataclass
class Outcome:
    breaks: list[Break]
    matches: list[Match]
    totals: Totals
    lines: list[SettlementLine] | None

    def found(self) -> set[Expected]:
        return {(b.category, b.line_number, b.reference) for b in self.breaks}


def reconcile(
    report: GeneratedReport,
    *,
    batch_size: int = 1000,
    chunk_size: int = 1 << 16,
    keep: bool = False,
) -> Outcome:
    """Run a report through a fresh Reconciler the way the service does: parse
    streamed chunks, batch the lines, load the referenced records per batch,
    and finish with every unsettled record. `keep` also returns the lines
    and matches (small reports only)."""
    reconciler = Reconciler(fee_schedule=report.fee_schedule, cut_off=report.cut_off)
    lines = parse_settlement(report.chunks(chunk_size), report.fmt)
    breaks: list[Break] = []
    matches: list[Match] = []
    kept: list[SettlementLine] = []
    while batch := list(islice(lines, batch_size)):
        wanted = reconciler.references(batch)
        records = {ref: report.records[ref] for ref in wanted if ref in report.records}
        result = reconciler.feed(batch, records)
        breaks += result.breaks
        if keep:
            matches += result.matches
            kept += batch
    breaks += reconciler.finish(report.unsettled())
    return Outcome(breaks, matches, reconciler.totals(), kept if keep else None)
