"""Recognising card numbers (PANs) in untrusted text, however they are written.

Accrue never holds card data, so every string a client sends is checked
(values and map keys alike). The rule, chosen to catch a PAN someone tries to
smuggle in while leaving ordinary text alone:

1. The text is normalised first: Unicode NFKC (full-width and other
   compatibility digits become ASCII), then any Unicode decimal digit
   (Arabic-Indic, Devanagari, ...) becomes its ASCII digit, invisible format
   characters (zero-width spaces, joiners) and combining marks are dropped,
   every other letter stays a letter, and everything else (spaces, dots,
   dashes, slashes, underscores, any punctuation or symbol) is a separator.
2. A *chain* is a run of digit groups where each group is separated from the
   next by one to three separator characters, and which is not glued to a
   letter at either end (so digits inside ULIDs, UUIDs and hashes do not
   count). A UUID in its canonical form (hex groups of 8-4-4-4-12 joined by
   dashes) is an identifier, not digit groups: its leading groups can all be
   decimal (about one random UUID in 35,000 would otherwise pass as a card),
   and clients send UUIDs as request ids.
3. The text holds a card number when some consecutive whole groups of a chain
   have 13 to 19 digits in total that start like a card of a major network
   (3, 4, 5 or 6, or the Mastercard 2221-2720 range) and pass the Luhn check.

Dates, times, phone numbers and ordinary amounts start with 0, 1, 7, 8, 9 or
`20xx`, or are too short, so they are not mistaken for cards; a digit run
longer than 19 digits without a separator is not a card either.
"""

from __future__ import annotations

import re
import unicodedata

MIN_PAN_DIGITS = 13
MAX_PAN_DIGITS = 19
_MAX_SEPARATOR = 3

# On the normalised skeleton: digits, "a" for any letter, " " for a separator.
_CHAIN = re.compile(rf"(?<![0-9a])[0-9]+(?: {{1,{_MAX_SEPARATOR}}}[0-9]+)*(?![0-9a])")
_GROUP = re.compile(r"[0-9]+")
_UUID = re.compile(
    r"(?<![0-9A-Za-z-])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
    r"(?![0-9A-Za-z-])"
)
_ASCII_SEPARATORS = re.compile(r"[^0-9A-Za-z]")
_ASCII_LETTERS = re.compile(r"[A-Za-z]")
_ASCII_DIGIT = re.compile(r"[0-9]")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum used by card numbers."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _has_card_prefix(digits: str) -> bool:
    if digits[0] in "3456":
        return True
    return digits[0] == "2" and 2221 <= int(digits[:4]) <= 2720


def _skeleton(text: str) -> str:
    """`text` as digits, `a` (letters) and ` ` (separators), per the rule above."""
    if text.isascii():
        return _ASCII_SEPARATORS.sub(" ", _ASCII_LETTERS.sub("a", text))
    out = []
    for char in unicodedata.normalize("NFKC", text):
        if "0" <= char <= "9":
            out.append(char)
            continue
        digit = unicodedata.decimal(char, None)
        if digit is not None:
            out.append(str(digit))
            continue
        category = unicodedata.category(char)
        if category in ("Cf", "Mn", "Me"):
            continue  # invisible: cannot separate what a reader sees as one number
        out.append("a" if category[0] in "LN" else " ")
    return "".join(out)


def _count_digits(text: str) -> int:
    if text.isascii():
        return len(_ASCII_DIGIT.findall(text))
    return sum(1 for char in text if char.isdigit())  # also what NFKC makes digits of


def looks_like_card_number(text: str) -> bool:
    """True when `text` contains something that is, or is written like, a card number."""
    if len(text) < MIN_PAN_DIGITS or _count_digits(text) < MIN_PAN_DIGITS:
        return False
    text = _UUID.sub("uuid", text)  # a letter run: ends any chain, as a UUID's letters would
    for chain in _CHAIN.finditer(_skeleton(text)):
        groups = _GROUP.findall(chain.group())
        for start in range(len(groups)):
            digits = ""
            for group in groups[start:]:
                digits += group
                if len(digits) > MAX_PAN_DIGITS:
                    break
                if (
                    len(digits) >= MIN_PAN_DIGITS
                    and _has_card_prefix(digits)
                    and luhn_valid(digits)
                ):
                    return True
    return False
