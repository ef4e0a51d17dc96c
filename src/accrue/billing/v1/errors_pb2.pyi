from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor

class ErrorReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_REASON_UNSPECIFIED: _ClassVar[ErrorReason]
    ERROR_REASON_VALIDATION_FAILED: _ClassVar[ErrorReason]
    ERROR_REASON_UNAUTHENTICATED: _ClassVar[ErrorReason]
    ERROR_REASON_RESOURCE_NOT_FOUND: _ClassVar[ErrorReason]
    ERROR_REASON_IDEMPOTENCY_KEY_REUSED: _ClassVar[ErrorReason]
    ERROR_REASON_IDEMPOTENCY_REQUEST_IN_FLIGHT: _ClassVar[ErrorReason]
    ERROR_REASON_PRICE_IN_USE: _ClassVar[ErrorReason]
    ERROR_REASON_RESOURCE_ARCHIVED: _ClassVar[ErrorReason]
    ERROR_REASON_CURRENCY_UNSUPPORTED: _ClassVar[ErrorReason]
    ERROR_REASON_CURRENCY_MISMATCH: _ClassVar[ErrorReason]
    ERROR_REASON_INVALID_PAGE_TOKEN: _ClassVar[ErrorReason]
    ERROR_REASON_AMOUNT_OUT_OF_RANGE: _ClassVar[ErrorReason]
    ERROR_REASON_INVALID_STATE: _ClassVar[ErrorReason]
    ERROR_REASON_CONCURRENT_MODIFICATION: _ClassVar[ErrorReason]
    ERROR_REASON_INTERNAL: _ClassVar[ErrorReason]
ERROR_REASON_UNSPECIFIED: ErrorReason
ERROR_REASON_VALIDATION_FAILED: ErrorReason
ERROR_REASON_UNAUTHENTICATED: ErrorReason
ERROR_REASON_RESOURCE_NOT_FOUND: ErrorReason
ERROR_REASON_IDEMPOTENCY_KEY_REUSED: ErrorReason
ERROR_REASON_IDEMPOTENCY_REQUEST_IN_FLIGHT: ErrorReason
ERROR_REASON_PRICE_IN_USE: ErrorReason
ERROR_REASON_RESOURCE_ARCHIVED: ErrorReason
ERROR_REASON_CURRENCY_UNSUPPORTED: ErrorReason
ERROR_REASON_CURRENCY_MISMATCH: ErrorReason
ERROR_REASON_INVALID_PAGE_TOKEN: ErrorReason
ERROR_REASON_AMOUNT_OUT_OF_RANGE: ErrorReason
ERROR_REASON_INVALID_STATE: ErrorReason
ERROR_REASON_CONCURRENT_MODIFICATION: ErrorReason
ERROR_REASON_INTERNAL: ErrorReason
