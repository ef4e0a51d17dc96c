"""Connect (connectrpc ASGI) adapter over the same routes and Invoker as gRPC.

The generated `*ASGIApplication` classes do the protocol work; the service
object they call is built from the route table, and each call runs the
synchronous Invoker in a worker thread with the caller's trace context.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import importlib
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from connectrpc.code import Code
from connectrpc.codec import Codec
from connectrpc.errors import ConnectError, ErrorDetail
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc import code_pb2
from protobuf.wkt import Any as ConnectAny

from accrue.kernel.errors import AccrueError, ValidationFailed
from accrue.platform.errors import to_status
from accrue.platform.transport.pipeline import Invoker, RequestStreamBroken
from accrue.platform.transport.routes import Route, snake_case

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def to_connect_error(error: AccrueError) -> ConnectError:
    status = to_status(error)
    details = [
        ErrorDetail(ConnectAny(type_url=detail.type_url, value=detail.value))
        for detail in status.details
    ]
    return ConnectError(Code[code_pb2.Code.Name(status.code)], status.message, details)


class _BinaryCodec(Codec[Message, Message]):
    """Deterministic binary codec; an undecodable body is INVALID_ARGUMENT."""

    def name(self) -> str:
        return "proto"

    def encode(self, message: Message) -> bytes:
        return message.SerializeToString(deterministic=True)

    def decode(self, data: bytes | bytearray, message_class: type[Message]) -> Message:
        try:
            return message_class.FromString(bytes(data))
        except DecodeError as exc:
            raise to_connect_error(
                ValidationFailed.body("request body is not valid protobuf")
            ) from exc


class _StrictJsonCodec(Codec[Message, Message]):
    """Proto3 JSON that refuses unknown fields, so nothing is silently dropped."""

    def name(self) -> str:
        return "json"

    def encode(self, message: Message) -> bytes:
        return json_format.MessageToJson(message, indent=None).encode()

    def decode(self, data: bytes | bytearray, message_class: type[Message]) -> Message:
        message = message_class()
        name = message_class.DESCRIPTOR.full_name
        try:
            json_format.Parse(bytes(data), message, ignore_unknown_fields=False)
        except (json_format.ParseError, ValueError, UnicodeDecodeError) as exc:
            raise to_connect_error(
                ValidationFailed.body(f"request body is not valid JSON for {name}: {exc}")
            ) from exc
        return message


class _ServiceAdapter:
    """Looks like a generated Connect service; every method goes to the Invoker."""

    def __init__(
        self, routes: Iterable[Route], invoker: Invoker, executor: ThreadPoolExecutor
    ) -> None:
        self._methods = {
            snake_case(route.method): self._bind(route, invoker, executor) for route in routes
        }

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Message]]:
        try:
            return self._methods[name]
        except KeyError:
            raise AttributeError(name) from None

    @staticmethod
    def _bind(route: Route, invoker: Invoker, executor: ThreadPoolExecutor) -> Callable[..., Any]:
        if route.client_streaming:
            return _client_streaming(route, invoker, executor)
        if route.server_streaming:
            return _streaming(route, invoker, executor)

        async def call(request: Message, ctx: Any) -> Message:
            metadata = {key.lower(): value for key, value in ctx.request_headers.items()}
            context = contextvars.copy_context()
            loop = asyncio.get_running_loop()
            try:
                work = functools.partial(
                    invoker.invoke, route, request, metadata, transport="connect"
                )
                return await loop.run_in_executor(executor, context.run, work)
            except AccrueError as error:
                raise to_connect_error(error) from None

        return call


_END = object()


def _step(items: Iterator[Message | None]) -> object:
    return next(items, _END)


def _close_after(
    step: asyncio.Future[object] | None,
    items: Iterator[Message | None],
    executor: ThreadPoolExecutor,
    context: contextvars.Context,
) -> None:
    """Close the handler's generator once no step of it is running any more.

    A client that goes away cancels the await, not the step running in a
    worker thread; closing right then would fail ("generator already
    executing"), so the close waits for that step to return.
    """
    close = getattr(items, "close", None)
    if close is None:
        return

    def submit(_: object = None) -> None:
        # RuntimeError: the executor is already shut down, the process is stopping.
        with contextlib.suppress(RuntimeError):
            executor.submit(context.run, close)

    if step is None or step.done():
        submit()
    else:
        step.add_done_callback(submit)


def _streaming(
    route: Route, invoker: Invoker, executor: ThreadPoolExecutor
) -> Callable[..., AsyncIterator[Message]]:
    async def call(request: Message, ctx: Any) -> AsyncIterator[Message]:
        metadata = {key.lower(): value for key, value in ctx.request_headers.items()}
        gone = threading.Event()
        items = invoker.invoke_stream(
            route, request, metadata, transport="connect", is_active=lambda: not gone.is_set()
        )
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        step: asyncio.Future[object] | None = None
        try:
            while True:
                # Each step runs in a worker thread; idle ticks (None) come back
                # regularly, so a cancelled stream frees its thread promptly.
                step = loop.run_in_executor(executor, context.run, _step, items)
                item = await step
                if item is _END:
                    return
                if isinstance(item, Message):
                    yield item
        except AccrueError as error:
            raise to_connect_error(error) from None
        finally:
            gone.set()
            _close_after(step, items, executor, context)

    return call


# Messages read off the wire ahead of the handler; beyond that the client waits
# (HTTP flow control), so an upload never piles up in memory.
_READ_AHEAD = 4


class _Failed:
    def __init__(self, error: Exception) -> None:
        self.error = error


class _BlockingRequests(Iterator[Message]):
    """A client stream as the handler's worker thread sees it: a blocking iterator.

    A pump task on the event loop reads the generated app's async request
    stream into a queue, at most `_READ_AHEAD` messages ahead of the handler:
    each message the handler takes gives the pump a slot back. Create and
    close it on the event loop; iterate it on a worker thread.
    """

    def __init__(self, requests: AsyncIterator[Message]) -> None:
        self._loop = asyncio.get_running_loop()
        self._items: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._slots = asyncio.Semaphore(_READ_AHEAD)
        self._over: Exception | None = None
        self._pump = self._loop.create_task(self._read(requests))

    async def _read(self, requests: AsyncIterator[Message]) -> None:
        try:
            while True:
                await self._slots.acquire()
                try:
                    message = await anext(requests)
                except StopAsyncIteration:
                    self._items.put(_END)
                    return
                self._items.put(message)
        except Exception as exc:  # the protocol's ConnectError: disconnect, size, encoding
            self._items.put(_Failed(exc))

    async def aclose(self) -> None:
        """Stop reading; wake a worker still waiting for a message."""
        self._pump.cancel()
        # The app closes the request stream after the call; it must not be mid-read then.
        await asyncio.wait([self._pump])
        self._items.put(_Failed(ConnectError(Code.CANCELED, "the call has ended")))

    def __iter__(self) -> _BlockingRequests:
        return self

    def __next__(self) -> Message:
        if self._over is not None:
            raise self._over
        item = self._take()
        if item is _END:
            self._over = StopIteration()
            raise StopIteration
        if isinstance(item, _Failed):
            self._over = item.error
            raise item.error
        # RuntimeError: the loop is closed, the process is stopping; nothing to give back.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._slots.release)
        assert isinstance(item, Message)
        return item

    def _take(self) -> object:
        while True:
            try:
                return self._items.get(timeout=1.0)
            except queue.Empty:
                if self._loop.is_closed():  # never woken: fail rather than hang the thread
                    return _Failed(ConnectError(Code.CANCELED, "the server is stopping"))


def _client_streaming(
    route: Route, invoker: Invoker, executor: ThreadPoolExecutor
) -> Callable[..., Awaitable[Message]]:
    async def call(requests: AsyncIterator[Message], ctx: Any) -> Message:
        metadata = {key.lower(): value for key, value in ctx.request_headers.items()}
        gone = threading.Event()
        blocking = _BlockingRequests(requests)
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        try:
            work = functools.partial(
                invoker.invoke_client_stream,
                route,
                blocking,
                metadata,
                transport="connect",
                is_active=lambda: not gone.is_set(),
            )
            return await loop.run_in_executor(executor, context.run, work)
        except AccrueError as error:
            raise to_connect_error(error) from None
        except RequestStreamBroken as broken:
            raise broken.error from None
        finally:
            gone.set()
            await blocking.aclose()

    return call


class _Router:
    """Dispatches by path prefix to one generated ASGI application per service."""

    def __init__(self, apps: dict[str, ASGIApp]) -> None:
        self._apps = apps

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path = scope.get("path", "")
        service = path.strip("/").split("/", 1)[0]
        app = self._apps.get(service)
        if app is None:
            await send(
                {
                    "type": "http.response.start",
                    "status": 404,
                    "headers": [(b"content-type", b"text/plain")],
                }
            )
            await send({"type": "http.response.body", "body": b"unknown service"})
            return
        await app(scope, receive, send)


def connect_app(
    routes: list[Route],
    invoker: Invoker,
    *,
    interceptors: Iterable[Any] = (),
    executor: ThreadPoolExecutor,
    extra_apps: Mapping[str, ASGIApp] | None = None,
) -> ASGIApp:
    """Connect services by path, plus `extra_apps` by first path segment (`webhooks`)."""
    by_service: dict[str, list[Route]] = {}
    for route in routes:
        by_service.setdefault(route.service, []).append(route)
    apps: dict[str, ASGIApp] = {}
    codecs: list[Codec[Any, Any]] = [_BinaryCodec(), _StrictJsonCodec()]
    for service, service_routes in by_service.items():
        app_class = _generated_asgi_class(service_routes[0])
        apps[service] = app_class(
            service=_ServiceAdapter(service_routes, invoker, executor),
            interceptors=tuple(interceptors),
            codecs=codecs,
        )
    apps.update(extra_apps or {})
    return _Router(apps)


def _generated_asgi_class(route: Route) -> Any:
    file_name = route.request_type.DESCRIPTOR.file.name  # accrue/billing/v1/catalog.proto
    module = importlib.import_module(
        file_name.removesuffix(".proto").replace("/", ".") + "_connect"
    )
    return getattr(module, route.service.rsplit(".", 1)[1] + "ASGIApplication")
