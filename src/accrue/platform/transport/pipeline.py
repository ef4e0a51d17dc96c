"""The cross-cutting layer both transports run every call through.

Order: authenticate (no other work for a stranger), validate against the
contract's protovalidate rules (and every string against `untrusted_text`),
open a sealed page token, run the handler, seal the next page token. Anything unexpected becomes
INTERNAL with an opaque correlation id (the trace id); the stack trace goes
to the log, never to the wire.

A client stream is authenticated and rate-limited once, before its first
message is read; each message is then validated as the handler pulls it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import protovalidate
from google.protobuf.message import Message
from opentelemetry import trace

from accrue.kernel.errors import AccrueError, FieldViolation, InternalError, ValidationFailed
from accrue.platform.resilience.rpc_limits import NO_LIMITS, RateLimits
from accrue.platform.transport.call import CallContext
from accrue.platform.transport.page_tokens import PageTokenSeal
from accrue.platform.transport.routes import Route
from accrue.platform.transport.untrusted_text import text_violations

log = logging.getLogger("accrue.rpc")


def current_trace_id() -> str:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""


class Authenticator(Protocol):
    """Resolves a call's `authorization` header to its tenant (tenancy implements it)."""

    def tenant_for(self, authorization: str | None) -> str: ...


@dataclass
class _CallState:
    trace_id: str
    tenant_id: str = ""
    outcome: str = "INTERNAL"


def _always_active() -> bool:
    return True


class CallProbe(Protocol):
    def end(self, outcome: str, trace_id: str, seconds: float) -> None: ...


class CallObserver(Protocol):
    """Sees every call once: `begin` as it enters, `end` on the probe as it leaves."""

    def begin(self, rpc: str, transport: str) -> CallProbe: ...


class _Unobserved:
    def begin(self, rpc: str, transport: str) -> CallProbe:
        return self

    def end(self, outcome: str, trace_id: str, seconds: float) -> None:
        pass


NO_OBSERVER: CallObserver = _Unobserved()


class Invoker:
    def __init__(
        self,
        authenticator: Authenticator,
        limits: RateLimits = NO_LIMITS,
        *,
        page_tokens: PageTokenSeal | None = None,
        observer: CallObserver = NO_OBSERVER,
    ) -> None:
        self._authenticator = authenticator
        self._limits = limits
        self._observer = observer
        self._validator = protovalidate.Validator()
        # None only where no list RPC is served (tests of the pipeline itself).
        self._page_tokens = page_tokens

    def invoke(
        self, route: Route, request: Message, metadata: Mapping[str, str], *, transport: str
    ) -> Message:
        with self._guard(route, transport) as state:
            call = self._prepare(route, request, metadata, state, is_active=_always_active)
            seal = self._page_tokens
            if seal is not None:
                seal.open_request(request, tenant_id=call.tenant_id, method=call.method)
            response: Message = route.handler(request, call)
            if seal is not None:
                seal.seal_response(response, tenant_id=call.tenant_id, method=call.method)
            state.outcome = "OK"
            return response

    def invoke_stream(
        self,
        route: Route,
        request: Message,
        metadata: Mapping[str, str],
        *,
        transport: str,
        is_active: Callable[[], bool],
    ) -> Iterator[Message | None]:
        """Run a server-streaming handler; `None` items are idle ticks, not messages.

        The ticks give the transport a moment to notice a cancelled client
        while no event is flowing, so an idle stream never pins a thread.
        """
        with self._guard(route, transport) as state:
            call = self._prepare(route, request, metadata, state, is_active=is_active)
            yield from route.handler(request, call)
            state.outcome = "OK" if is_active() else "CANCELLED"

    def invoke_client_stream(
        self,
        route: Route,
        requests: Iterator[Message],
        metadata: Mapping[str, str],
        *,
        transport: str,
        is_active: Callable[[], bool] = _always_active,
    ) -> Message:
        """Run a client-streaming handler: `handler(requests, call) -> response`.

        The handler gets a blocking iterator and pulls the messages one by
        one; each is validated as it is pulled, so a bad message mid-stream
        fails the call (INVALID_ARGUMENT) without the rest being read. A
        failure of the stream wins over whatever the handler made of it.
        """
        with self._guard(route, transport) as state:
            call = self._admit(route, metadata, state, is_active=is_active)
            stream = _ValidatedStream(requests, self._validate, is_active)
            try:
                response: Message = route.handler(stream, call)
            except Exception as exc:
                if stream.failure is not None and stream.failure is not exc:
                    raise stream.failure from exc
                raise
            if stream.failure is not None:
                raise stream.failure
            state.outcome = "OK"
            return response

    def _prepare(
        self,
        route: Route,
        request: Message,
        metadata: Mapping[str, str],
        state: _CallState,
        *,
        is_active: Callable[[], bool],
    ) -> CallContext:
        call = self._admit(route, metadata, state, is_active=is_active)
        self._validate(request)
        return call

    def _admit(
        self,
        route: Route,
        metadata: Mapping[str, str],
        state: _CallState,
        *,
        is_active: Callable[[], bool],
    ) -> CallContext:
        """Authenticate and rate-limit the call; its context for the handler."""
        state.tenant_id = self._authenticator.tenant_for(metadata.get("authorization"))
        self._limits.check(route.full_name, state.tenant_id)
        return CallContext(
            method=route.full_name,
            tenant_id=state.tenant_id,
            metadata=metadata,
            trace_id=state.trace_id,
            is_active=is_active,
        )

    @contextmanager
    def _guard(self, route: Route, transport: str) -> Iterator[_CallState]:
        """Map unexpected failures to INTERNAL and log every call once."""
        state = _CallState(trace_id=current_trace_id())
        probe = self._observer.begin(route.full_name, transport)
        started = time.perf_counter()
        try:
            yield state
        except AccrueError as error:
            state.outcome = error.reason
            raise
        except GeneratorExit:
            state.outcome = "CANCELLED"
            raise
        except RequestStreamBroken:
            state.outcome = "REQUEST_STREAM_BROKEN"
            raise
        except Exception as exc:
            # Without a tracer the id is still unique, so a report can be found in the log.
            correlation_id = state.trace_id or uuid.uuid4().hex
            log.exception(
                "unexpected failure",
                extra={
                    "rpc": route.full_name,
                    "trace_id": state.trace_id,
                    "correlation_id": correlation_id,
                    "tenant_id": state.tenant_id,
                },
            )
            raise InternalError(
                "internal error; quote the correlation id to the operator",
                metadata={"correlation_id": correlation_id},
            ) from exc
        finally:
            elapsed = time.perf_counter() - started
            probe.end(state.outcome, state.trace_id, elapsed)
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "rpc",
                    extra={
                        "rpc": route.full_name,
                        "transport": transport,
                        "tenant_id": state.tenant_id,
                        "trace_id": state.trace_id,
                        "outcome": state.outcome,
                        "duration_ms": round(elapsed * 1000, 3),
                    },
                )

    def _validate(self, request: Message) -> None:
        text_problems = text_violations(request)
        if text_problems:
            raise ValidationFailed(
                f"the request is invalid: {text_problems[0].field}: {text_problems[0].description}",
                field_violations=text_problems,
            )
        violations = self._validator.collect_violations(request)
        if violations:
            fields = [
                FieldViolation(_field_path(v), v.proto.message or v.proto.rule_id)
                for v in violations
            ]
            raise ValidationFailed(
                f"the request is invalid: {fields[0].field}: {fields[0].description}",
                field_violations=fields,
            )


class RequestStreamBroken(Exception):
    """The transport could not deliver the rest of a client stream.

    The client went away, or the transport refused a message before it could
    be parsed; `error` is the transport's own error, which the transport
    reports (if anyone is still listening).
    """

    def __init__(self, error: Exception) -> None:
        super().__init__("the request stream ended abnormally")
        self.error = error


class _ValidatedStream(Iterator[Message]):
    """A handler's view of a client stream: each message validated as it is pulled.

    The first failure (invalid message, broken stream) is kept, raised again
    on every later pull, and checked by the Invoker after the handler is done.
    """

    def __init__(
        self,
        source: Iterator[Message],
        validate: Callable[[Message], None],
        is_active: Callable[[], bool] = _always_active,
    ) -> None:
        self._source = source
        self._validate = validate
        self._is_active = is_active
        self._ended = False
        self.failure: Exception | None = None

    def __iter__(self) -> _ValidatedStream:
        return self

    def __next__(self) -> Message:
        if self.failure is not None:
            raise self.failure
        if self._ended:
            raise StopIteration
        try:
            request = next(self._source)
        except StopIteration:
            if not self._is_active():
                # A transport may end the stream quietly when the call was cancelled
                # or its deadline passed (grpcio races the two): that is a cut-off
                # upload, never a complete one a handler may commit.
                broken = RequestStreamBroken(ConnectionAbortedError("the call ended mid-stream"))
                self.failure = broken
                raise broken from None
            self._ended = True
            raise
        except AccrueError as error:  # e.g. a message the transport could not parse
            self.failure = error
            raise
        except Exception as exc:
            broken = RequestStreamBroken(exc)
            self.failure = broken
            raise broken from exc
        try:
            self._validate(request)
        except AccrueError as error:
            self.failure = error
            raise
        return request


def _field_path(violation: protovalidate.Violation) -> str:
    path = violation.proto.field
    if path is None:  # a message-level rule: the message as a whole is at fault
        return ""
    parts: list[str] = []
    for element in path.elements:
        subscript = element.subscript
        parts.append(
            element.field_name if subscript is None else f"{element.field_name}[{subscript.value}]"
        )
    return ".".join(parts)
