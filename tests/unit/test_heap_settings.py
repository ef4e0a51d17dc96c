"""The collector settings every long-running process applies after start-up."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from accrue.config import Settings
from accrue.platform.heap import settle_after_start_up


@pytest.fixture
def restored_collector() -> Iterator[None]:
    """The test process's own collector is left as it was found."""
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.mark.usefixtures("restored_collector")
def test_the_start_up_heap_is_frozen_and_young_passes_are_rarer() -> None:
    gc.unfreeze()
    _young, middle, old = gc.get_threshold()
    settle_after_start_up(10_000)
    assert gc.get_threshold() == (10_000, middle, old)
    assert gc.get_freeze_count() > 0


@pytest.mark.usefixtures("restored_collector")
def test_cycles_made_afterwards_are_still_collected_without_being_asked() -> None:
    """The collector stays on: allocating past the threshold collects a dropped
    cycle by itself (no explicit gc.collect, which would work even if it were off)."""
    settle_after_start_up(1_000)
    assert gc.isenabled()
    first, second = Node(), Node()
    first.other, second.other = second, first
    gone = weakref.ref(first)
    del first, second
    kept = [[] for _ in range(200_000)]  # containers that stay alive: young passes run
    assert gone() is None
    assert len(kept) == 200_000


@pytest.mark.usefixtures("restored_collector")
def test_zero_keeps_the_interpreter_defaults() -> None:
    gc.unfreeze()
    thresholds = gc.get_threshold()
    settle_after_start_up(0)
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == 0


def test_the_setting_defaults_to_ten_thousand_and_refuses_a_negative(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ACCRUE_GC_YOUNG_THRESHOLD", raising=False)
    assert Settings().gc_young_threshold == 10_000
    monkeypatch.setenv("ACCRUE_GC_YOUNG_THRESHOLD", "-1")
    with pytest.raises(ValidationError):
        Settings()
