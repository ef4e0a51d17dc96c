"""A Redis key prefix of its own per test, every key under it deleted afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

REDIS_ENV = "ACCRUE_TEST_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_url() -> str:
    return os.environ.get(REDIS_ENV, DEFAULT_REDIS_URL)


@contextmanager
def redis_prefix() -> Iterator[tuple[str, str]]:
    """(url, prefix); skips the test, saying why, when Redis is unreachable."""
    url = redis_url()
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        if os.environ.get("ACCRUE_REQUIRE_REDIS"):
            pytest.fail(f"Redis is required here (ACCRUE_REQUIRE_REDIS is set): {exc!r}")
        pytest.skip(f"Redis at {url} is not reachable ({REDIS_ENV}): {exc.__class__.__name__}")
    prefix = f"accrue-test-{uuid.uuid4().hex[:12]}:"
    try:
        yield url, prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
