"""Parsing settlement reports: both layouts, any chunking, exact amounts, and
malformed input refused with the line and column named."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from accrue.kernel.errors import ValidationFailed
from accrue.payments.psp.simulator import SETTLEMENT_HEADER, SimulatedPsp
from accrue.platform.clock import FixedClock
from accrue.reconciliation import settlement
from accrue.reconciliation.settlement import (
    MAX_LINE_BYTES,
    LineKind,
    ReportDigest,
    SettlementFormat,
    SettlementLine,
    parse_settlement,
    parse_settlement_rows,
)
from tests.reconciliation_files import build_report

pytestmark = pytest.mark.timeout(120)

SIM = SettlementFormat.SIMULATED
BAL = SettlementFormat.BALANCE_TRANSACTIONS
SIM_HEADER = "type,psp_id,reference,currency,gross,fee,net,payout_id,created\n"
BAL_HEADER = "id,type,status,gross,fee,net,currency,reference,payout_id,available_on\n"

BALANCE_FILE = (
    BAL_HEADER
    + "txn_1,charge,available,12.34,0.66,11.68,usd,accrue_pay_1,po_1,2026-11-24\n"
    + "txn_2,refund,available,-5.00,0.00,-5.00,USD,accrue_re_1,po_1,2026-11-24\n"
    + "txn_3,dispute,available,-12.34,15.00,-27.34,USD,accrue_pay_1,po_1,2026-11-25\n"
    + "txn_4,adjustment,available,1,0,1,JPY,ajustement café €5 😀,po_2,2026-11-25\n"
    + "txn_5,fee,pending,-1.500,0.000,-1.500,KWD,,,2026-12-01\n"
    + "txn_6,charge,failed,9.99,0,9.99,USD,accrue_pay_2,,\n"
    + "txn_7,payout,available,-6.34,0.00,-6.34,USD,po_1,,2026-11-26\n"
    + 'txn_8,payout,available,-1,0,-1,JPY,"po_2",po_2,2026-11-26\n'
).encode()


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def parse(data: bytes, fmt: SettlementFormat, size: int = 4096) -> list[SettlementLine]:
    return list(parse_settlement(chunked(data, size), fmt))


def violation(data: bytes, fmt: SettlementFormat, size: int = 4096) -> tuple[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        parse(data, fmt, size)
    (item,) = caught.value.field_violations
    return item.field, item.description


def test_the_simulated_layout_is_what_the_simulator_writes() -> None:
    assert SIM.header == SETTLEMENT_HEADER
    assert not SIM.lists_payouts
    assert BAL.lists_payouts


def test_simulator_report_parses_to_exact_minor_units_in_every_exponent() -> None:
    clock = FixedClock(datetime(2026, 11, 22, 23, 30, tzinfo=UTC))
    psp = SimulatedPsp(clock, seed=3)
    charges = {}
    for key, amount, currency in (("a", 1234, "USD"), ("b", 1234, "JPY"), ("c", 1234, "KWD")):
        outcome = psp.charge(
            idempotency_key=f"accrue_pay_{key}",
            token="tok_visa",
            amount_minor=amount,
            currency_code=currency,
            metadata={},
        )
        assert outcome.charge is not None
        charges[key] = outcome.charge.charge
        clock.advance(timedelta(hours=1))
    psp.refund(
        idempotency_key="accrue_re_a",
        charge_psp_id=charges["a"].psp_id,
        amount_minor=500,
        currency_code="USD",
    )
    lines = parse(psp.settlement_csv().encode(), SIM)
    assert [(x.line_number, x.kind, x.currency_code) for x in lines] == [
        (2, LineKind.CHARGE, "USD"),
        (3, LineKind.CHARGE, "JPY"),
        (4, LineKind.CHARGE, "KWD"),
        (5, LineKind.REFUND, "USD"),
    ]
    assert [(x.gross_minor, x.fee_minor, x.net_minor) for x in lines] == [
        (1234, charges["a"].fee_minor, 1234 - charges["a"].fee_minor),
        (1234, charges["b"].fee_minor, 1234 - charges["b"].fee_minor),
        (1234, charges["c"].fee_minor, 1234 - charges["c"].fee_minor),
        (-500, 0, -500),
    ]
    assert lines[0].occurred_on == date(2026, 11, 22)
    assert lines[1].occurred_on == date(2026, 11, 23)  # 00:30 UTC the next day
    assert lines[0].reference == "accrue_pay_a" and lines[0].psp_id == charges["a"].psp_id
    assert lines[0].payout_id == "po_20261122_USD"
    assert {x.status for x in lines} == {"available"}


def test_balance_transactions_layout_parses_every_kind_and_status() -> None:
    lines = parse(BALANCE_FILE, BAL)
    assert [(x.line_number, x.kind, x.status) for x in lines] == [
        (2, LineKind.CHARGE, "available"),
        (3, LineKind.REFUND, "available"),
        (4, LineKind.DISPUTE, "available"),
        (5, LineKind.ADJUSTMENT, "available"),
        (6, LineKind.FEE, "pending"),
        (7, LineKind.CHARGE, "failed"),
        (8, LineKind.PAYOUT, "available"),
        (9, LineKind.PAYOUT, "available"),
    ]
    charge, _, dispute, adjustment, fee, failed, payout, quoted = lines
    assert (charge.currency_code, charge.gross_minor, charge.fee_minor) == ("USD", 1234, 66)
    assert (dispute.gross_minor, dispute.fee_minor, dispute.net_minor) == (-1234, 1500, -2734)
    assert adjustment.reference == "ajustement café €5 😀"
    assert (adjustment.currency_code, adjustment.net_minor) == ("JPY", 1)
    assert (fee.currency_code, fee.net_minor, fee.payout_id, fee.reference) == (
        "KWD",
        -1500,
        "",
        "",
    )
    assert failed.occurred_on is None and charge.occurred_on == date(2026, 11, 24)
    # A payout row's payout id is its reference, whether or not the column repeats it.
    assert (payout.reference, payout.payout_id, payout.net_minor) == ("po_1", "po_1", -634)
    assert (quoted.reference, quoted.payout_id) == ("po_2", "po_2")


@pytest.mark.parametrize("fmt", list(SettlementFormat))
def test_chunk_sizes_give_identical_lines(fmt: SettlementFormat) -> None:
    report = build_report(seed=11, n=150, fmt=fmt)
    extra = BALANCE_FILE if fmt is BAL else b""
    data = report.data + extra[len(BAL_HEADER) :]
    expected = parse(data, fmt, size=len(data))
    assert len(expected) == report.line_count + extra.count(b"\n") - (1 if extra else 0)
    for size in (1, 2, 3, 7, 4096):
        assert parse(data, fmt, size) == expected


@pytest.mark.parametrize(
    ("currency", "text", "minor"),
    [
        ("JPY", "1234", 1234),
        ("JPY", "-5", -5),
        ("USD", "12.34", 1234),
        ("USD", "12.3", 1230),
        ("USD", "12", 1200),
        ("USD", "-0.01", -1),
        ("USD", "0.00", 0),
        ("KWD", "1.234", 1234),
        ("KWD", "-1.2", -1200),
        ("KWD", "1000000000.000", 10**12),
    ],
)
def test_amounts_are_read_exactly_in_the_currencys_exponent(
    currency: str, text: str, minor: int
) -> None:
    data = (
        f"{SIM_HEADER}refund,re_1,accrue_re_1,{currency},{text},0,{text},po,2026-11-22T10:00:00Z\n"
    )
    (line,) = parse(data.encode(), SIM)
    assert (line.gross_minor, line.net_minor) == (minor, minor)


@pytest.mark.parametrize(
    ("currency", "text", "places"),
    [
        ("JPY", "12.0", 0),
        ("USD", "12.345", 2),
        ("KWD", "1.2345", 3),
        ("USD", "1e3", 2),
        ("USD", "1_000", 2),
        ("USD", "NaN", 2),
        ("USD", " 12.34", 2),
        ("USD", "+12.34", 2),
        ("USD", "12.", 2),
        ("USD", ".5", 2),
        ("USD", "", 2),
        ("USD", "١٢", 2),  # Arabic-Indic digits: int() would take them
    ],
)
def test_amounts_not_in_the_currencys_decimals_are_refused(
    currency: str, text: str, places: int
) -> None:
    data = f"{SIM_HEADER}charge,ch_1,accrue_pay_1,{currency},{text},0,0,po,2026-11-22T10:00:00Z\n"
    assert violation(data.encode(), SIM) == (
        "lines[2].gross",
        f"not a decimal amount in {currency} ({places} places)",
    )


GOOD_SIM_ROW = "charge,ch_1,accrue_pay_1,USD,12.34,0.66,11.68,po_1,2026-11-22T10:00:00Z\n"
GOOD_BAL_ROW = "txn_1,charge,available,12.34,0.66,11.68,USD,accrue_pay_1,po_1,2026-11-24\n"


@pytest.mark.parametrize(
    ("fmt", "data", "field", "says"),
    [
        (SIM, b"", "lines[1]", "empty"),
        (SIM, b"\xef\xbb\xbf", "lines[1]", "empty"),
        (SIM, SIM_HEADER.replace("gross", "amount").encode(), "lines[1].gross", "'amount'"),
        (SIM, BAL_HEADER.encode(), "lines[1].type", "'id'"),
        (SIM, SIM_HEADER.replace("\n", ",extra\n").encode(), "lines[1]", "10 columns"),
        (SIM, (SIM_HEADER + "charge,ch_1\n").encode(), "lines[2]", "2 columns"),
        (SIM, (SIM_HEADER + GOOD_SIM_ROW + GOOD_SIM_ROW[:-1] + ",x\n").encode(), "lines[3]", ""),
        (SIM, (SIM_HEADER + GOOD_SIM_ROW.replace("charge", "payout")).encode(),
         "lines[2].type", "'payout' is not one of charge, refund"),
        (SIM, (SIM_HEADER + GOOD_SIM_ROW.replace("USD", "XYZ")).encode(), "lines[2].currency", ""),
        (SIM, (SIM_HEADER + GOOD_SIM_ROW.replace("0.66", "0.67")).encode(), "lines[2].net", ""),
        (SIM, (SIM_HEADER + GOOD_SIM_ROW.replace("0.66", "0.666")).encode(), "lines[2].fee", ""),
        (SIM, (SIM_HEADER + GOOD_SIM_ROW.replace("11.68", "x")).encode(), "lines[2].net", ""),
        (SIM, (SIM_HEADER + GOOD_SIM_ROW.replace("ch_1", "")).encode(), "lines[2].psp_id", ""),
        (SIM, (SIM_HEADER + GOOD_SIM_ROW.replace("accrue_pay_1", "")).encode(),
         "lines[2].reference", "empty"),
        (SIM, (SIM_HEADER + GOOD_SIM_ROW.replace("T10:00:00Z", "")).encode(),
         "lines[2].created", "RFC 3339"),
        (SIM, (SIM_HEADER + GOOD_SIM_ROW.replace("T10:00:00Z", "T25:00:00Z")).encode(),
         "lines[2].created", "RFC 3339"),
        (SIM, (SIM_HEADER + GOOD_SIM_ROW.replace("-22T", "-32T")).encode(),
         "lines[2].created", "RFC 3339"),
        (SIM, (SIM_HEADER + GOOD_SIM_ROW.replace("12.34", "10000000000000.01")).encode(),
         "lines[2].gross", "exceeds"),
        (SIM, (SIM_HEADER + GOOD_SIM_ROW + "\n" + GOOD_SIM_ROW).encode(), "lines[3]", "empty line"),
        (SIM, (SIM_HEADER + GOOD_SIM_ROW).encode().replace(b"ch_1", b"ch_\xff"), "lines[2]",
         "not UTF-8"),
        (SIM, (SIM_HEADER + GOOD_SIM_ROW.replace("ch_1", '"ch_1')).encode(), "lines[2]", "CSV"),
        (SIM, (SIM_HEADER + "x" * (MAX_LINE_BYTES + 1) + "\n").encode(), "lines[2]", "longer"),
        (SIM, (SIM_HEADER + "x" * (MAX_LINE_BYTES + 1)).encode(), "lines[2]", "longer"),
        (BAL, (BAL_HEADER + GOOD_BAL_ROW.replace("available", "paid")).encode(),
         "lines[2].status", "'paid' is not one of available, pending, failed"),
        (BAL, (BAL_HEADER + GOOD_BAL_ROW.replace("charge", "transfer")).encode(),
         "lines[2].type", "'transfer'"),
        (BAL, (BAL_HEADER + GOOD_BAL_ROW.replace("txn_1", "")).encode(), "lines[2].id", ""),
        (BAL, (BAL_HEADER + GOOD_BAL_ROW.replace("2026-11-24", "2026-13-01")).encode(),
         "lines[2].available_on", "YYYY-MM-DD"),
        (BAL, (BAL_HEADER + GOOD_BAL_ROW.replace("2026-11-24", "20261124")).encode(),
         "lines[2].available_on", "YYYY-MM-DD"),
        (BAL, (BAL_HEADER + "txn_9,payout,available,-1,0,-1,JPY,po_a,po_b,\n").encode(),
         "lines[2].payout_id", "'po_a'"),
        (BAL, (BAL_HEADER + "txn_9,payout,available,-1,0,-1,JPY,,,\n").encode(),
         "lines[2].reference", "empty"),
        (BAL, (BAL_HEADER + GOOD_BAL_ROW.replace("USD", "usd1")).encode(),
         "lines[2].currency", "'usd1' is not a supported ISO 4217 currency"),
    ],
)  # fmt: skip
def test_malformed_input_names_the_line_and_column(
    fmt: SettlementFormat, data: bytes, field: str, says: str
) -> None:
    for size in (1, 7, 4096):
        found, description = violation(data, fmt, size)
        assert found == field
        assert says in description


def test_the_error_example_of_the_contract() -> None:
    rows = [GOOD_SIM_ROW] * 15 + [GOOD_SIM_ROW.replace("12.34", "12.345")]
    data = SIM_HEADER + "".join(r.replace("accrue_pay_1", f"k{i}") for i, r in enumerate(rows))
    assert violation(data.encode(), SIM) == (
        "lines[17].gross",
        "not a decimal amount in USD (2 places)",
    )


@pytest.mark.parametrize("fmt", list(SettlementFormat))
def test_bom_crlf_and_trailing_empty_lines_are_tolerated(fmt: SettlementFormat) -> None:
    data = build_report(seed=5, n=80, fmt=fmt).data
    expected = parse(data, fmt)
    variants = [
        b"\xef\xbb\xbf" + data,
        data.replace(b"\n", b"\r\n"),
        b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n") + b"\r\n",
        data + b"\n",
        data + b"\n\n\r\n",
        data.removesuffix(b"\n"),
    ]
    for variant in variants:
        for size in (1, 3, 4096):
            assert parse(variant, fmt, size) == expected


def test_a_header_only_report_has_no_lines() -> None:
    assert parse(SIM_HEADER.encode(), SIM) == []
    assert parse(BAL_HEADER.encode().removesuffix(b"\n"), BAL) == []


def test_parsing_is_lazy_and_bounded_by_the_line_not_the_file() -> None:
    def endless() -> Iterator[bytes]:
        yield SIM_HEADER.encode() + GOOD_SIM_ROW.encode()
        while True:
            yield b"x" * 1000  # a line that never ends

    lines = parse_settlement(endless(), SIM)
    assert next(lines).line_number == 2  # yielded before the stream ends
    with pytest.raises(ValidationFailed) as caught:
        next(lines)
    assert caught.value.field_violations[0].field == "lines[3]"


def test_report_digest_is_the_sha256_of_the_bytes_whatever_the_chunking() -> None:
    data = build_report(seed=2, n=100, fmt=BAL).data
    expected = hashlib.sha256(data).hexdigest()
    for size in (1, 7, 4096):
        digest = ReportDigest()
        passed = b"".join(digest.tee(chunked(data, size)))
        assert passed == data
        assert digest.hexdigest() == expected
        assert digest.byte_count == len(data)
    other = ReportDigest()
    other.update(data + b"\n")
    assert other.hexdigest() != expected


# -- the fast path reads exactly what the column-by-column path reads -----------

EDGE_SIMULATED = (
    SIM_HEADER
    + "charge,txn_1,accrue_pay_1,USD,12.3,0.66,11.64,po_1,2026-11-24T10:00:00Z\n"
    + "charge,txn_2,accrue_pay_2,usd,12,0.66,11.34,po_1,2026-11-24T10:00:00.123Z\n"
    + "charge,txn_3,accrue_pay_3,KWD,1.2,0.001,1.199,,2026-11-24t10:00:00z\n"
    + "refund,txn_4,accrue_re_1,JPY,-0,0,-0,po_2,2026-11-24T23:59:59+01:00\n"
    + 'charge,"txn_5",accrue_pay_5,EUR,10000000000000.00,0,10000000000000.00,po_3,'
    + "2026-11-24T00:00:00Z\n"
    + "charge,txn_6,accrue_pay_6,EUR,-0.01,0,-0.01,po_3,2026-11-24T00:00:00Z\r\n"
).encode()


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (EDGE_SIMULATED, SIM),
        (BALANCE_FILE, BAL),
        (build_report(seed=3, n=3_000, fmt=SIM).data, SIM),
        (build_report(seed=3, n=3_000, fmt=BAL).data, BAL),
    ],
)
def test_the_fast_path_reads_what_the_general_path_reads(
    data: bytes, fmt: SettlementFormat, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = [row for batch in parse_settlement_rows(chunked(data, 4096), fmt, 97) for row in batch]
    assert all(len(batch) == 97 for batch in list(parse_settlement_rows([data], fmt, 97))[:-1])
    monkeypatch.setattr(settlement, "_fast_simulated", lambda number, text: None)
    monkeypatch.setattr(settlement, "_fast_balance", lambda number, text: None)
    general = [row for batch in parse_settlement_rows([data], fmt) for row in batch]
    assert fast == general
    assert [SettlementLine(*row) for row in fast] == parse(data, fmt)


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("charge,txn_1,accrue_pay_1,USD,12.345,0.66,11.685,po_1,2026-11-24T10:00:00Z", "gross"),
        ("charge,txn_1,accrue_pay_1,JPY,12.0,0,12.0,po_1,2026-11-24T10:00:00Z", "gross"),
        ("charge,txn_1,accrue_pay_1,USD,12.34,0.66,11.67,po_1,2026-11-24T10:00:00Z", "net"),
        ("charge,txn_1,accrue_pay_1,USD,12.34,0.66,11.68,po_1,2026-11-24T24:00:00Z", "created"),
        ("charge,txn_1,accrue_pay_1,USD,12.34,0.66,11.68,po_1,2026-02-30T10:00:00Z", "created"),
        ("charge,txn_1,accrue_pay_1,XXX,12.34,0.66,11.68,po_1,2026-11-24T10:00:00Z", "currency"),
        ("charge,txn_1,accrue_pay_1,USD,١٢.34,0.66,11.68,po_1,2026-11-24T10:00:00Z", "gross"),
        ("charge,,accrue_pay_1,USD,12.34,0.66,11.68,po_1,2026-11-24T10:00:00Z", "psp_id"),
        (
            "charge,txn_1,accrue_pay_1,USD,10000000000000.01,0,10000000000000.01,po_1,"
            "2026-11-24T10:00:00Z",
            "gross",
        ),
    ],
)
def test_what_the_fast_path_refuses_is_refused_naming_line_and_column(
    line: str, field: str
) -> None:
    data = (SIM_HEADER + "charge,txn_0,accrue_pay_0,USD,1.00,0.33,0.67,po_1,2026-11-24T10:00:00Z\n"
            + line + "\n").encode()  # fmt: skip
    with pytest.raises(ValidationFailed) as caught:
        list(parse_settlement_rows([data], SIM))
    (item,) = caught.value.field_violations
    assert item.field == f"lines[3].{field}"
