"""gRPC (grpcio) adapter: routes -> generic handlers that call the shared Invoker.

Requests arrive as raw bytes and are parsed here, so an unparseable body is
INVALID_ARGUMENT with our error details instead of grpcio's bare INTERNAL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, NoReturn

import grpc
from google.protobuf.message import DecodeError, Message
from grpc_status import rpc_status
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from accrue.kernel.errors import AccrueError, ValidationFailed
from accrue.platform.errors import to_status
from accrue.platform.transport.pipeline import Invoker, RequestStreamBroken
from accrue.platform.transport.routes import Route


def _serialize(message: Message) -> bytes:
    # Deterministic so an idempotent replay is byte-identical to the first answer.
    return message.SerializeToString(deterministic=True)


_tracer = trace.get_tracer("accrue.api.grpc")


def _metadata(context: grpc.ServicerContext) -> dict[str, str]:
    return {key.lower(): value for key, value in context.invocation_metadata() or ()}


def _server_span(route: Route, metadata: dict[str, str]) -> AbstractContextManager[Span]:
    """A server span per call, continuing the caller's W3C trace context."""
    return _tracer.start_as_current_span(
        route.full_name,
        context=propagate.extract(metadata),
        kind=SpanKind.SERVER,
        attributes={"rpc.system": "grpc", "rpc.service": route.service, "rpc.method": route.method},
        record_exception=False,
        set_status_on_exception=False,
    )


def _abort(context: grpc.ServicerContext, span: Span, error: AccrueError) -> NoReturn:
    status = to_status(error)
    span.set_attribute("rpc.grpc.status_code", status.code)
    span.set_attribute("accrue.error.reason", error.reason)
    if error.reason == "INTERNAL":
        span.set_status(Status(StatusCode.ERROR, error.message))
    context.abort_with_status(rpc_status.to_status(status))
    raise error  # abort_with_status raises; this keeps type checkers honest


def _unary(route: Route, invoker: Invoker) -> Callable[[bytes, grpc.ServicerContext], Message]:
    def behaviour(raw: bytes, context: grpc.ServicerContext) -> Message:
        metadata = _metadata(context)
        with _server_span(route, metadata) as span:
            try:
                return invoker.invoke(route, _parse(route, raw), metadata, transport="grpc")
            except AccrueError as error:
                _abort(context, span, error)

    return behaviour


def _client_stream(
    route: Route, invoker: Invoker
) -> Callable[[Iterator[bytes], grpc.ServicerContext], Message]:
    def behaviour(raws: Iterator[bytes], context: grpc.ServicerContext) -> Message:
        metadata = _metadata(context)
        with _server_span(route, metadata) as span:
            # Parsed one at a time as the handler pulls them: grpcio reads the
            # next message off the wire only when asked, so nothing piles up.
            requests = (_parse(route, raw) for raw in raws)
            try:
                return invoker.invoke_client_stream(
                    route, requests, metadata, transport="grpc", is_active=lambda: _alive(context)
                )
            except AccrueError as error:
                _abort(context, span, error)
            except RequestStreamBroken:
                # The client cancelled or its deadline passed; nobody reads this.
                context.abort(grpc.StatusCode.CANCELLED, "the request stream was cancelled")
                raise

    return behaviour


def _server_stream(
    route: Route, invoker: Invoker
) -> Callable[[bytes, grpc.ServicerContext], Iterator[Message]]:
    def behaviour(raw: bytes, context: grpc.ServicerContext) -> Iterator[Message]:
        metadata = _metadata(context)
        with _server_span(route, metadata):
            try:
                request = _parse(route, raw)
                for item in invoker.invoke_stream(
                    route, request, metadata, transport="grpc", is_active=context.is_active
                ):
                    if item is None:  # idle tick: stop if the client has gone
                        if not context.is_active():
                            return
                        continue
                    yield item
            except AccrueError as error:
                context.abort_with_status(rpc_status.to_status(to_status(error)))

    return behaviour


def _parse(route: Route, raw: bytes) -> Message:
    try:
        return route.request_type.FromString(raw)
    except DecodeError as exc:
        raise ValidationFailed.body(
            f"request is not a valid {route.request_type.DESCRIPTOR.full_name}"
        ) from exc


def generic_handlers(routes: list[Route], invoker: Invoker) -> list[grpc.GenericRpcHandler]:
    by_service: dict[str, dict[str, Any]] = {}
    for route in routes:
        if route.client_streaming:
            handler = grpc.stream_unary_rpc_method_handler(
                _client_stream(route, invoker), response_serializer=_serialize
            )
        elif route.server_streaming:
            handler = grpc.unary_stream_rpc_method_handler(
                _server_stream(route, invoker), response_serializer=_serialize
            )
        else:
            handler = grpc.unary_unary_rpc_method_handler(
                _unary(route, invoker), response_serializer=_serialize
            )
        by_service.setdefault(route.service, {})[route.method] = handler
    return [
        grpc.method_handlers_generic_handler(service, methods)
        for service, methods in by_service.items()
    ]


def _alive(context: grpc.ServicerContext) -> bool:
    """The call is still wanted: not cancelled, and its deadline (if any) not passed.

    The deadline is read too because grpcio may report the end of a cut-off
    request stream before it marks the call cancelled."""
    remaining = context.time_remaining()
    return context.is_active() and (remaining is None or remaining > 0)
