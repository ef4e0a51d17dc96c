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

import functools
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from accrue.kernel.card_data import looks_like_card_number
from accrue.kernel.errors import FieldViolation

# Server-made and authenticated (sealed) before use; never stored.
_OPAQUE_FIELDS = frozenset({"page_token"})


def text_violations(message: Message) -> list[FieldViolation]:
    """One violation per offending string of `message`, named by its path.

    A rejected map key is never echoed back (it may be a card number): its
    violation names the map field, and its value is shown as `map[<rejected key>]`.

    Every string is judged, but each distinct text once per request (a batch
    repeats its ids and property values many times over), and a path is only
    written out for a string that fails.
    """
    violations = []
    judged: dict[tuple[str, bool], str | None] = {}
    for prefix, name, place, text, kind in _strings(message, ""):
        opaque = kind == _OPAQUE
        problem = judged.get((text, opaque), _UNJUDGED)
        if problem is _UNJUDGED:
            problem = judged[text, opaque] = _problem(text, opaque=opaque)
        if problem is not None:
            where = f"{prefix}{name}" if place is None else f"{prefix}{name}[{place}]"
            described = f"a key {problem}" if kind == _KEY else problem
            violations.append(FieldViolation(where, described))
    return violations


_UNJUDGED = "unjudged"  # a sentinel no problem description equals
_VALUE, _KEY, _OPAQUE = "value", "key", "opaque"
_MAP, _MESSAGE, _STRING, _OTHER = range(4)


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


@functools.cache
def _shape(field: FieldDescriptor) -> int:
    """What walking a field means; descriptors are fixed, so this is asked once each."""
    if field.message_type is not None:
        return _MAP if field.message_type.GetOptions().map_entry else _MESSAGE
    return _STRING if field.type == field.TYPE_STRING else _OTHER


_Found = list[tuple[str, str, object, str, str]]


def _strings(message: Message, prefix: str, found: _Found | None = None) -> _Found:
    """(prefix, field, place, text, kind) of every string in `message`.

    The path of a string is `prefix + field`, then `[place]` when place is not
    None (an index, or a map key as it may be shown); kind is value, key or
    opaque. The parts are joined only for a string that is reported. Appended
    to one list rather than yielded: a batch holds thousands of strings, and
    nested generators cost a resumption per level for each.
    """
    found = [] if found is None else found
    for field, value in message.ListFields():
        shape = _shape(field)
        name = field.name
        if shape == _MAP:
            _map_strings(value, prefix, name, found)
        elif shape == _MESSAGE:
            if field.is_repeated:
                for index, item in enumerate(value):
                    _strings(item, f"{prefix}{name}[{index}].", found)
            else:
                _strings(value, f"{prefix}{name}.", found)
        elif shape == _STRING:
            kind = _OPAQUE if name in _OPAQUE_FIELDS else _VALUE
            if field.is_repeated:
                found.extend((prefix, name, index, item, kind) for index, item in enumerate(value))
            else:
                found.append((prefix, name, None, value, kind))
    return found


def _map_strings(entries: Any, prefix: str, name: str, found: _Found) -> None:
    for key, item in entries.items():
        shown = key
        if isinstance(key, str):
            found.append((prefix, name, None, key, _KEY))
            shown = key if _problem(key) is None else "<rejected key>"
        if isinstance(item, str):
            found.append((prefix, name, shown, item, _VALUE))
        elif isinstance(item, Message):
            _strings(item, f"{prefix}{name}[{shown}].", found)
