"""Money-path gauges computed at scrape time from a small read port.

Nothing on the write paths is instrumented for these: a scrape asks the
`OperationalState` port for a snapshot (a handful of bounded, indexed
queries), cached for `refresh_seconds` so a busy Prometheus (or several)
cannot turn scrapes into load. A failing query is reported as
`accrue_state_up 0`, never as a failed scrape.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from accrue.reconciliation.breaks import BreakCategory

log = logging.getLogger("accrue.metrics")


@dataclass(frozen=True)
class Backlog:
    """Rows waiting for something, and the age of the oldest (seconds, 0 if none)."""

    count: int
    oldest_age_seconds: float


NONE_WAITING = Backlog(0, 0.0)


@dataclass(frozen=True)
class StateSnapshot:
    unknown_payments: Backlog
    due_subscriptions: Backlog
    # stream ("ledger", "events") -> rows committed but not yet sequenced
    unsequenced: dict[str, Backlog]
    open_breaks: dict[str, int]  # reconciliation break category -> open breaks
    webhook_backlog: Backlog | None = None  # None: this build delivers no webhooks
    extra: dict[str, float] = field(default_factory=dict)


class OperationalState(Protocol):
    """The read port the gauges come from; implementations bound every query."""

    def snapshot(self, now: datetime) -> StateSnapshot: ...


# A further backlog another area can report (e.g. outgoing webhooks): name -> source.
BacklogSource = Callable[[datetime], Backlog]


class StateCollector(Collector):
    def __init__(
        self,
        state: OperationalState,
        now: Callable[[], datetime],
        *,
        refresh_seconds: float = 5.0,
    ) -> None:
        self._state = state
        self._now = now
        self._refresh = refresh_seconds
        self._lock = threading.Lock()
        self._cached: tuple[float, StateSnapshot | None] = (-1e18, None)
        self._backlogs: dict[str, BacklogSource] = {}

    def add_backlog(self, name: str, source: BacklogSource) -> None:
        """Report another queue as accrue_backlog{queue=name} (and its oldest age)."""
        self._backlogs[name] = source

    def _snapshot(self) -> StateSnapshot | None:
        with self._lock:
            at, snapshot = self._cached
            if snapshot is not None and time.monotonic() - at < self._refresh:
                return snapshot
            try:
                snapshot = self._state.snapshot(self._now())
            except Exception:
                log.warning("operational state query failed", exc_info=True)
                snapshot = None
            self._cached = (time.monotonic(), snapshot)
            return snapshot

    def collect(self) -> Iterator[Metric]:
        snapshot = self._snapshot()
        up = GaugeMetricFamily(
            "accrue_state_up", "1 if the money-path gauges could be read from the database"
        )
        up.add_metric([], 0 if snapshot is None else 1)
        yield up
        if snapshot is None:
            return
        yield from _backlog(
            "accrue_payments_unknown",
            "Payments whose outcome at the PSP is not known yet",
            snapshot.unknown_payments,
        )
        yield from _backlog(
            "accrue_subscriptions_due_unbilled",
            "Subscriptions (real time, not test clocks) whose billing is due and not done yet",
            snapshot.due_subscriptions,
        )
        rows = GaugeMetricFamily(
            "accrue_sequencing_lag_rows",
            "Committed rows not sequenced yet, by stream (ledger, events)",
            labels=["stream"],
        )
        age = GaugeMetricFamily(
            "accrue_sequencing_lag_oldest_age_seconds",
            "Age of the oldest committed row not sequenced yet, by stream",
            labels=["stream"],
        )
        for stream, backlog in sorted(snapshot.unsequenced.items()):
            rows.add_metric([stream], backlog.count)
            age.add_metric([stream], backlog.oldest_age_seconds)
        yield rows
        yield age
        breaks = GaugeMetricFamily(
            "accrue_reconciliation_breaks_open",
            "Unresolved reconciliation breaks, by category",
            labels=["category"],
        )
        for category in BreakCategory:
            breaks.add_metric([category.value], snapshot.open_breaks.get(category.value, 0))
        yield breaks
        backlogs: dict[str, Backlog] = {}
        if snapshot.webhook_backlog is not None:
            backlogs["webhooks"] = snapshot.webhook_backlog
        now = self._now()
        for name, source in sorted(self._backlogs.items()):
            try:
                backlogs[name] = source(now)
            except Exception:
                log.warning("backlog source failed", extra={"queue": name}, exc_info=True)
        if backlogs:
            depth = GaugeMetricFamily(
                "accrue_backlog", "Items waiting in a queue, by queue", labels=["queue"]
            )
            oldest = GaugeMetricFamily(
                "accrue_backlog_oldest_age_seconds",
                "Age of the oldest item waiting, by queue",
                labels=["queue"],
            )
            for name, backlog in backlogs.items():
                depth.add_metric([name], backlog.count)
                oldest.add_metric([name], backlog.oldest_age_seconds)
            yield depth
            yield oldest


def _backlog(name: str, documentation: str, backlog: Backlog) -> Iterator[Metric]:
    count = GaugeMetricFamily(name, documentation)
    count.add_metric([], backlog.count)
    yield count
    age = GaugeMetricFamily(f"{name}_oldest_age_seconds", f"Age of the oldest: {documentation}")
    age.add_metric([], backlog.oldest_age_seconds)
    yield age
