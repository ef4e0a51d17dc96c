"""The route table: every RPC of every served service, bound to its handler.

Built from the service descriptors, so a new RPC in the contract is served
(or fails loudly at start-up for want of a handler) without a second list to
keep in sync.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

Handler = Callable[[Any, Any], Any]


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@dataclass(frozen=True, slots=True)
class Route:
    service: str
    method: str
    request_type: type[Message]
    response_type: type[Message]
    handler: Handler
    server_streaming: bool = False
    # The handler takes a blocking iterator of requests: `handler(requests, call)`.
    client_streaming: bool = False

    @property
    def full_name(self) -> str:
        """`package.Service/Method`, as logged and as stored with idempotency keys."""
        return f"{self.service}/{self.method}"

    @property
    def path(self) -> str:
        """The HTTP path shared by gRPC and Connect: `/package.Service/Method`."""
        return f"/{self.full_name}"


def build_routes(bindings: Iterable[tuple[ServiceDescriptor, object]]) -> list[Route]:
    routes = []
    for service, handler_object in bindings:
        for method in service.methods:
            handler = getattr(handler_object, snake_case(method.name), None)
            if handler is None:
                raise TypeError(
                    f"{type(handler_object).__name__} has no handler for {method.full_name}"
                )
            if method.client_streaming and method.server_streaming:
                raise TypeError(f"bidirectional streaming is not supported: {method.full_name}")
            request_type = GetMessageClass(method.input_type)
            routes.append(
                Route(
                    service=service.full_name,
                    method=method.name,
                    request_type=request_type,
                    response_type=GetMessageClass(method.output_type),
                    handler=handler,
                    server_streaming=method.server_streaming,
                    client_streaming=method.client_streaming,
                )
            )
    return routes
