"""What Accrue needs from a payment service provider (PSP), as a protocol.

Every call carries Accrue's own idempotency key, derived from the payment or
refund it is made for, so any number of resends of one attempt are one
charge at the PSP. The errors separate the two failures that matter for
money: a request the PSP certainly never processed (safe to give up on) and
one whose outcome is unknown (the PSP may have charged; only asking it by
our key can tell).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class PspStatus(enum.Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PspCharge:
    """A charge as the PSP recorded it."""

    psp_id: str
    idempotency_key: str
    amount_minor: int
    currency_code: str
    status: PspStatus
    # Empty on success; on a decline the PSP's code: insufficient_funds,
    # do_not_honor, expired_card, fraudulent, ...
    decline_code: str
    fee_minor: int
    create_time: datetime


@dataclass(frozen=True, slots=True)
class PspRefund:
    """A refund as the PSP recorded it."""

    psp_id: str
    idempotency_key: str
    charge_psp_id: str
    amount_minor: int
    currency_code: str
    status: PspStatus
    failure_code: str
    create_time: datetime


class PspError(Exception):
    """Base of the gateway's failures."""


class PspUnavailable(PspError):
    """The request certainly did not reach the PSP (connection refused, circuit open)."""


class PspOutcomeUnknown(PspError):
    """The request may have been processed: timeout, reset after sending, 5xx."""


class PspRejected(PspError):
    """The PSP refused the request itself (bad token, key reused with other
    parameters, refund above what is left); retrying cannot help."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class PaymentGateway(Protocol):
    """One PSP. Implementations must be safe to call from several threads."""

    @property
    def name(self) -> str:
        """Stable name, used for the circuit breaker and stored on payments."""
        ...

    def charge(
        self,
        *,
        idempotency_key: str,
        token: str,
        amount_minor: int,
        currency_code: str,
        metadata: Mapping[str, str],
    ) -> PspCharge:
        """Charge `token`; a decline is a FAILED charge, not an exception."""
        ...

    def refund(
        self,
        *,
        idempotency_key: str,
        charge_psp_id: str,
        amount_minor: int,
        currency_code: str,
    ) -> PspRefund: ...

    def retrieve_charge(self, idempotency_key: str) -> PspCharge | None:
        """The charge made under our key, or None when the PSP has none."""
        ...

    def retrieve_refund(self, idempotency_key: str) -> PspRefund | None: ...
