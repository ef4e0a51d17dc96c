"""An upper bound for an asyncio gRPC transport: Accrue's unary routes on `grpc.aio`, each
call run inline on the event loop thread.

This is a measuring instrument, not a transport to ship. Running the synchronous use case
on the loop thread removes every hand-off of the interpreter lock between threads (the cost
that dominates a cheap call in the threaded server), which is the most an asyncio server
could save while the database drivers stay synchronous; it also makes the server serve one
call at a time, so calls that wait on a database or a PSP queue behind each other. Streaming
routes, health and reflection are left out: `rpc_throughput.py --asyncio-bound` calls only
GetCustomer and CreateCustomer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Any

import grpc
from grpc_status import rpc_status
from harness import spawned_server

from accrue.bootstrap import build_application
from accrue.config import Settings
from accrue.kernel.errors import AccrueError
from accrue.platform.errors import to_status
from accrue.platform.heap import settle_after_start_up
from accrue.platform.transport.grpc_transport import _parse, _serialize, _server_span
from accrue.platform.transport.pipeline import Invoker
from accrue.platform.transport.routes import Route

Behaviour = Callable[[bytes, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]


def _inline(route: Route, invoker: Invoker) -> Behaviour:
    async def behaviour(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        metadata = {key.lower(): value for key, value in context.invocation_metadata() or ()}
        with _server_span(route, metadata):
            try:
                return invoker.invoke(route, _parse(route, raw), metadata, transport="grpc")
            except AccrueError as error:
                await context.abort_with_status(rpc_status.to_status(to_status(error)))

    return behaviour


def serve(database_url: str, send: Any) -> None:
    """Build the application as `accrue serve` does and serve its unary routes until killed;
    sends the bound port through `send`."""
    app = build_application(Settings(database_url=database_url, log_level="WARNING"))
    app.start_background()  # the sequencer and the event bell, as in `accrue serve`
    by_service: dict[str, dict[str, grpc.RpcMethodHandler]] = {}
    for route in app.routes:
        if not (route.client_streaming or route.server_streaming):
            handler = grpc.unary_unary_rpc_method_handler(
                _inline(route, app.invoker), response_serializer=_serialize
            )
            by_service.setdefault(route.service, {})[route.method] = handler

    async def main() -> None:
        server = grpc.aio.server()
        server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler(s, m) for s, m in by_service.items()]
        )
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        settle_after_start_up(app.settings.gc_young_threshold)
        send.send(port)
        await server.wait_for_termination()

    asyncio.run(main())


def asyncio_bound_process(spawn: Any, database_url: str) -> AbstractContextManager[tuple[int, str]]:
    """`serve` in a process of `spawn`; yields (pid, gRPC target)."""
    return spawned_server(spawn, serve, (database_url,), wait=120)
