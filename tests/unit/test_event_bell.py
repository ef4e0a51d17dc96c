"""The bell that wakes idle event streams when their tenant's events commit."""

from __future__ import annotations

import threading
import time

from accrue.event_log.service import EventBell


def _wait_in_thread(
    bell: EventBell, tenant: str, timeout: float
) -> tuple[threading.Thread, list[float]]:
    seen = bell.rung(tenant)
    took: list[float] = []

    def wait() -> None:
        started = time.monotonic()
        bell.wait(tenant, seen, timeout=timeout)
        took.append(time.monotonic() - started)

    thread = threading.Thread(target=wait)
    thread.start()
    return thread, took


def test_a_commit_for_the_tenant_wakes_its_waiters_at_once() -> None:
    bell = EventBell()
    thread, took = _wait_in_thread(bell, "ten_a", timeout=10)
    time.sleep(0.05)
    bell.ring(["ten_a"])
    thread.join(5)
    assert took and took[0] < 5


def test_a_ring_before_the_wait_is_not_missed() -> None:
    bell = EventBell()
    seen = bell.rung("ten_a")
    bell.ring(["ten_a"])  # a commit between the read and the wait
    started = time.monotonic()
    bell.wait("ten_a", seen, timeout=10)
    assert time.monotonic() - started < 1


def test_other_tenants_commits_do_not_wake_a_waiter() -> None:
    bell = EventBell()
    seen = bell.rung("ten_a")
    bell.ring(["ten_b"])
    started = time.monotonic()
    bell.wait("ten_a", seen, timeout=0.2)
    assert time.monotonic() - started >= 0.19


def test_wake_all_releases_every_waiter_for_shutdown() -> None:
    bell = EventBell()
    thread, took = _wait_in_thread(bell, "ten_a", timeout=10)
    time.sleep(0.05)
    bell.wake_all()
    thread.join(5)
    assert took and took[0] < 5
