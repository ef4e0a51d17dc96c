"""A client stream that ends after the call was cancelled is a cut-off upload."""

from __future__ import annotations

import pytest

from accrue.billing.v1 import reconciliation_pb2 as pb
from accrue.platform.transport.pipeline import RequestStreamBroken, _ValidatedStream


def _messages() -> list[pb.ImportSettlementReportRequest]:
    return [pb.ImportSettlementReportRequest(chunk=b"a,b\n") for _ in range(2)]


def test_a_stream_that_ends_while_the_call_is_alive_ends_normally() -> None:
    stream = _ValidatedStream(iter(_messages()), lambda _m: None, lambda: True)
    assert len(list(stream)) == 2
    assert stream.failure is None


def test_a_stream_that_ends_after_the_call_was_cancelled_is_broken_not_complete() -> None:
    stream = _ValidatedStream(iter(_messages()), lambda _m: None, lambda: False)
    assert next(stream).chunk == b"a,b\n"
    assert next(stream).chunk == b"a,b\n"
    with pytest.raises(RequestStreamBroken):
        next(stream)
    assert isinstance(stream.failure, RequestStreamBroken)
    with pytest.raises(RequestStreamBroken):  # and stays broken
        next(stream)
