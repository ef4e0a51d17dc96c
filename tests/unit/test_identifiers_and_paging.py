"""Ids sort by creation; page tokens are tied to their query."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accrue.kernel.errors import InvalidPageToken
from accrue.kernel.ids import IdGenerator, OsRandomness
from accrue.kernel.paging import PageRequest, paginate
from accrue.platform.clock import FixedClock


def test_ids_sort_in_creation_order_even_within_one_millisecond() -> None:
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    ids = IdGenerator(clock)
    made = []
    for step in range(200):
        made.append(ids.new("cus"))
        if step % 50 == 0:
            clock.advance(timedelta(milliseconds=1))
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert all(len(i) == len("cus_") + 26 for i in made)


@given(token=st.text(max_size=60))
def test_arbitrary_page_tokens_are_rejected_cleanly(token: str) -> None:
    if not token:
        return
    with pytest.raises(InvalidPageToken):
        PageRequest.parse(page_size=10, page_token=token, query={"a": 1})


def test_token_is_bound_to_its_query() -> None:
    first = PageRequest.parse(page_size=2, page_token="", query={"email": "a"})
    token = first.token_after("cus_2")
    assert (
        PageRequest.parse(page_size=2, page_token=token, query={"email": "a"}).after_id == "cus_2"
    )
    with pytest.raises(InvalidPageToken):
        PageRequest.parse(page_size=2, page_token=token, query={"email": "b"})


class _Item:
    def __init__(self, id: str) -> None:
        self.id = id


@given(count=st.integers(0, 30), size=st.integers(1, 10))
def test_paginate_returns_a_token_only_when_more_rows_exist(count: int, size: int) -> None:
    page = PageRequest.parse(page_size=size, page_token="", query={})
    fetched = [_Item(f"x_{i:03d}") for i in range(min(count, size + 1))]
    result = paginate(fetched, page)
    assert len(result.items) == min(count, size)
    assert bool(result.next_page_token) == (count > size)


def test_page_size_zero_means_default_and_is_capped() -> None:
    assert PageRequest.parse(page_size=0, page_token="", query={}).size == 50
    assert PageRequest.parse(page_size=5000, page_token="", query={}).size == 1000


def test_ids_made_by_many_threads_in_one_millisecond_are_unique() -> None:
    import threading

    ids = IdGenerator(FixedClock(datetime(2026, 1, 1, tzinfo=UTC)))
    made: list[list[str]] = [[] for _ in range(8)]

    def work(bucket: list[str]) -> None:
        bucket.extend(ids.new("pm") for _ in range(5000))

    threads = [threading.Thread(target=work, args=(bucket,)) for bucket in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [i for bucket in made for i in bucket]
    assert len(set(everything)) == len(everything) == 40_000


def test_ids_in_new_milliseconds_draw_fresh_randomness_across_buffer_refills() -> None:
    """Each new millisecond takes 80 fresh bits; the buffer of OS randomness is
    read again when used up, and no two draws repeat (1,000 ids cross two refills)."""
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    ids = IdGenerator(clock)
    tails = []
    for _ in range(1000):
        clock.advance(timedelta(milliseconds=1))
        tails.append(ids.new("inv")[-16:])  # the randomness part of the ULID
    assert len(set(tails)) == 1000


def test_draws_fit_the_bits_asked_for() -> None:
    randomness = OsRandomness()
    draws = [randomness(80) for _ in range(2000)]
    assert all(0 <= d < 1 << 80 for d in draws)
    assert max(draws).bit_length() > 70  # the top bits are used, not zero-padded
    assert all(0 <= randomness(5) < 32 for _ in range(100))


def test_a_forked_child_never_repeats_its_parents_ids() -> None:
    """A child forked after its parent read randomness and made an id in the same
    millisecond makes different ids from the parent's next ones."""
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    ids = IdGenerator(clock)
    ids.new("evt")  # parent has buffered randomness and a last id in this millisecond
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ids and leave without cleanup
        os.write(write, ",".join(ids.new("evt") for _ in range(3)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read().split(",")
    os.waitpid(pid, 0)
    parent = [ids.new("evt") for _ in range(3)]
    assert len(child) == 3
    assert not set(child) & set(parent)
