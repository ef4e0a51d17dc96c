"""Read and mutation helpers shared by every handler."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

from google.protobuf.message import Message

from accrue.platform.idempotency import MutationRunner, Outcome, Replay, RequestIdentity
from accrue.platform.ports import TransactionFactory
from accrue.platform.transport.call import CallContext

R = TypeVar("R")
T = TypeVar("T")
M = TypeVar("M", bound=Message)


def request_fingerprint(request: Message) -> str:
    """Digest of the request without its request_id, stable across transports."""
    copy = type(request)()
    copy.CopyFrom(request)
    copy.ClearField("request_id")
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest()


class HandlerSupport:
    def __init__(self, uow_factory: TransactionFactory, runner: MutationRunner) -> None:
        self._uow_factory = uow_factory
        self._runner = runner

    def read(self, work: Callable[[Any], R]) -> R:
        with self._uow_factory(write=False) as uow:
            return work(uow)

    def stored_response(self, call: CallContext, request: Any) -> bytes | None:
        """The stored response of an earlier request with this request_id, if any.

        For mutations that commit in several steps before their final one: a
        replay must be answered before any step runs again, and a reused key
        refused before anything changes.
        """
        if not request.request_id:
            return None
        identity = RequestIdentity(
            tenant_id=call.tenant_id,
            request_id=request.request_id,
            method=call.method,
            fingerprint=request_fingerprint(request),
        )
        return self._runner.stored(identity)

    def mutate(
        self,
        call: CallContext,
        request: Any,
        response_type: type[M],
        work: Callable[[Any], M],
    ) -> M:
        """Run `work` once per request_id and answer with the stored bytes on a retry."""
        identity = None
        if request.request_id:
            identity = RequestIdentity(
                tenant_id=call.tenant_id,
                request_id=request.request_id,
                method=call.method,
                fingerprint=request_fingerprint(request),
            )
        outcome = self._runner.run(
            identity, work, encode=lambda message: message.SerializeToString(deterministic=True)
        )
        if outcome.replayed is not None:
            return response_type.FromString(outcome.replayed)
        assert outcome.value is not None
        return outcome.value

    def replay(self, call: CallContext, request: Any, convert: Callable[[T], Message]) -> Replay[T]:
        """For a use case that owns its transaction: the request's identity and how
        its result becomes the stored response (the same bytes `mutate` stores)."""
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
        """The response: the stored bytes of a replay, or the fresh result converted."""
        if outcome.replayed is not None:
            return response_type.FromString(outcome.replayed)
        assert outcome.value is not None
        return convert(outcome.value)
