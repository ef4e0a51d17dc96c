"""Bulk loops and Python's cyclic garbage collector.

A loop over a million settlement lines keeps a batch or two of row tuples alive
at a time and frees each batch by reference counting; none of it is cyclic. Yet
with the default thresholds (a young collection every 700 net allocations of
tracked objects) the collector runs thousands of times over such a loop, each
live batch is promoted to the oldest generation, and the full collections that
follows walk every object of the process (the whole application: ~170,000) again
and again: in the reconciliation benchmark, about 30% of the matching phase's CPU time.

`fewer_young_collections` raises the youngest generation's threshold while such
a loop runs. The collector still runs; it only waits for more net allocations,
which a loop that frees what it makes reaches rarely. The threshold is
process-wide, so the raise is shared: loops running at once (imports of
different tenants) keep it raised until the last one ends, then the thresholds
found before the first are restored.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Net allocations of tracked objects between young collections while a bulk loop
# runs: well above the few batches of rows (5,000 to 20,000 each) a loop holds.
BULK_YOUNG_THRESHOLD = 100_000


class _Raise:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.holders = 0
        self.saved: tuple[int, int, int] = gc.get_threshold()


_raise = _Raise()


@contextmanager
def fewer_young_collections(threshold: int = BULK_YOUNG_THRESHOLD) -> Iterator[None]:
    """Run the body with the youngest generation's threshold at least `threshold`."""
    with _raise.lock:
        if _raise.holders == 0:
            _raise.saved = gc.get_threshold()
            young, *older = _raise.saved
            gc.set_threshold(max(young, threshold), *older)
        _raise.holders += 1
    try:
        yield
    finally:
        with _raise.lock:
            _raise.holders -= 1
            if _raise.holders == 0:
                gc.set_threshold(*_raise.saved)
