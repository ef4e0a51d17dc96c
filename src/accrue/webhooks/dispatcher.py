"""Fan-out of events into deliveries, and their delivery with retries.

Two steps, each its own transaction so no HTTP call ever runs inside one:

1. Fan-out, per tenant: the events after the tenant's cursor (the outbox
   reader's "after sequence, in sequence order, only sequenced ones"), one
   delivery per matching enabled endpoint, and the cursor moved, in one
   commit - each event becomes each endpoint's delivery exactly once.
2. Delivery, per endpoint: claim the endpoint (a lease, so one dispatcher at
   a time sends its deliveries, in order), send the due deliveries, record
   every outcome in one commit. A crash between send and record sends again:
   at least once, with the event id as `webhook-id` for the receiver's
   de-duplication.

Endpoints are served by a bounded pool, one job per endpoint at a time and a
time budget per job, so a slow or dead endpoint holds one worker for at most
one budget while every other endpoint and tenant keeps going.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from accrue.kernel.clock import Clock
from accrue.kernel.errors import AccrueError
from accrue.kernel.events import EventQuery, StoredEvent
from accrue.kernel.ids import IdGenerator
from accrue.webhooks.model import (
    DISABLED_FAILING,
    AttemptResult,
    Delivery,
    DeliveryStatus,
    Endpoint,
    Ordering,
    RetryPolicy,
    signed_headers,
)
from accrue.webhooks.ports import DueEndpoint, Request, Sender, WebhookUnitOfWorkFactory
from accrue.webhooks.service import UrlVetter, new_delivery

log = logging.getLogger("accrue.webhooks")

EventEncoder = Callable[[StoredEvent], bytes]
_BODY_CACHE = 4096


@dataclass(frozen=True, slots=True)
class DispatchLimits:
    workers: int = 8
    per_endpoint_concurrency: int = 4
    batch: int = 500
    fanout_batch: int = 1000
    timeout_seconds: float = 10.0
    job_seconds: float = 5.0


class WebhookDispatcher:
    def __init__(
        self,
        *,
        uow_factory: WebhookUnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        vetter: UrlVetter,
        sender: Sender,
        encode_event: EventEncoder,
        policy: RetryPolicy,
        limits: DispatchLimits,
        rng: random.Random | None = None,
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._ids = ids
        self._vetter = vetter
        self._sender = sender
        self._encode = encode_event
        self._policy = policy
        self._limits = limits
        self._rng = rng or random.Random()  # noqa: S311 - retry jitter, not a secret
        self._pool = ThreadPoolExecutor(limits.workers, thread_name_prefix="webhook")
        self._running: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        # Set when there may be work: a job ended, or events were committed
        # (the event bell, see `wake`), so the loop need not wait for its poll.
        self._wake = threading.Event()
        self._bodies: dict[str, bytes] = {}
        self._rung: set[str] = set()
        self._rang = threading.Event()
        # Tenants a pass has found behind their fan-out cursor (which a tenant's
        # first endpoint makes); None before the first pass. Only their events
        # can make deliveries, so after that pass the bell of any other tenant
        # is ignored: most tenants have no endpoint, and each of their commits
        # would otherwise cost the fan-out thread a query and the committing
        # threads the GIL hand-overs. A tenant not yet seen (a new endpoint, or
        # one quiet since this process started) is found by the next sweep.
        # Replaced, never mutated, so `wake` reads it without the lock.
        self._fanned: frozenset[str] | None = None
        self._lease = timedelta(seconds=limits.job_seconds + limits.timeout_seconds * 2 + 30)

    # Loop

    def run(self, stop: threading.Event, *, poll_seconds: float = 0.1) -> None:
        """Fan out and deliver until `stop` is set; errors are logged, never fatal.

        Fan-out runs in a thread of its own, so deliveries start while a large
        backlog is still being fanned out. Committed events ring the event
        bell (`wake`) and their tenants, once seen with an endpoint, are
        fanned out at once; every tenant is checked once per `poll_seconds`
        as well (one query), for events committed by other processes that
        rang no bell here and for tenants not yet seen.
        """
        fanning = threading.Thread(
            target=self._fan_out_loop, args=(stop, poll_seconds), name="webhook-fanout"
        )
        fanning.start()
        try:
            while not stop.is_set():
                try:
                    busy = self.start_due()
                except Exception:
                    log.exception("webhook dispatch pass failed")
                    busy = 0
                if not busy:
                    # A fan-out or a finished job may leave work: look again then.
                    self._wake.wait(poll_seconds)
                    self._wake.clear()
        finally:
            self._rang.set()
            fanning.join()

    def _fan_out_loop(self, stop: threading.Event, poll_seconds: float) -> None:
        next_sweep = 0.0
        while not stop.is_set():
            now = time.monotonic()
            tenants: Collection[str] | None
            if now >= next_sweep:
                next_sweep = now + poll_seconds
                self._take_rung()
                tenants = None
            else:
                tenants = self._take_rung()
            try:
                made = self.fan_out(tenants)
            except Exception:
                log.exception("webhook fan-out pass failed")
                made = 0
            if made:
                self._wake.set()
            elif not self._rung:
                self._rang.wait(max(0.0, next_sweep - time.monotonic()))
                self._rang.clear()
        self._wake.set()  # the delivery loop need not sleep out its poll to see `stop`

    def wake(self, tenant_ids: Collection[str] = ()) -> None:
        """Look for work now: events of these tenants committed or were sequenced."""
        if tenant_ids:
            fanned = self._fanned
            if fanned is not None and fanned.isdisjoint(tenant_ids):
                return  # none has been seen with an endpoint; the next sweep looks
            with self._lock:
                self._rung.update(tenant_ids)
        self._rang.set()

    def _take_rung(self) -> set[str]:
        with self._lock:
            rung, self._rung = self._rung, set()
        return rung

    def step(self, tenants: Collection[str] | None = None) -> bool:
        """One pass: fan out new events (of `tenants`, or all), start jobs for due endpoints."""
        made = self.fan_out(tenants)
        started = self.start_due()
        return bool(made or started)

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until no endpoint job is running (tests and `--once`)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._running and time.monotonic() < deadline:
                self._idle.wait(0.05)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # Fan-out

    def fan_out(self, only: Collection[str] | None = None) -> int:
        """Fan out the tenants in `only` (all tenants behind their cursor when None)."""
        if only is not None and not only:
            return 0
        with self._uow_factory(write=False) as uow:
            behind = list(uow.webhooks.tenants_behind())
        if self._fanned is None or not self._fanned.issuperset(behind):
            self._fanned = (self._fanned or frozenset()).union(behind)
        made = 0
        for tenant_id in behind:
            if only is None or tenant_id in only:
                made += self._fan_out_tenant(tenant_id)
        return made

    def _fan_out_tenant(self, tenant_id: str) -> int:
        made = 0
        while True:
            with self._uow_factory(write=True) as uow:
                locked = uow.webhooks.lock_cursor(tenant_id)
                if locked is None:
                    return made  # another dispatcher is fanning this tenant out
                batch = uow.webhooks.event_heads(
                    tenant_id, after=locked, limit=self._limits.fanout_batch
                )
                if not batch:
                    return made
                now = self._clock.now()
                endpoints = uow.webhooks.enabled_endpoints(tenant_id)
                deliveries = [
                    new_delivery(self._ids, endpoint, event, now=now, manual=False)
                    for event in batch
                    for endpoint, start_after in endpoints
                    if event.sequence > start_after and endpoint.matches(event.type)
                ]
                uow.webhooks.add_deliveries(deliveries)
                uow.webhooks.set_cursor(tenant_id, batch[-1].sequence)
                uow.commit()
            made += len(deliveries)
            if len(batch) < self._limits.fanout_batch:
                return made

    # Delivery

    def start_due(self) -> int:
        now = self._clock.now()
        with self._uow_factory(write=False) as uow:
            due = uow.webhooks.due_endpoints(now, limit=self._limits.workers * 4)
        started = 0
        for item in due:
            key = (item.tenant_id, item.endpoint_id)
            with self._lock:
                if key in self._running or len(self._running) >= self._limits.workers:
                    continue
                self._running.add(key)
            self._pool.submit(self._job, item)
            started += 1
        return started

    def _job(self, item: DueEndpoint) -> None:
        try:
            self.deliver_endpoint(item.tenant_id, item.endpoint_id)
        except Exception:
            log.exception(
                "webhook delivery job failed",
                extra={"tenant_id": item.tenant_id, "endpoint_id": item.endpoint_id},
            )
        finally:
            with self._idle:
                self._running.discard((item.tenant_id, item.endpoint_id))
                self._idle.notify_all()
            self._wake.set()

    def deliver_endpoint(self, tenant_id: str, endpoint_id: str) -> int:
        """Send what is due for one endpoint; returns how many attempts were made.

        Recording a batch's outcomes and taking the next due batch is one
        transaction (the lease is kept), so a busy endpoint costs one write
        per batch rather than two.
        """
        started = time.monotonic()
        attempts = 0
        claimed = self._claim(tenant_id, endpoint_id)
        while claimed is not None:
            endpoint, due = claimed
            outcomes: list[tuple[Delivery, AttemptResult]] = []
            try:
                outcomes = self._send_all(
                    endpoint, due, deadline=started + self._limits.job_seconds
                )
            except BaseException:
                self._record(endpoint, outcomes, more=False)
                raise
            attempts += len(outcomes)
            more = (
                len(due) >= self._limits.batch
                and all(r.succeeded for _d, r in outcomes)
                and time.monotonic() - started < self._limits.job_seconds
            )
            claimed = self._record(endpoint, outcomes, more=more)
        return attempts

    def _claim(self, tenant_id: str, endpoint_id: str) -> tuple[Endpoint, list[Delivery]] | None:
        now = self._clock.now()
        with self._uow_factory(write=True) as uow:
            if not uow.webhooks.claim_endpoint(
                tenant_id, endpoint_id, now=now, until=now + self._lease
            ):
                return None
            endpoint = uow.webhooks.get_endpoint(tenant_id, endpoint_id)
            due = (
                []
                if endpoint is None
                else list(uow.webhooks.due_deliveries(endpoint, now, limit=self._limits.batch))
            )
            if endpoint is None or not due:
                uow.webhooks.release_endpoint(tenant_id, endpoint_id)
                uow.commit()
                return None
            uow.commit()
        return endpoint, due

    def _events(self, tenant_id: str, deliveries: Sequence[Delivery]) -> dict[int, StoredEvent]:
        """The deliveries' events, read through the outbox reader in runs of sequences."""
        sequences = sorted({d.event_sequence for d in deliveries})
        found: dict[int, StoredEvent] = {}
        with self._uow_factory(write=False) as uow:
            start = 0
            while start < len(sequences):
                end = start
                while end + 1 < len(sequences) and sequences[end + 1] - sequences[start] < 500:
                    end += 1
                low, high = sequences[start], sequences[end]
                for event in uow.events.list(
                    tenant_id,
                    EventQuery(after_sequence=low - 1, up_to_sequence=high, limit=high - low + 1),
                ):
                    found[event.sequence] = event
                start = end + 1
        return found

    def _send_all(
        self, endpoint: Endpoint, due: Sequence[Delivery], *, deadline: float
    ) -> list[tuple[Delivery, AttemptResult]]:
        """Attempt the due deliveries until one fails in order, or the job's time is up.

        Deliveries not attempted by the deadline stay pending as they were
        (no outcome is recorded for them), so a slow endpoint holds its
        worker for about one job budget plus one timeout, never a whole batch.
        """
        events = self._events(endpoint.tenant_id, due)
        try:
            address = self._vetter.vet(endpoint.url)
        except AccrueError as refused:
            return [(d, AttemptResult(0, 0, f"refused: {refused.message}")) for d in due]
        manual = [d for d in due if d.manual]
        automatic = [d for d in due if not d.manual]
        outcomes: list[tuple[Delivery, AttemptResult]] = []
        if endpoint.ordering is Ordering.SEQUENCE:
            for delivery in automatic:
                if outcomes and time.monotonic() >= deadline:
                    return outcomes
                result = self._attempt(endpoint, address, delivery, events)
                outcomes.append((delivery, result))
                if not result.succeeded:
                    break
            # Redeliveries and replays also go in sequence order, one at a time,
            # but a failing one does not hold the others back.
            for delivery in manual:
                if outcomes and time.monotonic() >= deadline:
                    return outcomes
                outcomes.append((delivery, self._attempt(endpoint, address, delivery, events)))
            return outcomes
        rest = manual + automatic
        if rest:
            width = max(1, min(self._limits.per_endpoint_concurrency, len(rest)))
            with ThreadPoolExecutor(width, thread_name_prefix="webhook-send") as pool:
                for first in range(0, len(rest), width):
                    if outcomes and time.monotonic() >= deadline:
                        break
                    chunk = rest[first : first + width]
                    results = pool.map(lambda d: self._attempt(endpoint, address, d, events), chunk)
                    outcomes.extend(zip(chunk, results, strict=True))
        return outcomes

    def _attempt(
        self,
        endpoint: Endpoint,
        address: str,
        delivery: Delivery,
        events: dict[int, StoredEvent],
    ) -> AttemptResult:
        event = events.get(delivery.event_sequence)
        if event is None or event.id != delivery.event_id:
            return AttemptResult(0, 0, "event not readable")
        body = self._body(event)
        now = self._clock.now()
        headers = signed_headers(
            secrets_=endpoint.signing_secrets(now), message_id=event.id, now=now, body=body
        )
        request = Request(url=endpoint.url, address=address, headers=headers, body=body)
        return self._sender.send(request, timeout_seconds=self._limits.timeout_seconds)

    def _body(self, event: StoredEvent) -> bytes:
        """The event's JSON, encoded once for every endpoint and retry that sends it.

        Proto JSON encoding costs more CPU than signing and sending; a small
        bounded cache keeps the recently sent events (a fan-out to several
        endpoints of a tenant sends the same events at about the same time).
        """
        body = self._bodies.get(event.id)
        if body is None:
            body = self._encode(event)
            if len(self._bodies) >= _BODY_CACHE:
                self._bodies.clear()
            self._bodies[event.id] = body
        return body

    def _record(
        self,
        endpoint: Endpoint,
        outcomes: Sequence[tuple[Delivery, AttemptResult]],
        *,
        more: bool,
    ) -> tuple[Endpoint, list[Delivery]] | None:
        """Store the outcomes; with `more`, keep the lease and return the next due batch."""
        now = self._clock.now()
        with self._uow_factory(write=True) as uow:
            current = uow.webhooks.get_endpoint(endpoint.tenant_id, endpoint.id, for_update=True)
            if current is None:
                uow.commit()  # deleted meanwhile; its deliveries went with it
                return None
            after = [self._after(d, result, now) for d, result in outcomes]
            uow.webhooks.update_deliveries(after)
            updated = self._endpoint_after(current, [r for _d, r in outcomes], now)
            if updated is not current:
                uow.webhooks.update_endpoint(updated)
                if current.enabled and not updated.enabled:
                    failed = uow.webhooks.fail_pending(updated.tenant_id, updated.id, now=now)
                    log.warning(
                        "webhook endpoint disabled after failing for the retry window",
                        extra={"endpoint_id": updated.id, "failed_deliveries": failed},
                    )
            retry_after = _held_until(updated, after)
            if more and retry_after is None:
                due = list(uow.webhooks.due_deliveries(updated, now, limit=self._limits.batch))
                if due:
                    uow.webhooks.extend_lease(
                        endpoint.tenant_id, endpoint.id, until=now + self._lease
                    )
                    uow.commit()
                    return updated, due
            uow.webhooks.finish_endpoint(endpoint.tenant_id, endpoint.id, retry_after=retry_after)
            uow.commit()
        return None

    def _after(self, delivery: Delivery, result: AttemptResult, now: datetime) -> Delivery:
        attempts = delivery.attempts + 1
        common = replace(
            delivery,
            attempts=attempts,
            last_response_code=result.status_code,
            last_latency_ms=result.latency_ms,
            last_error=result.error,
            last_attempt_time=now,
            first_attempt_time=delivery.first_attempt_time or now,
        )
        if result.succeeded:
            return replace(common, status=DeliveryStatus.SUCCEEDED, next_attempt_time=None)
        if self._policy.given_up(since=common.first_attempt_time, now=now):
            return replace(common, status=DeliveryStatus.FAILED, next_attempt_time=None)
        return replace(
            common,
            next_attempt_time=self._policy.next_attempt(attempts=attempts, now=now, rng=self._rng),
        )

    def _endpoint_after(
        self, endpoint: Endpoint, results: Sequence[AttemptResult], now: datetime
    ) -> Endpoint:
        if not results:
            return endpoint
        if any(r.succeeded for r in results):
            if endpoint.failing_since is None:
                return endpoint
            return replace(endpoint, failing_since=None)
        since = endpoint.failing_since or now
        if endpoint.enabled and self._policy.given_up(since=since, now=now):
            return replace(
                endpoint,
                failing_since=since,
                enabled=False,
                disabled_reason=DISABLED_FAILING,
                update_time=now,
            )
        if endpoint.failing_since is None:
            return replace(endpoint, failing_since=since)
        return endpoint


def _held_until(endpoint: Endpoint, after: Sequence[Delivery]) -> datetime | None:
    """In sequence order, a failed oldest delivery holds the rest until its retry."""
    if endpoint.ordering is not Ordering.SEQUENCE or not endpoint.enabled:
        return None
    automatic = [d for d in after if not d.manual]
    if automatic and automatic[-1].status is DeliveryStatus.PENDING:
        return automatic[-1].next_attempt_time
    return None
