"""What handlers share: a request's idempotency identity and its stored answer.

Handlers open no transaction; the use cases they call do (see
`MutationRunner`). These helpers only say how a request is identified and
how its result becomes the stored, byte-identical response."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

from google.protobuf.message import Message

from accrue.platform.idempotency import Outcome, Replay, RequestIdentity
from accrue.platform.transport.call import CallContext

T = TypeVar("T")
M = TypeVar("M", bound=Message)


def request_fingerprint(request: Message) -> str:
    """Digest of the request without its request_id, stable across transports."""
    copy = type(request)()
    copy.CopyFrom(request)
    copy.ClearField("request_id")
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest()


class HandlerSupport:
    """Stateless: how a handler names its request to the use case's runner and
    turns the outcome back into a response."""

    def replay(self, call: CallContext, request: Any, convert: Callable[[T], Message]) -> Replay[T]:
        """For a use case that owns its transaction: the request's identity and how
        its result becomes the stored response (deterministic bytes, so a retry
        is answered byte for byte)."""
        identity = None
        if request.request_id:
            identity = RequestIdentity(
                tenant_id=call.tenant_id,
                request_id=request.request_id,
                method=call.method,
                fingerprint=request_fingerprint(request),
            )
        return Replay(identity, lambda value: convert(value).SerializeToString(deterministic=True))

    @staticmethod
    def answer(outcome: Outcome[T], response_type: type[M], convert: Callable[[T], M]) -> M:
        """The response: the stored bytes of a replay; for a fresh result, the
        bytes just stored for it (parsing them in the protobuf runtime is far
        cheaper than converting the result a second time in Python, and the
        first answer is then byte for byte the one a retry gets); else the
        fresh result converted."""
        if outcome.replayed is not None:
            return response_type.FromString(outcome.replayed)
        if outcome.encoded is not None:
            return response_type.FromString(outcome.encoded)
        assert outcome.value is not None
        return convert(outcome.value)
