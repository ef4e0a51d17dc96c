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

from accrue.kernel.errors import ValidationFailed
from accrue.kernel.money import CURRENCY_EXPONENTS, MAX_AMOUNT_MINOR

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


# One data row as a plain tuple, the fields of `SettlementLine` in its order
# (`SettlementLine(*row)` builds the object): millions of rows are parsed,
# matched and summed without building an object per row.
SettlementRow = tuple[int, LineKind, str, str, str, int, int, int, str, str, date | None]
ROW_BATCH = 20_000


def parse_settlement(chunks: Iterable[bytes], fmt: SettlementFormat) -> Iterator[SettlementLine]:
    """The data rows of a report in file order; raises ValidationFailed on the
    first malformed line (nothing after it is read)."""
    for batch in parse_settlement_rows(chunks, fmt):
        for row in batch:
            yield SettlementLine(*row)


def parse_settlement_rows(  # noqa: PLR0912 - one loop over every line, kept flat
    chunks: Iterable[bytes], fmt: SettlementFormat, batch_size: int = ROW_BATCH
) -> Iterator[list[SettlementRow]]:
    """`parse_settlement` as batches of `SettlementRow` tuples, at most `batch_size`
    each: the same rows, checks and errors (every row before a malformed line is
    yielded, then its error raised), an order of magnitude faster.

    Bytes are decoded a block of whole lines at a time and every row is first
    tried against one strict pattern per layout (a single C call checks every
    column's shape). A row the pattern does not accept exactly - quotes, a
    lower-case currency in the simulator's layout, an overlong line, anything
    malformed - takes the general column-by-column path, which either reads it
    or raises the error naming its line and column."""
    layout = _LAYOUTS[fmt]
    fast = _fast_simulated if fmt is SettlementFormat.SIMULATED else _fast_balance
    parse_row = _simulated_row if fmt is SettlementFormat.SIMULATED else _balance_row
    width = len(layout.header)
    header = False
    blank = 0
    batch: list[SettlementRow] = []
    for first, texts, error in _text_blocks(chunks):
        number = first - 1
        for text in texts:
            number += 1
            if not header:
                if not text:
                    break  # the report is empty (error below)
                _check_header(text, layout.header)
                header = True
                continue
            if not text:
                blank = blank or number
                continue
            if blank:
                raise ValidationFailed.on(f"lines[{blank}]", "empty line inside the report")
            row = fast(number, text)
            if row is None:
                fields = _fields(number, text)
                if len(fields) != width:
                    raise ValidationFailed.on(
                        f"lines[{number}]", f"has {len(fields)} columns, the header has {width}"
                    )
                row = _row_of(parse_row(number, fields, layout))
            batch.append(row)
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if not header and number >= first:
            break  # line 1 was read and is empty
        if error is not None:
            if batch:
                yield batch
            raise error
    if batch:
        yield batch
    if not header:
        raise ValidationFailed.on(
            "lines[1]", f"the report is empty; expected the header {','.join(layout.header)}"
        )


def _row_of(line: SettlementLine) -> SettlementRow:
    return (
        line.line_number,
        line.kind,
        line.psp_id,
        line.reference,
        line.currency_code,
        line.gross_minor,
        line.fee_minor,
        line.net_minor,
        line.payout_id,
        line.status,
        line.occurred_on,
    )


_TextBlock = tuple[int, list[str], ValidationFailed | None]


def _text_blocks(chunks: Iterable[bytes]) -> Iterator[_TextBlock]:
    """(number of the first line, the lines' text without line ends, the error
    to raise after them): the whole lines of each chunk, decoded at once."""
    pending = b""
    number = 0
    for chunk in chunks:
        data = pending + chunk if pending else bytes(chunk)
        cut = data.rfind(b"\n")
        if cut < 0:
            pending = data
        else:
            pending = data[cut + 1 :]
            texts, error = _decode_block(data[:cut], number + 1)
            yield number + 1, texts, error
            if error is not None:
                return
            number += len(texts)
        if len(pending) > MAX_LINE_BYTES:
            yield number + 1, [], _too_long(number + 1)
            return
    if pending:
        yield number + 1, *_decode_block(pending, number + 1)


def _decode_block(raw: bytes, first: int) -> tuple[list[str], ValidationFailed | None]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _decode_lines(raw, first)
    if first == 1 and text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:  # one CR before each line end belongs to the line end
        text = text.replace("\r\n", "\n")
        if text.endswith("\r"):
            text = text[:-1]
    texts = text.split("\n")
    # A character is at most 4 bytes: shorter lines are certainly within the bound.
    if len(raw) > MAX_LINE_BYTES // 4 and max(map(len, texts)) > MAX_LINE_BYTES // 4:
        return _decode_lines(raw, first)
    return texts, None


def _decode_lines(raw: bytes, first: int) -> tuple[list[str], ValidationFailed | None]:
    """Line by line, up to the first line that is too long or not UTF-8."""
    texts: list[str] = []
    for number, part in enumerate(raw.split(b"\n"), start=first):
        try:
            texts.append(_decode(part, number))
        except ValidationFailed as exc:
            return texts, exc
    return texts, None


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

# -- the fast path: rows exactly as the simulator and most PSPs write them -----

# An amount as two groups, the whole part with its sign and the decimals with their
# point (or nothing): `-12`, `.34`.
_AMOUNT_TEXT = r"(-?\d{1,24})((?:\.\d{1,24})?)"
_FAST_SIMULATED = re.compile(
    rf"(charge|refund),([^,\"]+),([^,\"]+),([A-Z]{{3}}),{_AMOUNT_TEXT},{_AMOUNT_TEXT},"
    rf"{_AMOUNT_TEXT},([^,\"]*),(\d{{4}}-\d{{2}}-\d{{2}})T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d"
    r"(?:\.\d{1,9})?Z",
    re.ASCII,
)
_FAST_BALANCE = re.compile(
    r"([^,\"]+),(charge|refund|dispute|adjustment|fee|payout),(available|pending|failed),"
    rf"{_AMOUNT_TEXT},{_AMOUNT_TEXT},{_AMOUNT_TEXT},([A-Za-z]{{3}}),([^,\"]*),([^,\"]*),"
    r"(\d{4}-\d{2}-\d{2})?",
    re.ASCII,
)
_KINDS: Mapping[str, LineKind] = MappingProxyType({kind.value: kind for kind in LineKind})


def _scales(exponent: int) -> tuple[int, ...]:
    """By the length of the decimals text (point included): what the digits are
    multiplied by to make minor units, 0 where there are too many decimals."""
    return (10**exponent, 0, *(10 ** (exponent - n) if n <= exponent else 0 for n in range(1, 25)))


# The currency texts read without a second look (each code and its lower case):
# the code, and the scales of its amounts.
_CURRENCY_TEXTS: Mapping[str, tuple[str, tuple[int, ...]]] = MappingProxyType(
    {
        text: (code, _scales(exponent))
        for code, exponent in CURRENCY_EXPONENTS.items()
        for text in (code, code.lower())
    }
)
_MAX = MAX_AMOUNT_MINOR


def _fast_simulated(number: int, text: str) -> SettlementRow | None:
    match = _FAST_SIMULATED.fullmatch(text)
    if match is None:
        return None
    kind, psp_id, reference, currency, gw, gd, fw, fd, nw, nd, payout_id, day = match.groups()
    known = _CURRENCY_TEXTS.get(currency)
    occurred_on = _DAYS.get(day) or _date_of(day)
    if known is None or occurred_on is None:
        return None
    code, scales = known
    gross = int(gw + gd[1:]) * scales[len(gd)]
    fee = int(fw + fd[1:]) * scales[len(fd)]
    net = int(nw + nd[1:]) * scales[len(nd)]
    if (
        net != gross - fee
        or not (scales[len(gd)] and scales[len(fd)] and scales[len(nd)])
        or not (-_MAX <= gross <= _MAX and -_MAX <= fee <= _MAX and -_MAX <= net <= _MAX)
    ):
        return None
    return (
        number,
        _KINDS[kind],
        psp_id,
        reference,
        code,
        gross,
        fee,
        net,
        payout_id,
        "available",
        occurred_on,
    )


def _fast_balance(number: int, text: str) -> SettlementRow | None:
    match = _FAST_BALANCE.fullmatch(text)
    if match is None:
        return None
    psp_id, kind_text, status, gw, gd, fw, fd, nw, nd, currency, reference, payout_id, on = (
        match.groups()
    )
    known = _CURRENCY_TEXTS.get(currency)
    occurred_on = None if on is None else (_DAYS.get(on) or _date_of(on))
    if known is None or (on is not None and occurred_on is None):
        return None
    kind = _KINDS[kind_text]
    if not reference and kind in _REFERENCED:
        return None
    if kind is LineKind.PAYOUT:
        if payout_id not in ("", reference):
            return None
        payout_id = reference
    code, scales = known
    gross = int(gw + gd[1:]) * scales[len(gd)]
    fee = int(fw + fd[1:]) * scales[len(fd)]
    net = int(nw + nd[1:]) * scales[len(nd)]
    if (
        net != gross - fee
        or not (scales[len(gd)] and scales[len(fd)] and scales[len(nd)])
        or not (-_MAX <= gross <= _MAX and -_MAX <= fee <= _MAX and -_MAX <= net <= _MAX)
    ):
        return None
    return (number, kind, psp_id, reference, code, gross, fee, net, payout_id, status, occurred_on)


# Valid dates seen so far (a report spans few days), filled by `_date_of`.
_DAYS: dict[str, date] = {}


@functools.lru_cache(maxsize=1024)
def _date_of(text: str) -> date | None:
    """Dates repeat on every line of a day, so they are parsed once each."""
    if _ISO_DATE.fullmatch(text) is None:
        return None
    try:
        parsed = date.fromisoformat(text)
    except ValueError:
        return None
    if len(_DAYS) < 4096:
        _DAYS[text] = parsed
    return parsed


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
