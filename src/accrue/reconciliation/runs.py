"""A reconciliation run and its stored breaks, as the service keeps them.

The matching rules live in `reconciliation`; this is what one import leaves
behind: its identity (the report's digest), its totals, and its breaks with
their resolution (who, when, why), which is the audit trail finance needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from accrue.kernel.errors import InvalidState, PreconditionViolation
from accrue.reconciliation.matching import Break
from accrue.reconciliation.settlement import SettlementFormat


@dataclass(frozen=True, slots=True)
class CurrencyTotals:
    currency_code: str
    line_count: int = 0
    matched_count: int = 0
    matched_gross_minor: int = 0
    matched_fees_minor: int = 0
    matched_net_minor: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconciliationRun:
    id: str
    tenant_id: str
    psp: str
    format: SettlementFormat
    file_name: str
    report_sha256: str
    cut_off_time: datetime
    create_time: datetime
    line_count: int = 0
    matched_count: int = 0
    break_count: int = 0
    breaks_by_category: dict[str, int] = field(default_factory=dict)
    totals: tuple[CurrencyTotals, ...] = ()
    payout_count: int = 0
    payouts_tied_out: int = 0
    ledger_transaction_count: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredBreak:
    tenant_id: str
    run_id: str
    seq: int
    found: Break
    resolved: bool = False
    resolution_note: str = ""
    resolved_by: str = ""
    resolve_time: datetime | None = None

    @property
    def id(self) -> str:
        return break_id(self.run_id, self.seq)


def break_id(run_id: str, seq: int) -> str:
    """Deterministic, so a run's breaks list the same on every read and re-import."""
    return f"{run_id}:{seq:07d}"


def parse_break_id(value: str) -> tuple[str, int] | None:
    run_id, _, seq = value.rpartition(":")
    if not run_id or not seq.isdigit():
        return None
    return run_id, int(seq)


def resolve(item: StoredBreak, *, note: str, actor: str, now: datetime) -> StoredBreak:
    if item.resolved:
        raise InvalidState(
            f"break {item.id!r} was resolved already",
            metadata={"resolved_by": item.resolved_by},
            precondition_violations=[
                PreconditionViolation("STATE", f"breaks/{item.id}", "already resolved")
            ],
        )
    return replace(item, resolved=True, resolution_note=note, resolved_by=actor, resolve_time=now)
