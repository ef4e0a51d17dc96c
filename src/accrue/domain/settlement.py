"""PSP settlement reports, parsed as a stream.

A settlement report says what the PSP actually moved: which charges and
refunds it settled, what it kept as fees and what it paid to the bank.
Reports run to millions of lines, so `parse_settlement` reads chunks of
bytes of any size and yields one `SettlementLine` at a time: memory is
bounded by the longest line (`MAX_LINE_BYTES`), never by the file. A line
may end in the middle of a chunk and a chunk may end in the middle of a
multi-byte character; lines are split on the `\\n` byte, which UTF-8 never
uses inside a character, and each line is decoded on its own.

Both layouts are UTF-8 CSV with one header line. A UTF-8 BOM, CRLF line
ends and empty lines at the end are tolerated; anything else malformed is
refused with `ValidationFailed`, whose field violation names the physical
line (the header is line 1, the first data row line 2, as an editor shows
them) and the column: `lines[17].gross`.

`SettlementFormat.SIMULATED`, what the built-in PSP simulator writes::

    type,psp_id,reference,currency,gross,fee,net,payout_id,created

`type` is `charge` or `refund`; `reference` is Accrue's PSP idempotency key
(`accrue_<payment or refund id>`); `gross`, `fee` and `net` are decimal
strings in major units with at most the currency's number of decimals
(`12.34` USD, `1234` JPY, `1.234` KWD), a refund's gross is negative;
`payout_id` names the payout the row is paid out in; `created` is RFC 3339.
Every row is settled (status `available`) and the layout lists no payouts.

`SettlementFormat.BALANCE_TRANSACTIONS`, the common balance-transaction
export (Stripe's, trimmed)::

    id,type,status,gross,fee,net,currency,reference,payout_id,available_on

`type` is one of charge, refund, dispute, adjustment, fee, payout; `status`
one of available, pending, failed; `available_on` an ISO date `YYYY-MM-DD`
(or empty). Amounts as above. A `payout` row is money leaving the PSP
balance for the bank, so its `net` is negative (as Stripe writes it): a
payout of 100.00 USD is `-100.00`; its `reference` is the payout's id, and
its `payout_id` is empty or that same id. Lines not yet paid out have an
empty `payout_id`.

In both layouts `net` must equal `gross - fee`, to the minor unit, and the
currency code may be written in either case (`usd` is read as `USD`).
Amounts are parsed with integer arithmetic from a strict pattern: exact,
and free of what `float` or a `Decimal` context would round or accept
(exponents, underscores, NaN).
"""

from __future__ import annotations

import csv
import enum
import functools
import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import MappingProxyType

from accrue.domain.errors import ValidationFailed
from accrue.domain.money import CURRENCY_EXPONENTS, MAX_AMOUNT_MINOR

# A real line is ~150 bytes; the bound keeps a file without line ends from
# being read into memory whole.
MAX_LINE_BYTES = 16 * 1024

_BOM = b"\xef\xbb\xbf"
# re.ASCII: `\d` would otherwise match any script's digits, which int() reads.
_AMOUNT = re.compile(r"(-?)(\d{1,24})(?:\.(\d{1,24}))?", re.ASCII)
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


class SettlementFormat(enum.Enum):
    SIMULATED = "simulated"
    BALANCE_TRANSACTIONS = "balance_transactions"

    @property
    def header(self) -> tuple[str, ...]:
        return _LAYOUTS[self].header

    @property
    def lists_payouts(self) -> bool:
        """Whether the layout has payout rows to tie a payout's lines out against."""
        return LineKind.PAYOUT in _LAYOUTS[self].kinds.values()


class LineKind(enum.Enum):
    CHARGE = "charge"
    REFUND = "refund"
    DISPUTE = "dispute"
    ADJUSTMENT = "adjustment"
    FEE = "fee"
    PAYOUT = "payout"


STATUSES = ("available", "pending", "failed")


@dataclass(frozen=True, slots=True)
class SettlementLine:
    """One data row, amounts in signed minor units of `currency_code`.

    `line_number` is the physical line in the file (header = 1). For a payout
    row, `reference` and `payout_id` are both the payout's id.
    """

    line_number: int
    kind: LineKind
    psp_id: str
    reference: str
    currency_code: str
    gross_minor: int
    fee_minor: int
    net_minor: int
    payout_id: str
    status: str
    occurred_on: date | None


@dataclass(frozen=True, slots=True)
class _Layout:
    header: tuple[str, ...]
    kinds: Mapping[str, LineKind]
    statuses: tuple[str, ...]


_LAYOUTS: Mapping[SettlementFormat, _Layout] = MappingProxyType(
    {
        SettlementFormat.SIMULATED: _Layout(
            header=(
                *("type", "psp_id", "reference", "currency"),
                *("gross", "fee", "net", "payout_id", "created"),
            ),
            kinds=MappingProxyType({"charge": LineKind.CHARGE, "refund": LineKind.REFUND}),
            statuses=("available",),
        ),
        SettlementFormat.BALANCE_TRANSACTIONS: _Layout(
            header=(
                *("id", "type", "status", "gross", "fee", "net"),
                *("currency", "reference", "payout_id", "available_on"),
            ),
            kinds=MappingProxyType({kind.value: kind for kind in LineKind}),
            statuses=STATUSES,
        ),
    }
)


class ReportDigest:
    """SHA-256 of a report's raw bytes, fed as they stream past.

    The digest of the bytes, not of the parsed lines, is what recognises a
    re-import: the same upload gives the same digest whatever the chunking.
    """

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.byte_count = 0

    def update(self, data: bytes) -> None:
        self._hash.update(data)
        self.byte_count += len(data)

    def tee(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Pass `chunks` through unchanged, hashing each on the way."""
        for chunk in chunks:
            self.update(chunk)
            yield chunk

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def parse_settlement(chunks: Iterable[bytes], fmt: SettlementFormat) -> Iterator[SettlementLine]:
    """The data rows of a report in file order; raises ValidationFailed on the
    first malformed line (nothing after it is read)."""
    layout = _LAYOUTS[fmt]
    parse_row = _simulated_row if fmt is SettlementFormat.SIMULATED else _balance_row
    lines = _physical_lines(chunks)
    first = next(lines, None)
    if first is None or not first[1]:
        raise ValidationFailed.on(
            "lines[1]", f"the report is empty; expected the header {','.join(layout.header)}"
        )
    _check_header(first[1], layout.header)
    blank = 0
    for number, text in lines:
        if not text:
            blank = blank or number
            continue
        if blank:
            raise ValidationFailed.on(f"lines[{blank}]", "empty line inside the report")
        fields = _fields(number, text)
        if len(fields) != len(layout.header):
            raise ValidationFailed.on(
                f"lines[{number}]",
                f"has {len(fields)} columns, the header has {len(layout.header)}",
            )
        yield parse_row(number, fields, layout)


def _physical_lines(chunks: Iterable[bytes]) -> Iterator[tuple[int, str]]:
    """(line number, text without its line end), decoded one line at a time."""
    pending = bytearray()
    number = 0
    for chunk in chunks:
        parts = chunk.split(b"\n")
        for part in parts[:-1]:
            number += 1
            if pending:
                pending += part
                raw = bytes(pending)
                pending.clear()
            else:
                raw = part
            yield number, _decode(raw, number)
        pending += parts[-1]
        if len(pending) > MAX_LINE_BYTES:
            raise _too_long(number + 1)
    if pending:
        yield number + 1, _decode(bytes(pending), number + 1)


def _decode(raw: bytes, number: int) -> str:
    if len(raw) > MAX_LINE_BYTES:
        raise _too_long(number)
    if number == 1 and raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationFailed.on(
            f"lines[{number}]", f"not UTF-8 (byte {exc.start + 1} of the line)"
        ) from None
    return text[:-1] if text.endswith("\r") else text


def _too_long(number: int) -> ValidationFailed:
    return ValidationFailed.on(f"lines[{number}]", f"longer than {MAX_LINE_BYTES} bytes")


def _fields(number: int, text: str) -> list[str]:
    if '"' not in text:
        return text.split(",")
    try:
        rows = list(csv.reader([text], strict=True))
    except csv.Error as exc:
        raise ValidationFailed.on(f"lines[{number}]", f"not valid CSV: {exc}") from None
    return rows[0] if rows else []


def _check_header(text: str, expected: tuple[str, ...]) -> None:
    got = _fields(1, text)
    for i, name in enumerate(expected):
        found = got[i].strip() if i < len(got) else ""
        if found != name:
            raise ValidationFailed.on(
                f"lines[1].{name}",
                f"header column {i + 1} must be {name!r}, not {found!r}"
                f" (expected {','.join(expected)})",
            )
    if len(got) != len(expected):
        raise ValidationFailed.on(
            "lines[1]", f"header has {len(got)} columns, expected {','.join(expected)}"
        )


def _fail(number: int, column: str, description: str) -> ValidationFailed:
    return ValidationFailed.on(f"lines[{number}].{column}", description)


def _kind(number: int, text: str, layout: _Layout) -> LineKind:
    kind = layout.kinds.get(text)
    if kind is None:
        raise _fail(number, "type", f"{text!r} is not one of {', '.join(layout.kinds)}")
    return kind


def _currency(number: int, text: str) -> tuple[str, int]:
    exponent = CURRENCY_EXPONENTS.get(text)
    if exponent is not None:
        return text, exponent
    code = text.upper() if text.isascii() else text
    exponent = CURRENCY_EXPONENTS.get(code)
    if exponent is None:
        raise _fail(number, "currency", f"{text!r} is not a supported ISO 4217 currency")
    return code, exponent


def _amounts(number: int, texts: tuple[str, str, str], code: str, exponent: int) -> list[int]:
    """gross, fee and net in minor units, checked to agree: net = gross - fee."""
    gross = _amount(number, "gross", texts[0], code, exponent)
    fee = _amount(number, "fee", texts[1], code, exponent)
    net = _amount(number, "net", texts[2], code, exponent)
    if net != gross - fee:
        raise _fail(
            number,
            "net",
            f"{texts[2]} is not gross {texts[0]} less fee {texts[1]}"
            f" ({_major(gross - fee, exponent)} {code})",
        )
    return [gross, fee, net]


# 10**n for the exponents and padding an amount can need, as exact ints.
_POWERS: tuple[int, ...] = tuple(10**n for n in range(8))


def _amount(number: int, column: str, text: str, code: str, exponent: int) -> int:
    match = _AMOUNT.fullmatch(text)
    decimals = match.group(3) if match is not None else None
    places = len(decimals) if decimals else 0
    if match is None or places > exponent:
        raise _fail(number, column, f"not a decimal amount in {code} ({exponent} places)")
    sign, whole, _ = match.groups()
    minor = int(whole + decimals if decimals else whole) * _POWERS[exponent - places]
    if minor > MAX_AMOUNT_MINOR:
        raise _fail(number, column, f"exceeds {MAX_AMOUNT_MINOR} minor units")
    return -minor if sign else minor


def _required(number: int, column: str, text: str) -> str:
    if not text:
        raise _fail(number, column, "must not be empty")
    return text


def _simulated_row(number: int, fields: Sequence[str], layout: _Layout) -> SettlementLine:
    kind_text, psp_id, reference, currency, gross, fee, net, payout_id, created = fields
    kind = _kind(number, kind_text, layout)
    code, exponent = _currency(number, currency)
    amounts = _amounts(number, (gross, fee, net), code, exponent)
    return SettlementLine(
        line_number=number,
        kind=kind,
        psp_id=_required(number, "psp_id", psp_id),
        reference=_required(number, "reference", reference),
        currency_code=code,
        gross_minor=amounts[0],
        fee_minor=amounts[1],
        net_minor=amounts[2],
        payout_id=payout_id,
        status="available",
        occurred_on=_utc_date(number, created),
    )


def _balance_row(number: int, fields: Sequence[str], layout: _Layout) -> SettlementLine:
    psp_id, kind_text, status, gross, fee, net, currency, reference, payout_id, on = fields
    kind = _kind(number, kind_text, layout)
    if status not in layout.statuses:
        raise _fail(number, "status", f"{status!r} is not one of {', '.join(layout.statuses)}")
    code, exponent = _currency(number, currency)
    amounts = _amounts(number, (gross, fee, net), code, exponent)
    _required(number, "id", psp_id)
    if kind in _REFERENCED:
        _required(number, "reference", reference)
    if kind is LineKind.PAYOUT:
        if payout_id not in ("", reference):
            message = f"a payout row's payout_id must be {reference!r} or empty"
            raise _fail(number, "payout_id", message)
        payout_id = reference
    return SettlementLine(
        line_number=number,
        kind=kind,
        psp_id=psp_id,
        reference=reference,
        currency_code=code,
        gross_minor=amounts[0],
        fee_minor=amounts[1],
        net_minor=amounts[2],
        payout_id=payout_id,
        status=status,
        occurred_on=_iso_date(number, on) if on else None,
    )


_REFERENCED = frozenset({LineKind.CHARGE, LineKind.REFUND, LineKind.PAYOUT})


@functools.lru_cache(maxsize=1024)
def _date_of(text: str) -> date | None:
    """Dates repeat on every line of a day, so they are parsed once each."""
    if _ISO_DATE.fullmatch(text) is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _iso_date(number: int, text: str) -> date:
    parsed = _date_of(text)
    if parsed is None:
        raise _fail(number, "available_on", f"{text!r} is not a date YYYY-MM-DD")
    return parsed


def _utc_date(number: int, text: str) -> date:
    if text.endswith("Z") and _RFC3339.fullmatch(text):
        parsed = _date_of(text[:10])  # already UTC: the date is the text's own
        if parsed is not None:
            _time_of_day(number, text)
            return parsed
    try:
        if not _RFC3339.fullmatch(text):
            raise ValueError(text)
        return datetime.fromisoformat(text.upper()).astimezone(UTC).date()
    except ValueError:
        raise _fail(number, "created", f"{text!r} is not an RFC 3339 timestamp") from None


def _time_of_day(number: int, text: str) -> None:
    hour, minute, second = int(text[11:13]), int(text[14:16]), int(text[17:19])
    if hour > 23 or minute > 59 or second > 59:
        raise _fail(number, "created", f"{text!r} is not an RFC 3339 timestamp")


def _major(minor: int, exponent: int) -> str:
    sign = "-" if minor < 0 else ""
    units, rest = divmod(abs(minor), 10**exponent)
    return f"{sign}{units}.{rest:0{exponent}d}" if exponent else f"{sign}{units}"
