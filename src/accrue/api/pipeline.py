"""The cross-cutting layer both transports run every call through.

Order: authenticate (no other work for a stranger), validate against the
contract's protovalidate rules, run the handler. Anything unexpected becomes
INTERNAL with an opaque correlation id (the trace id); the stack trace goes
to the log, never to the wire.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping

import protovalidate
from google.protobuf.message import Message
from opentelemetry import trace

from accrue.api.call import CallContext
from accrue.api.routes import Route
from accrue.domain.errors import AccrueError, FieldViolation, InternalError, ValidationFailed
from accrue.services.tenants import Authenticator

log = logging.getLogger("accrue.rpc")


def current_trace_id() -> str:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""


class Invoker:
    def __init__(self, authenticator: Authenticator) -> None:
        self._authenticator = authenticator
        self._validator = protovalidate.Validator()

    def invoke(
        self, route: Route, request: Message, metadata: Mapping[str, str], *, transport: str
    ) -> Message:
        started = time.perf_counter()
        trace_id = current_trace_id()
        tenant_id = ""
        outcome = "INTERNAL"
        try:
            tenant_id = self._authenticator.tenant_for(metadata.get("authorization"))
            self._validate(request)
            call = CallContext(
                method=route.full_name, tenant_id=tenant_id, metadata=metadata, trace_id=trace_id
            )
            response = route.handler(request, call)
            outcome = "OK"
            return response
        except AccrueError as error:
            outcome = error.reason
            raise
        except Exception as exc:
            # Without a tracer the id is still unique, so a report can be found in the log.
            correlation_id = trace_id or uuid.uuid4().hex
            log.exception(
                "unexpected failure",
                extra={
                    "rpc": route.full_name,
                    "trace_id": trace_id,
                    "correlation_id": correlation_id,
                    "tenant_id": tenant_id,
                },
            )
            raise InternalError(
                "internal error; quote the correlation id to the operator",
                metadata={"correlation_id": correlation_id},
            ) from exc
        finally:
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "rpc",
                    extra={
                        "rpc": route.full_name,
                        "transport": transport,
                        "tenant_id": tenant_id,
                        "trace_id": trace_id,
                        "outcome": outcome,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    },
                )

    def _validate(self, request: Message) -> None:
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
