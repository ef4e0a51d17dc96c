"""The one error family every layer raises.

Each error carries a stable `reason` (the contract's ErrorReason name without
its prefix); the API layer maps reasons to status codes in a single table, so
domain code never thinks about transports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One invalid field, named by its path in the request (`customer.email`)."""

    field: str
    description: str


@dataclass(frozen=True, slots=True)
class PreconditionViolation:
    """One unmet precondition: its type, the subject it concerns, and why."""

    type: str
    subject: str
    description: str


class AccrueError(Exception):
    """Base of every expected failure; `reason` is stable and machine-readable."""

    reason = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        metadata: Mapping[str, str] | None = None,
        field_violations: Sequence[FieldViolation] = (),
        precondition_violations: Sequence[PreconditionViolation] = (),
        retry_after_seconds: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.metadata: dict[str, str] = dict(metadata or {})
        self.field_violations = tuple(field_violations)
        self.precondition_violations = tuple(precondition_violations)
        self.retry_after_seconds = retry_after_seconds


class ValidationFailed(AccrueError):
    reason = "VALIDATION_FAILED"

    @classmethod
    def body(cls, description: str) -> ValidationFailed:
        """The request as a whole could not be read (bad bytes, bad JSON)."""
        return cls(description, field_violations=[FieldViolation("", description)])

    @classmethod
    def on(cls, field: str, description: str) -> ValidationFailed:
        """A validation failure of a single field."""
        return cls(
            f"invalid {field}: {description}",
            field_violations=[FieldViolation(field, description)],
        )


class Unauthenticated(AccrueError):
    reason = "UNAUTHENTICATED"


class NotFound(AccrueError):
    reason = "RESOURCE_NOT_FOUND"

    def __init__(self, resource_type: str, resource_id: str) -> None:
        super().__init__(
            f"{resource_type} {resource_id!r} not found",
            metadata={"resource_type": resource_type, "resource_id": resource_id},
        )


class IdempotencyKeyReused(AccrueError):
    reason = "IDEMPOTENCY_KEY_REUSED"


class IdempotencyRequestInFlight(AccrueError):
    reason = "IDEMPOTENCY_REQUEST_IN_FLIGHT"


class PriceInUse(AccrueError):
    reason = "PRICE_IN_USE"


class ResourceArchived(AccrueError):
    reason = "RESOURCE_ARCHIVED"

    def __init__(self, resource_type: str, resource_id: str) -> None:
        super().__init__(
            f"{resource_type} {resource_id!r} is archived",
            metadata={"resource_type": resource_type, "resource_id": resource_id},
            precondition_violations=[
                PreconditionViolation("STATE", f"{resource_type}/{resource_id}", "archived")
            ],
        )


class CurrencyUnsupported(AccrueError):
    reason = "CURRENCY_UNSUPPORTED"


class CurrencyMismatch(AccrueError):
    reason = "CURRENCY_MISMATCH"


class InvalidPageToken(AccrueError):
    reason = "INVALID_PAGE_TOKEN"


class AmountOutOfRange(AccrueError):
    reason = "AMOUNT_OUT_OF_RANGE"


class InvalidState(AccrueError):
    reason = "INVALID_STATE"


class ConcurrentModification(AccrueError):
    reason = "CONCURRENT_MODIFICATION"


class InternalError(AccrueError):
    reason = "INTERNAL"


class ServerShuttingDown(AccrueError):
    reason = "SERVER_SHUTTING_DOWN"


class RateLimited(AccrueError):
    reason = "RATE_LIMITED"


class PspUnavailableError(AccrueError):
    """The PSP's circuit is open: nothing was recorded, the caller may retry later."""

    reason = "PSP_UNAVAILABLE"


class RefundExceedsRefundable(AccrueError):
    reason = "REFUND_EXCEEDS_REFUNDABLE"


@dataclass(frozen=True, slots=True)
class Violations:
    """Collects field violations so a request reports all of them at once."""

    items: list[FieldViolation] = field(default_factory=list)

    def add(self, field_path: str, description: str) -> None:
        self.items.append(FieldViolation(field_path, description))

    def raise_if_any(self, message: str = "the request is invalid") -> None:
        if self.items:
            raise ValidationFailed(message, field_violations=self.items)


class TestClockAdvancing(AccrueError):
    __test__ = False  # not a pytest test class, whatever its name
    reason = "TEST_CLOCK_ADVANCING"
