"""The one check of every string a client sends, before any handler sees it.

Walks every string of a request message (map keys included, nested
messages and repeated fields to any depth) so no present or future field can
carry what must never be stored:

- a NUL character (PostgreSQL text cannot hold one; neither should SQLite),
- a lone surrogate or anything else that is not encodable as UTF-8,
- a card number, written in any digits and with any separators
  (`accrue.kernel.card_data` has the rule).

Values are checked as they are, never rewritten: the check normalises its own
copy, and whatever is accepted is stored exactly as the client sent it.
"""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf.message import Message

from accrue.kernel.card_data import looks_like_card_number
from accrue.kernel.errors import FieldViolation

# Server-made and authenticated (sealed) before use; never stored.
_OPAQUE_FIELDS = frozenset({"page_token"})


def text_violations(message: Message) -> list[FieldViolation]:
    """One violation per offending string of `message`, named by its path.

    A rejected map key is never echoed back (it may be a card number): its
    violation names the map field, and its value is shown as `map[<rejected key>]`.
    """
    violations = []
    for path, text, what in _strings(message, ""):
        problem = _problem(text, opaque=what == "opaque")
        if problem is not None:
            prefix = "a key " if what == "key" else ""
            violations.append(FieldViolation(path, prefix + problem))
    return violations


def _problem(text: str, *, opaque: bool = False) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (U+0000), which is never accepted"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "is not valid Unicode text (it holds an unpaired surrogate)"
    if not opaque and looks_like_card_number(text):
        return "looks like a card number; send the PSP's token instead"
    return None


def _strings(message: Message, prefix: str) -> Iterator[tuple[str, str, str]]:
    """(path, text, kind) of every string in `message`; kind is value, key or opaque."""
    for field, value in message.ListFields():
        path = f"{prefix}{field.name}"
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            for key, item in value.items():
                shown = key
                if isinstance(key, str):
                    yield path, key, "key"
                    shown = key if _problem(key) is None else "<rejected key>"
                where = f"{path}[{shown}]"
                if isinstance(item, str):
                    yield where, item, "value"
                elif isinstance(item, Message):
                    yield from _strings(item, f"{where}.")
        elif field.message_type is not None:
            items = value if field.is_repeated else [value]
            for index, item in enumerate(items):
                yield from _strings(item, f"{path}[{index}]." if field.is_repeated else f"{path}.")
        elif field.type == field.TYPE_STRING:
            kind = "opaque" if field.name in _OPAQUE_FIELDS else "value"
            if field.is_repeated:
                for index, item in enumerate(value):
                    yield f"{path}[{index}]", item, kind
            else:
                yield path, value, kind
