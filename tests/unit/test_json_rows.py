"""The JSON text of multi-row writes: exact amounts, instants with their offset, bytes as hex."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from accrue.platform.db.json_rows import encode_rows


def test_rows_keep_amounts_instants_and_bytes_exactly() -> None:
    eastern = timezone(timedelta(hours=-5))
    rows = [
        ["ten_1", 9_223_372_036_854_775_807, -1, None, True, {"k": "v"}, [1, 2]],
        [datetime(2026, 3, 8, 1, 59, 59, 999_999, tzinfo=eastern), b"\x00\xffA", "\u00e9"],
    ]
    decoded = json.loads(encode_rows(rows))
    assert decoded[0] == ["ten_1", 9_223_372_036_854_775_807, -1, None, True, {"k": "v"}, [1, 2]]
    assert decoded[1] == ["2026-03-08T01:59:59.999999-05:00", "00ff41", "\u00e9"]
    assert datetime.fromisoformat(decoded[1][0]) == rows[1][0]  # the same instant


def test_a_naive_instant_is_written_as_utc_never_without_an_offset() -> None:
    (row,) = json.loads(encode_rows([[datetime(2026, 1, 1, 12, 0)]]))
    assert row == ["2026-01-01T12:00:00+00:00"]
    assert datetime.fromisoformat(row[0]) == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [2**64, Decimal("1.10"), object()],
    ids=["beyond 64 bits", "decimal", "object"],
)
def test_values_that_cannot_be_stored_exactly_are_refused(value: object) -> None:
    with pytest.raises(TypeError):
        encode_rows([[value]])


def test_a_dataclass_is_refused_not_written_as_an_object() -> None:
    @dataclass
    class Money:
        amount_minor: int

    with pytest.raises(TypeError, match="Money"):
        encode_rows([[Money(100)]])
