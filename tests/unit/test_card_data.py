"""No card numbers enter the platform."""

from __future__ import annotations

import pytest

from accrue.domain.customers import looks_like_card_number, luhn_valid


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424242",
        "4242 4242 4242 4242",
        "4111-1111-1111-1111",
        "card: 5555555555554444",
        "378282246310005",
    ],
)
def test_card_numbers_are_recognised(text: str) -> None:
    assert looks_like_card_number(text)


@pytest.mark.parametrize(
    "text",
    [
        "tok_visa",
        "pm_1234",
        "4242424242424241",
        "order 12345",
        "2026-11-22",
        "1bdb081b-5f1f-4518-b471-86519578795a",  # a uuid4 whose digits pass Luhn by chance
        "cus_01M80G3CNTAN7YQMHWJX92E39V",
    ],
)
def test_tokens_and_ordinary_numbers_are_not(text: str) -> None:
    assert not looks_like_card_number(text)


def test_luhn() -> None:
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")
