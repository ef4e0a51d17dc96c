"""The webhook sender's own HTTP/1.x response reader: status, reuse, draining.

A receiver may answer with a length, chunked, until close, after a 100
Continue, or with garbage; the sender must read the status right, reuse the
connection only when the whole answer was read and the receiver keeps it
open, and never report a malformed answer as a success.
"""

from __future__ import annotations

import socket
import threading

import pytest

from accrue.webhooks.http import PeerClosed, ProtocolError, _Reader


def _read(raw: bytes, *, close: bool = True) -> tuple[int, bool]:
    ours, theirs = socket.socketpair()
    ours.settimeout(2)

    def answer() -> None:
        for n in range(0, len(raw), 7):  # in small pieces, as a network may
            theirs.sendall(raw[n : n + 7])
        if close:
            theirs.close()

    thread = threading.Thread(target=answer)
    thread.start()
    try:
        return _Reader(ours).response()
    finally:
        thread.join()
        ours.close()
        if not close:
            theirs.close()


def test_a_response_with_a_length_is_drained_and_the_connection_kept() -> None:
    raw = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx: y\r\n\r\nhello"
    assert _read(raw, close=False) == (200, True)


def test_no_content_keeps_the_connection() -> None:
    assert _read(b"HTTP/1.1 204 No Content\r\n\r\n", close=False) == (204, True)


def test_a_chunked_body_is_drained_with_its_trailers() -> None:
    raw = (
        b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;x=1\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n"
    )
    assert _read(raw, close=False) == (500, True)


def test_connection_close_and_http_1_0_are_not_reused() -> None:
    assert _read(b"HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 0\r\n\r\n") == (
        200,
        False,
    )
    assert _read(b"HTTP/1.0 202 Accepted\r\ncontent-length: 0\r\n\r\n") == (202, False)
    assert _read(
        b"HTTP/1.0 202 Accepted\r\nConnection: keep-alive\r\ncontent-length: 0\r\n\r\n",
        close=False,
    ) == (202, True)


def test_a_body_without_length_runs_to_close_and_is_not_reused() -> None:
    assert _read(b"HTTP/1.1 200 OK\r\n\r\nsome body") == (200, False)


def test_an_interim_100_continue_is_skipped() -> None:
    raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok"
    assert _read(raw, close=False) == (201, True)


def test_a_body_larger_than_the_limit_drops_the_connection() -> None:
    raw = b"HTTP/1.1 200 OK\r\ncontent-length: 10000000\r\n\r\n" + b"x" * 100
    assert _read(raw) == (200, False)


def test_garbage_and_early_close_are_errors_not_successes() -> None:
    with pytest.raises(ProtocolError):
        _read(b"SMTP ready\r\n\r\n")
    with pytest.raises(ProtocolError):
        _read(b"HTTP/1.1 abc OK\r\n\r\n")
    with pytest.raises(PeerClosed):
        _read(b"")
    with pytest.raises(PeerClosed):
        _read(b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\nshort")
