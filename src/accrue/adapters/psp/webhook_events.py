"""Reading a PSP webhook body (already signature-checked) into a `PspEvent`."""

from __future__ import annotations

import json
from typing import Any

from accrue.adapters.psp.http_gateway import charge_from_json, refund_from_json
from accrue.adapters.psp.webhook_signing import EVENT_TYPES
from accrue.services.psp_webhooks import PspEvent


class MalformedEvent(ValueError):
    """The body is not an event this PSP sends."""


def parse_event(body: bytes) -> PspEvent:
    try:
        envelope: Any = json.loads(body)
        event_id, type_, data = envelope["id"], envelope["type"], envelope["data"]
        if not isinstance(event_id, str) or not event_id or type_ not in EVENT_TYPES:
            raise MalformedEvent("unknown event id or type")
        if type_.startswith("charge."):
            return PspEvent(id=event_id, type=type_, charge=charge_from_json(data))
        return PspEvent(id=event_id, type=type_, refund=refund_from_json(data))
    except MalformedEvent:
        raise
    except (ValueError, KeyError, TypeError) as error:
        raise MalformedEvent(f"malformed event: {error}") from error
