"""`fewer_young_collections`: the youngest generation's threshold is raised while any
bulk loop runs and the thresholds found before the first are back after the last."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from accrue.platform.collector import fewer_young_collections


@pytest.fixture(autouse=True)
def _known_thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*saved)


def test_the_threshold_is_raised_inside_and_restored_after() -> None:
    with fewer_young_collections(50_000):
        assert gc.get_threshold() == (50_000, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)


def test_overlapping_loops_keep_it_raised_until_the_last_one_ends() -> None:
    first = fewer_young_collections(50_000)
    second = fewer_young_collections(50_000)
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold() == (50_000, 10, 10)
    second.__exit__(None, None, None)
    assert gc.get_threshold() == (700, 10, 10)


def test_it_is_restored_when_the_loop_fails() -> None:
    with pytest.raises(RuntimeError), fewer_young_collections(50_000):
        raise RuntimeError("a malformed line")
    assert gc.get_threshold() == (700, 10, 10)


def test_a_higher_threshold_already_set_is_kept() -> None:
    gc.set_threshold(200_000, 10, 10)
    with fewer_young_collections(50_000):
        assert gc.get_threshold() == (200_000, 10, 10)
    assert gc.get_threshold() == (200_000, 10, 10)
