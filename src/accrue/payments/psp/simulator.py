"""A simulated PSP, in memory: the rules a real PSP applies, and its failures on purpose.

Payments code is only as good as its handling of a PSP that declines, times
out, loses responses and answers 503, so the simulator makes each of those
happen deterministically (by test token) or at a seeded rate (by `Faults`).
It never does I/O: `simulator_server` puts it behind HTTP, `in_process` calls
it directly. Whether and when a response reaches the caller is returned as a
`Disposition` with a delay, for the transport to act out.

Test tokens (anything not starting with `tok_` is rejected, `invalid_token`):

- `tok_visa`, `tok_mastercard`, any other unlisted `tok_...`: succeeds.
- `tok_insufficient_funds`, `tok_do_not_honor`, `tok_expired_card`,
  `tok_fraud`: a recorded FAILED charge with decline code
  `insufficient_funds`, `do_not_honor`, `expired_card`, `fraudulent`.
- `tok_lost_response`: recorded SUCCEEDED, but every response to it
  (replays included) is lost; only a retrieval by key can tell.
- `tok_slow`: succeeds, every response is delayed by `Faults.slow_seconds`.
- `tok_5xx`: answered 503, nothing recorded.
- `tok_refund_fails`: succeeds, but every refund of it is recorded FAILED
  (`expired_or_canceled_card`), so `refund.failed` can be exercised.

Fees: a succeeded charge costs `(amount * 29 + 500) // 1000` (2.9 %, half up)
plus 30 minor units in currencies with two decimals, nothing fixed otherwise;
declines and refunds cost nothing.

Settlement report (`settlement_csv`), what reconciliation reads: UTF-8 CSV,
`\\n` line ends, one header line

    type,psp_id,reference,currency,gross,fee,net,payout_id,created

then one row per succeeded charge (`charge`, gross = amount, net = gross -
fee) and per succeeded refund (`refund`, gross = -amount, fee 0, net =
gross), in the order the PSP recorded them. `reference` is our idempotency
key; amounts are decimal strings in major units with the currency's own
number of decimals (`12.34` USD, `1234` JPY, `1.234` KWD, `-5.00` for a
refund); `payout_id` is `po_<UTC yyyymmdd>_<currency>` of the row's creation
day; `created` is RFC 3339 in UTC (`2026-11-22T10:00:00Z`). Declines and
failed refunds move no money and are not listed.
"""

from __future__ import annotations

import csv
import enum
import io
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

from accrue.kernel.clock import Clock
from accrue.kernel.money import CURRENCY_EXPONENTS, MAX_AMOUNT_MINOR, Money
from accrue.payments.psp.port import PspCharge, PspRefund, PspRejected, PspStatus

DECLINE_CODES: Mapping[str, str] = MappingProxyType(
    {
        "tok_insufficient_funds": "insufficient_funds",
        "tok_do_not_honor": "do_not_honor",
        "tok_expired_card": "expired_card",
        "tok_fraud": "fraudulent",
    }
)
LOST_RESPONSE = "tok_lost_response"
SLOW = "tok_slow"
UNAVAILABLE_5XX = "tok_5xx"
REFUND_FAILS = "tok_refund_fails"
REFUND_FAILURE_CODE = "expired_or_canceled_card"

MAX_KEY_LENGTH = 255
SETTLEMENT_HEADER = (
    *("type", "psp_id", "reference", "currency"),
    *("gross", "fee", "net", "payout_id", "created"),
)


@dataclass(frozen=True, slots=True)
class Faults:
    """Failures injected at a rate. Rates are fractions of requests in [0, 1];
    `seed` seeds the draws so that one sequence of requests always meets the
    same failures. `error_rate` applies to charge and refund requests only:
    retrievals are how callers recover, and the loss stays measurable."""

    drop_success_rate: float = 0.0
    error_rate: float = 0.0
    latency_ms: int = 0
    slow_seconds: float = 5.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("drop_success_rate", "error_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {rate}")
        if self.latency_ms < 0 or self.slow_seconds < 0:
            raise ValueError("latency_ms and slow_seconds cannot be negative")


class Disposition(enum.Enum):
    """What the transport does with a request the core has handled."""

    RESPOND = "respond"
    # Recorded, but the caller never hears back (connection closed unanswered).
    LOSE_RESPONSE = "lose_response"
    # Answered 503; nothing was recorded.
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class SimCharge:
    """A recorded charge with what the protocol's `PspCharge` leaves out but
    idempotency must compare: the token and the metadata."""

    charge: PspCharge
    token: str
    metadata: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class ChargeOutcome:
    charge: SimCharge | None  # None only when UNAVAILABLE
    disposition: Disposition
    delay_seconds: float
    replayed: bool


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    refund: PspRefund | None  # None only when UNAVAILABLE
    disposition: Disposition
    delay_seconds: float
    replayed: bool


# Called, under the simulator's lock, with the event type (`charge.succeeded`,
# `charge.failed`, `refund.succeeded`, `refund.failed`) and each new record, in
# recording order; it must be quick (enqueue) and never call the simulator.
Listener = Callable[[str, SimCharge | PspRefund], None]


def fee_minor(amount_minor: int, currency_code: str) -> int:
    fixed = 30 if CURRENCY_EXPONENTS[currency_code] == 2 else 0
    return (amount_minor * 29 + 500) // 1000 + fixed


def rfc3339(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def major_units(amount_minor: int, currency_code: str) -> str:
    """`1234` USD -> `12.34`: the report speaks in major units, as bank files do."""
    return Money(amount_minor, currency_code).format().removesuffix(f" {currency_code}")


def payout_id(created: datetime, currency_code: str) -> str:
    return f"po_{created.astimezone(UTC):%Y%m%d}_{currency_code}"


class SimulatedPsp:
    """Thread-safe: one lock around every read and write, so concurrent
    refunds of one charge can never add up to more than the charge."""

    def __init__(self, clock: Clock, *, seed: int = 0, faults: Faults | None = None) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._ids = random.Random(seed)  # noqa: S311 - reproducible ids, not secrets
        self._faults = faults or Faults()
        self._draws = random.Random(self._faults.seed)  # noqa: S311 - seeded faults
        self._log: list[SimCharge | PspRefund] = []
        self._charges: dict[str, SimCharge] = {}
        self._charges_by_id: dict[str, SimCharge] = {}
        self._refunds: dict[str, PspRefund] = {}
        self._refunded: dict[str, int] = {}
        self._listeners: list[Listener] = []

    @property
    def faults(self) -> Faults:
        with self._lock:
            return self._faults

    def set_faults(self, faults: Faults, *, reseed: bool = True) -> None:
        """Change faults at run time; `reseed=False` keeps the draw sequence going."""
        with self._lock:
            self._faults = faults
            if reseed:
                self._draws = random.Random(faults.seed)  # noqa: S311 - seeded faults

    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def charge(
        self,
        *,
        idempotency_key: str,
        token: str,
        amount_minor: int,
        currency_code: str,
        metadata: Mapping[str, str],
    ) -> ChargeOutcome:
        with self._lock:
            faults = self._faults
            delay = faults.latency_ms / 1000
            if self._draw(faults.error_rate):
                return ChargeOutcome(None, Disposition.UNAVAILABLE, delay, replayed=False)
            _check_key(idempotency_key)
            if not token.startswith("tok_"):
                raise PspRejected("token is not a tok_ payment token", code="invalid_token")
            _check_money(amount_minor, currency_code)
            _check_metadata(metadata)
            if token == UNAVAILABLE_5XX:
                return ChargeOutcome(None, Disposition.UNAVAILABLE, delay, replayed=False)
            if token == SLOW:
                delay += faults.slow_seconds
            record = self._charges.get(idempotency_key)
            replayed = record is not None
            if record is None:
                record = self._record_charge(
                    idempotency_key, token, amount_minor, currency_code, metadata
                )
            elif (record.token, record.charge.amount_minor, record.charge.currency_code) != (
                token,
                amount_minor,
                currency_code,
            ) or dict(record.metadata) != dict(metadata):
                raise _key_reused(idempotency_key)
            disposition = Disposition.RESPOND
            if record.charge.status is PspStatus.SUCCEEDED:
                dropped = self._draw(faults.drop_success_rate)
                if dropped or token == LOST_RESPONSE:
                    disposition = Disposition.LOSE_RESPONSE
            return ChargeOutcome(record, disposition, delay, replayed=replayed)

    def refund(
        self,
        *,
        idempotency_key: str,
        charge_psp_id: str,
        amount_minor: int,
        currency_code: str,
    ) -> RefundOutcome:
        with self._lock:
            delay = self._faults.latency_ms / 1000
            if self._draw(self._faults.error_rate):
                return RefundOutcome(None, Disposition.UNAVAILABLE, delay, replayed=False)
            _check_key(idempotency_key)
            _check_money(amount_minor, currency_code)
            existing = self._refunds.get(idempotency_key)
            if existing is not None:
                asked = (charge_psp_id, amount_minor, currency_code)
                if (existing.charge_psp_id, existing.amount_minor, existing.currency_code) != asked:
                    raise _key_reused(idempotency_key)
                return RefundOutcome(existing, Disposition.RESPOND, delay, replayed=True)
            refund = self._record_refund(
                idempotency_key, charge_psp_id, amount_minor, currency_code
            )
            return RefundOutcome(refund, Disposition.RESPOND, delay, replayed=False)

    def retrieve_charge(self, idempotency_key: str) -> SimCharge | None:
        with self._lock:
            return self._charges.get(idempotency_key)

    def retrieve_refund(self, idempotency_key: str) -> PspRefund | None:
        with self._lock:
            return self._refunds.get(idempotency_key)

    def charges(self) -> list[SimCharge]:
        with self._lock:
            return list(self._charges.values())

    def refunds(self) -> list[PspRefund]:
        with self._lock:
            return list(self._refunds.values())

    def settlement_csv(
        self, *, created_from: datetime | None = None, created_to: datetime | None = None
    ) -> str:
        """Rows created in [created_from, created_to); both bounds optional."""
        with self._lock:
            log = list(self._log)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(SETTLEMENT_HEADER)
        for entry in log:
            created = _created(entry)
            if created_from is not None and created < created_from:
                continue
            if created_to is not None and created >= created_to:
                continue
            row = _settlement_row(entry)
            if row is not None:
                writer.writerow(row)
        return out.getvalue()

    def _draw(self, rate: float) -> bool:
        # Always draw, whatever the rate, so that changing one rate does not
        # shift which requests another rate hits.
        return self._draws.random() < rate

    def _new_id(self, prefix: str, taken: Mapping[str, object]) -> str:
        while True:
            candidate = f"{prefix}_{self._ids.getrandbits(96):024x}"
            if candidate not in taken:
                return candidate

    def _record_charge(
        self,
        key: str,
        token: str,
        amount_minor: int,
        currency_code: str,
        metadata: Mapping[str, str],
    ) -> SimCharge:
        decline = DECLINE_CODES.get(token, "")
        status = PspStatus.FAILED if decline else PspStatus.SUCCEEDED
        charge = PspCharge(
            psp_id=self._new_id("ch", self._charges_by_id),
            idempotency_key=key,
            amount_minor=amount_minor,
            currency_code=currency_code,
            status=status,
            decline_code=decline,
            fee_minor=0 if decline else fee_minor(amount_minor, currency_code),
            create_time=self._clock.now().astimezone(UTC),
        )
        record = SimCharge(charge, token, MappingProxyType(dict(metadata)))
        self._charges[key] = record
        self._charges_by_id[charge.psp_id] = record
        self._log.append(record)
        self._notify(f"charge.{status.value}", record)
        return record

    def _record_refund(
        self, key: str, charge_psp_id: str, amount_minor: int, currency_code: str
    ) -> PspRefund:
        target = self._charges_by_id.get(charge_psp_id)
        if target is None:
            raise PspRejected(f"no charge {charge_psp_id!r}", code="no_such_charge")
        charge = target.charge
        if charge.status is not PspStatus.SUCCEEDED:
            raise PspRejected(
                "only a succeeded charge can be refunded", code="charge_not_refundable"
            )
        if currency_code != charge.currency_code:
            raise PspRejected(
                f"charge is in {charge.currency_code}, refund in {currency_code}",
                code="currency_mismatch",
            )
        refunded = self._refunded.get(charge.psp_id, 0)
        if refunded + amount_minor > charge.amount_minor:
            raise PspRejected(
                f"{charge.amount_minor - refunded} of the charge is left to refund",
                code="amount_too_large",
            )
        fails = target.token == REFUND_FAILS
        refund = PspRefund(
            psp_id=self._new_id("re", self._refunds),
            idempotency_key=key,
            charge_psp_id=charge.psp_id,
            amount_minor=amount_minor,
            currency_code=currency_code,
            status=PspStatus.FAILED if fails else PspStatus.SUCCEEDED,
            failure_code=REFUND_FAILURE_CODE if fails else "",
            create_time=self._clock.now().astimezone(UTC),
        )
        if not fails:
            self._refunded[charge.psp_id] = refunded + amount_minor
        self._refunds[key] = refund
        self._log.append(refund)
        self._notify(f"refund.{refund.status.value}", refund)
        return refund

    def _notify(self, event_type: str, record: SimCharge | PspRefund) -> None:
        for listener in self._listeners:
            listener(event_type, record)


def _settlement_row(entry: SimCharge | PspRefund) -> tuple[str, ...] | None:
    if isinstance(entry, SimCharge):
        charge = entry.charge
        if charge.status is not PspStatus.SUCCEEDED:
            return None
        kind, psp_id, key = "charge", charge.psp_id, charge.idempotency_key
        currency, created = charge.currency_code, charge.create_time
        gross, fee = charge.amount_minor, charge.fee_minor
    else:
        if entry.status is not PspStatus.SUCCEEDED:
            return None
        kind, psp_id, key = "refund", entry.psp_id, entry.idempotency_key
        currency, created = entry.currency_code, entry.create_time
        gross, fee = -entry.amount_minor, 0
    return (
        kind,
        psp_id,
        key,
        currency,
        major_units(gross, currency),
        major_units(fee, currency),
        major_units(gross - fee, currency),
        payout_id(created, currency),
        rfc3339(created),
    )


def _created(entry: SimCharge | PspRefund) -> datetime:
    return entry.charge.create_time if isinstance(entry, SimCharge) else entry.create_time


def _key_reused(key: str) -> PspRejected:
    return PspRejected(
        f"idempotency key {key!r} was already used with other parameters",
        code="idempotency_key_reused",
    )


def _check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise PspRejected(
            f"idempotency_key must be 1 to {MAX_KEY_LENGTH} characters", code="invalid_request"
        )


def _check_money(amount_minor: int, currency_code: str) -> None:
    if currency_code not in CURRENCY_EXPONENTS:
        raise PspRejected(f"unsupported currency {currency_code!r}", code="invalid_currency")
    if not 0 < amount_minor <= MAX_AMOUNT_MINOR:
        raise PspRejected(
            f"amount_minor must be between 1 and {MAX_AMOUNT_MINOR}", code="invalid_amount"
        )


def _check_metadata(metadata: Mapping[str, str]) -> None:
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise PspRejected("metadata keys and values must be strings", code="invalid_request")
