"""No card numbers enter the platform."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accrue.kernel.card_data import (
    MAX_PAN_DIGITS,
    MIN_PAN_DIGITS,
    looks_like_card_number,
    luhn_valid,
)


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424242",
        "4242 4242 4242 4242",
        "4111-1111-1111-1111",
        "4111-1111-1111-1111-0000-0000",  # dash groups, but not a UUID's 8-4-4-4-12
        "34410693-7311-4996-99c7-164487b4296a-1",  # not a whole UUID: its digits still count
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
        # uuid4s whose leading groups are all decimal and pass as a card: about one in
        # 35,000 random request ids, which used to be refused
        "34410693-7311-4996-99c7-164487b4296a",
        "23104023-3058-4094-a790-e76771a19b1b",
        "request 61731563-8519-4368-802F-744712459670.",
        "cus_01M80G3CNTAN7YQMHWJX92E39V",
    ],
)
def test_tokens_and_ordinary_numbers_are_not(text: str) -> None:
    assert not looks_like_card_number(text)


def test_luhn() -> None:
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")


# Zero, full-width, Arabic-Indic, Devanagari, Bengali, Thai and mathematical bold digits.
_DIGIT_ZEROS = [0x30, 0xFF10, 0x660, 0x966, 0x9E6, 0xE50, 0x1D7CE]
_SEPARATORS = [" ", ".", "-", "/", "_", " - ", "\u00a0", "\u3000", ":", "|", "\u200b", "—", ", "]
_PREFIXES = ["4", "51", "55", "34", "37", "6011", "65", "2221", "2720", "35", "36"]


def _with_check_digit(body: str) -> str:
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError(body)


@st.composite
def pans(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(_PREFIXES))
    length = draw(st.integers(MIN_PAN_DIGITS, MAX_PAN_DIGITS))
    body = prefix + draw(
        st.text("0123456789", min_size=length - 1 - len(prefix), max_size=length - 1 - len(prefix))
    )
    return _with_check_digit(body)


@st.composite
def written(draw: st.DrawFn, pan: str) -> str:
    """`pan` in some script's digits, cut into groups joined by separators."""
    out = []
    zero = draw(st.sampled_from(_DIGIT_ZEROS))
    cuts = sorted(draw(st.sets(st.integers(1, len(pan) - 1), max_size=len(pan) - 1)))
    for index, digit in enumerate(pan):
        if index in cuts:
            out.append(draw(st.sampled_from(_SEPARATORS)))
        out.append(chr(zero + int(digit)))
    return "".join(out)


_SURROUNDINGS = st.text(st.characters(exclude_categories=["Nd", "No", "Cs"]), max_size=12)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(data=st.data())
def test_a_card_number_is_recognised_however_it_is_written(data: st.DataObject) -> None:
    pan = data.draw(pans())
    text = data.draw(written(pan))
    before = data.draw(_SURROUNDINGS.map(lambda s: s + " "))
    after = data.draw(_SURROUNDINGS.map(lambda s: " " + s))
    assert looks_like_card_number(before + text + after), (pan, before + text + after)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=st.text(max_size=60))
def test_text_with_fewer_than_thirteen_digits_is_never_a_card(text: str) -> None:
    if sum(ch.isdigit() for ch in text) < MIN_PAN_DIGITS:
        assert not looks_like_card_number(text)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(pan=pans(), digit=st.integers(0, 9))
def test_a_digit_changed_is_not_a_card(pan: str, digit: int) -> None:
    changed = pan[:-1] + str((int(pan[-1]) + 1 + digit % 9) % 10)
    assert not looks_like_card_number(changed)
