"""Reading a PSP webhook body (already signature-checked) into a `PspEvent`.

Anything this cannot read is a `MalformedEvent` (the endpoint answers 400, so
the PSP does not redeliver it forever): JSON nested deeper than any event we
know (it would exhaust the parser's recursion), and text no database can
store (NUL characters, lone surrogates from `\\ud800` escapes).
"""

from __future__ import annotations

import json
import re
from typing import Any

from accrue.payments.psp.http_gateway import charge_from_json, refund_from_json
from accrue.payments.psp.webhook_signing import EVENT_TYPES
from accrue.payments.psp_webhooks import PspEvent

# Our events are three levels deep; this leaves room for PSP additions.
MAX_JSON_DEPTH = 32
_JSON_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class MalformedEvent(ValueError):
    """The body is not an event this PSP sends."""


def parse_event(body: bytes) -> PspEvent:
    if _nesting_depth(body) > MAX_JSON_DEPTH:
        raise MalformedEvent(f"malformed event: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        envelope: Any = json.loads(body)
        _refuse_unstorable_text(envelope)
        event_id, type_, data = envelope["id"], envelope["type"], envelope["data"]
        if not isinstance(event_id, str) or not event_id or type_ not in EVENT_TYPES:
            raise MalformedEvent("unknown event id or type")
        if type_.startswith("charge."):
            return PspEvent(id=event_id, type=type_, charge=charge_from_json(data))
        return PspEvent(id=event_id, type=type_, refund=refund_from_json(data))
    except MalformedEvent:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as error:
        raise MalformedEvent(f"malformed event: {error}") from error


def _nesting_depth(body: bytes) -> int:
    """How deep `body`'s arrays and objects nest, without parsing it (stops early)."""
    depth = deepest = 0
    for bracket in _JSON_STRINGS.sub(b"", body).translate(None, _NOT_BRACKETS):
        if bracket in b"[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                break
        else:
            depth -= 1
    return deepest


def _refuse_unstorable_text(value: Any) -> None:
    """Every string of the parsed body (keys too) must be storable text."""
    strings: list[str] = []
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            strings.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            strings.append(item)
    for text in strings:
        if "\x00" in text:
            raise MalformedEvent("malformed event: a string holds a NUL character")
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as error:
                raise MalformedEvent("malformed event: a string is not valid Unicode") from error
