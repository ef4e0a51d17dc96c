"""Sealed page tokens: what one server sealed opens only for the same tenant,
method and secret, unaltered and before it expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accrue.kernel.errors import InvalidPageToken
from accrue.platform.transport.page_tokens import PageTokenSeal

SECRET = b"s" * 32
WHERE = {"tenant_id": "ten_a", "method": "accrue.billing.v1.CustomerService/ListCustomers"}


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 12, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


def _refusal(seal: PageTokenSeal, token: str, **where: str) -> str:
    with pytest.raises(InvalidPageToken) as raised:
        seal.open(token, **{**WHERE, **where})
    assert raised.value.field_violations[0].field == "page_token"
    return raised.value.message


def test_a_sealed_cursor_opens_unchanged() -> None:
    seal = PageTokenSeal(SECRET, Clock())
    assert seal.open(seal.seal("eyJhIjoiY3VzXzEifQ==", **WHERE), **WHERE) == "eyJhIjoiY3VzXzEifQ=="


def test_another_tenant_method_or_secret_cannot_open_it() -> None:
    clock = Clock()
    token = PageTokenSeal(SECRET, clock).seal("cursor", **WHERE)
    seal = PageTokenSeal(SECRET, clock)
    assert "not issued" in _refusal(seal, token, tenant_id="ten_b")
    assert "not issued" in _refusal(seal, token, method="accrue.billing.v1.X/ListProducts")
    assert "not issued" in _refusal(PageTokenSeal(b"t" * 32, clock), token)


def test_it_expires_after_its_lifetime() -> None:
    clock = Clock()
    seal = PageTokenSeal(SECRET, clock, lifetime=timedelta(hours=1))
    token = seal.seal("cursor", **WHERE)
    clock.at += timedelta(minutes=59)
    assert seal.open(token, **WHERE) == "cursor"
    clock.at += timedelta(minutes=1)
    assert "expired" in _refusal(seal, token)


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        PageTokenSeal(b"short", Clock())


@settings(max_examples=300, deadline=None, derandomize=True)
@given(position=st.integers(0, 10_000), replacement=st.characters(codec="ascii"))
def test_any_altered_character_is_refused(position: int, replacement: str) -> None:
    seal = PageTokenSeal(SECRET, Clock())
    token = seal.seal("eyJhIjoiY3VzXzAxIiwicSI6IjEyMzQ1Njc4OTBhYmNkZWYifQ==", **WHERE)
    index = position % len(token)
    altered = token[:index] + replacement + token[index + 1 :]
    if altered != token:
        with pytest.raises(InvalidPageToken):
            seal.open(altered, **WHERE)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(garbage=st.text(max_size=600))
def test_garbage_is_refused_never_crashes(garbage: str) -> None:
    with pytest.raises(InvalidPageToken):
        PageTokenSeal(SECRET, Clock()).open(garbage, **WHERE)
