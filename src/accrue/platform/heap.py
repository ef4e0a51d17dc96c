"""Garbage-collector settings of a long-running process (`serve`, `worker`, `relay`).

Why: CPython's cyclic collector runs a young-generation pass every 700 net
container allocations and, now and then, a pass over every object the process
holds. A bill-run batch or an RPC allocates thousands of short-lived
containers (rows, dataclasses, protobuf messages) that reference counting
frees anyway, so those passes find almost nothing, yet they cost 4-6% of a
bill-run worker's CPU (measured with `gc.callbacks`: about 365 passes per
6,000 renewals) and walk the modules, tables and protobuf descriptors loaded at
start-up every time an old-generation pass runs.

After start-up, therefore, what start-up allocated is collected once and
frozen (moved to a generation the collector never scans, as `gc.freeze` is
documented for), and the young generation is collected every
`young_threshold` allocations instead of 700. Cycles are still collected,
only in larger, rarer passes: the garbage that can wait is bounded by the
threshold (a few megabytes at 10,000), and nothing Accrue relies on is
released by the collector rather than by reference counting.
"""

from __future__ import annotations

import gc


def settle_after_start_up(young_threshold: int) -> None:
    """Freeze the start-up heap and collect the young generation every
    `young_threshold` allocations; 0 leaves the interpreter's defaults."""
    if young_threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)
