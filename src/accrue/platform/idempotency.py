"""Idempotent mutations (AIP-155), inside the same transaction as their effect.

The stored response is the exact bytes first sent, written in the unit of
work that made the change: a crash can never leave a change without its key
or a key without its change. A retry while the first attempt is still running
is told to come back (ABORTED) rather than queued behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from accrue.kernel.clock import Clock
from accrue.kernel.errors import IdempotencyKeyReused, IdempotencyRequestInFlight
from accrue.platform.ports import StoredResponse, TransactionFactory

T = TypeVar("T")

IN_FLIGHT_RETRY_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class RequestIdentity:
    """Who asked what: the key the client chose and a digest of the request."""

    tenant_id: str
    request_id: str
    method: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Replay(Generic[T]):
    """How a use case's mutation is answered again: who asked (None without a
    request_id) and how its result is encoded into the stored response."""

    identity: RequestIdentity | None
    encode: Callable[[T], bytes]


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """Either a fresh result (`value`, and `encoded`, the response bytes stored
    for it) or the stored bytes of an earlier one (`replayed`)."""

    value: T | None
    replayed: bytes | None
    encoded: bytes | None = None


class MutationRunner:
    def __init__(self, uow_factory: TransactionFactory, clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._clock = clock

    def run(
        self,
        identity: RequestIdentity | None,
        work: Callable[[Any], T],
        encode: Callable[[T], bytes],
    ) -> Outcome[T]:
        """Run `work` in one transaction, at most once per request identity.

        Optimistic: a fresh request (by far the common case) is not looked up
        first. Its stored response is inserted with its effect, and the unique
        (tenant, request_id) key refuses a second one, so a request that was
        already done fails somewhere in that transaction (the key, or the work
        itself, e.g. finalizing an invoice twice), is rolled back whole, and is
        then answered from the stored response. That saves a round trip per
        mutation and costs one only on failures.
        """
        if identity is None:
            with self._uow_factory(write=True) as uow:
                value = work(uow)
                uow.commit()
                return Outcome(value=value, replayed=None)
        try:
            with self._uow_factory(write=True) as uow:
                if not uow.idempotency.lock(identity.tenant_id, identity.request_id):
                    raise IdempotencyRequestInFlight(
                        "a request with this request_id is still in progress",
                        metadata={"request_id": identity.request_id},
                        retry_after_seconds=IN_FLIGHT_RETRY_SECONDS,
                    )
                value = work(uow)
                encoded = encode(value)
                uow.idempotency.add(
                    identity.tenant_id,
                    identity.request_id,
                    StoredResponse(identity.method, identity.fingerprint, encoded),
                    create_time=self._clock.now(),
                )
                uow.commit()
                return Outcome(value=value, replayed=None, encoded=encoded)
        except IdempotencyRequestInFlight:
            raise
        except Exception:
            stored = self.stored(identity)  # refuses a key reused for another request
            if stored is None:
                raise
            return Outcome(value=None, replayed=stored)

    def stored(self, identity: RequestIdentity) -> bytes | None:
        """The stored response for `identity` without running anything."""
        with self._uow_factory(write=False) as uow:
            stored = uow.idempotency.get(identity.tenant_id, identity.request_id)
        if stored is None:
            return None
        _check_same(stored, identity)
        return stored.response


def _check_same(stored: StoredResponse, identity: RequestIdentity) -> None:
    if stored.method != identity.method or stored.fingerprint != identity.fingerprint:
        raise IdempotencyKeyReused(
            "request_id was already used for a different request",
            metadata={"request_id": identity.request_id, "first_method": stored.method},
        )
