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
    repeats its ids, keys and property values many times over), and a path is
    only written out for a string that fails.
    """
    walk = _Walk()
    walk.message(message, None)
    return walk.violations


_VALUE, _KEY, _MAP_VALUE, _OPAQUE = range(4)
_MAP, _MESSAGE, _STRING, _OTHER = range(4)
# A path not yet written out: (parent, field name, place); place is an index,
# a map key (shown only if it passes) or None; parent is None at the top.
_Path = tuple[Any, str, Any]


class _Walk:
    """One request's strings, judged as they are met."""

    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []
        self._judged: dict[str, str | None] = {}

    def judge(self, text: str) -> str | None:
        try:
            return self._judged[text]
        except KeyError:
            problem = self._judged[text] = _problem(text)
            return problem

    def message(self, message: Message, parent: _Path | None) -> None:
        for field, value in message.ListFields():
            shape = _shape(field)
            name = field.name
            if shape == _MAP:
                self.map(value, parent, name)
            elif shape == _MESSAGE:
                if field.is_repeated:
                    for index, item in enumerate(value):
                        self.message(item, (parent, name, index))
                else:
                    self.message(value, (parent, name, None))
            elif shape == _STRING:
                kind = _OPAQUE if name in _OPAQUE_FIELDS else _VALUE
                if field.is_repeated:
                    for index, item in enumerate(value):
                        self.text(item, kind, (parent, name, index))
                else:
                    self.text(value, kind, (parent, name, None))

    def map(self, entries: Any, parent: _Path | None, name: str) -> None:
        for key, item in entries.items():
            if isinstance(key, str):
                self.text(key, _KEY, (parent, name, None))
            if isinstance(item, str):
                self.text(item, _MAP_VALUE, (parent, name, key))
            elif isinstance(item, Message):
                self.message(item, (parent, name, self.shown(key)))

    def text(self, text: str, kind: int, path: _Path) -> None:
        problem = _problem(text, opaque=True) if kind == _OPAQUE else self.judge(text)
        if problem is None:
            return
        if kind == _MAP_VALUE:
            parent, name, key = path
            path = (parent, name, self.shown(key))
        described = f"a key {problem}" if kind == _KEY else problem
        self.violations.append(FieldViolation(_written(path), described))

    def shown(self, key: object) -> object:
        """A map key as a path may show it: never one that is itself refused."""
        if isinstance(key, str) and self.judge(key) is not None:
            return "<rejected key>"
        return key


def _written(path: _Path) -> str:
    parts = []
    node: _Path | None = path
    while node is not None:
        parent, name, place = node
        parts.append(name if place is None else f"{name}[{place}]")
        node = parent
    return ".".join(reversed(parts))


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
