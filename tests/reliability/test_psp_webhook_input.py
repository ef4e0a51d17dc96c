"""A signed PSP webhook whose body cannot be read is a 400 with a reason, never
a 500 (which a PSP redelivers forever), and changes nothing."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.reliability.test_psp_webhooks import (
    ENDPOINT,
    _charge_event,
    _signed,
    _webhook_ids,
    _webhook_server,
)


def _event_with(**changes: object) -> bytes:
    """A well-formed charge event (for a charge Accrue never made), with `changes`."""
    body, _charge_id, _fee = _charge_event(
        "evt_1", key="pay_unknown", amount_minor=100, currency_code="USD", succeeds=True
    )
    return json.dumps({**json.loads(body), **changes}).encode()


UNREADABLE = {
    "nested a million levels deep": b"[" * 1_000_000,
    "nested object 100,000 levels deep": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "deep inside data": _event_with(x=[]).replace(b"[]", b"[" * 50_000 + b"]" * 50_000),
    "NUL in the event id": _event_with(id="evt_\u0000"),
    "lone surrogate in the event id": _event_with(id="evt_\ud800"),
    "NUL in a key": _event_with(**{"a\u0000": 1}),
    "not UTF-8": b'{"id": "\xff\xfe"}',
    "data of the wrong kind": _event_with(data="charge"),
}


@pytest.mark.parametrize("case", sorted(UNREADABLE))
def test_an_unreadable_signed_webhook_is_a_400_with_a_reason(database_url: str, case: str) -> None:
    body = UNREADABLE[case]
    with (
        _webhook_server(database_url) as srv,
        httpx.Client(base_url=srv.connect_url, timeout=30) as client,
    ):
        response = client.post(ENDPOINT, content=body, headers=_signed(body))
        assert response.status_code == 400, (case, response.status_code, response.text)
        assert response.json()["error"] == "malformed_event"
        assert _webhook_ids(srv) == 0
        # The same event without the defect is read (and ignored: no such charge).
        if case.endswith("event id"):
            body = _event_with()
            response = client.post(ENDPOINT, content=body, headers=_signed(body))
            assert response.status_code == 200, response.text
