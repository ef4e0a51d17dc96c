"""The single error table: domain reason -> canonical status code, and the
google.rpc.Status both transports send.

Adding a reason means adding a row here and a value to ErrorReason in
errors.proto; a test checks that the two agree.
"""

from __future__ import annotations

import math

from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from accrue.kernel.errors import AccrueError

ERROR_DOMAIN = "accrue.billing.v1"

STATUS_BY_REASON: dict[str, int] = {
    "VALIDATION_FAILED": code_pb2.INVALID_ARGUMENT,
    "UNAUTHENTICATED": code_pb2.UNAUTHENTICATED,
    "RESOURCE_NOT_FOUND": code_pb2.NOT_FOUND,
    "IDEMPOTENCY_KEY_REUSED": code_pb2.INVALID_ARGUMENT,
    "IDEMPOTENCY_REQUEST_IN_FLIGHT": code_pb2.ABORTED,
    "PRICE_IN_USE": code_pb2.FAILED_PRECONDITION,
    "RESOURCE_ARCHIVED": code_pb2.FAILED_PRECONDITION,
    "CURRENCY_UNSUPPORTED": code_pb2.INVALID_ARGUMENT,
    "CURRENCY_MISMATCH": code_pb2.INVALID_ARGUMENT,
    "INVALID_PAGE_TOKEN": code_pb2.INVALID_ARGUMENT,
    "AMOUNT_OUT_OF_RANGE": code_pb2.INVALID_ARGUMENT,
    "INVALID_STATE": code_pb2.FAILED_PRECONDITION,
    "CONCURRENT_MODIFICATION": code_pb2.ABORTED,
    "INTERNAL": code_pb2.INTERNAL,
    "SERVER_SHUTTING_DOWN": code_pb2.UNAVAILABLE,
    "RATE_LIMITED": code_pb2.RESOURCE_EXHAUSTED,
    "PSP_UNAVAILABLE": code_pb2.UNAVAILABLE,
    "REFUND_EXCEEDS_REFUNDABLE": code_pb2.FAILED_PRECONDITION,
    "TEST_CLOCK_ADVANCING": code_pb2.FAILED_PRECONDITION,
    "USAGE_EVENT_CONFLICT": code_pb2.FAILED_PRECONDITION,
    "USAGE_EVENT_TOO_LATE": code_pb2.FAILED_PRECONDITION,
    "USAGE_EVENT_IN_FUTURE": code_pb2.INVALID_ARGUMENT,
    "USAGE_VALUE_INVALID": code_pb2.INVALID_ARGUMENT,
    "USAGE_EVENT_CANCELED": code_pb2.FAILED_PRECONDITION,
    "POLICY_VIOLATION": code_pb2.FAILED_PRECONDITION,
    "FEATURE_KEY_TAKEN": code_pb2.FAILED_PRECONDITION,
}


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def to_status(error: AccrueError) -> status_pb2.Status:
    """The wire form of `error`: code, message and typed details."""
    code = STATUS_BY_REASON[error.reason]
    status = status_pb2.Status(code=code, message=error.message)
    status.details.append(
        _pack(
            error_details_pb2.ErrorInfo(
                reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata
            )
        )
    )
    if error.field_violations:
        status.details.append(
            _pack(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=v.field, description=v.description
                        )
                        for v in error.field_violations
                    ]
                )
            )
        )
    if error.precondition_violations:
        status.details.append(
            _pack(
                error_details_pb2.PreconditionFailure(
                    violations=[
                        error_details_pb2.PreconditionFailure.Violation(
                            type=v.type, subject=v.subject, description=v.description
                        )
                        for v in error.precondition_violations
                    ]
                )
            )
        )
    if error.retry_after_seconds is not None:
        delay = duration_pb2.Duration()
        # Rounded up, never truncated: a shorter delay than the real one (or 0)
        # sends a well-behaved client straight into the same refusal.
        delay.FromMilliseconds(max(1, math.ceil(round(error.retry_after_seconds * 1000, 6))))
        status.details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    return status
