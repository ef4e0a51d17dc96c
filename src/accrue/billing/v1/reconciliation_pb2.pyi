import datetime

from accrue.billing.v1 import money_pb2 as _money_pb2
from buf.validate import validate_pb2 as _validate_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SettlementFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SETTLEMENT_FORMAT_UNSPECIFIED: _ClassVar[SettlementFormat]
    SETTLEMENT_FORMAT_SIMULATED: _ClassVar[SettlementFormat]
    SETTLEMENT_FORMAT_BALANCE_TRANSACTIONS: _ClassVar[SettlementFormat]

class BreakCategory(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BREAK_CATEGORY_UNSPECIFIED: _ClassVar[BreakCategory]
    BREAK_CATEGORY_MISSING_INTERNALLY: _ClassVar[BreakCategory]
    BREAK_CATEGORY_MISSING_AT_PSP: _ClassVar[BreakCategory]
    BREAK_CATEGORY_DUPLICATE: _ClassVar[BreakCategory]
    BREAK_CATEGORY_AMOUNT_MISMATCH: _ClassVar[BreakCategory]
    BREAK_CATEGORY_CURRENCY_MISMATCH: _ClassVar[BreakCategory]
    BREAK_CATEGORY_FEE_MISMATCH: _ClassVar[BreakCategory]
    BREAK_CATEGORY_STATUS_MISMATCH: _ClassVar[BreakCategory]
    BREAK_CATEGORY_PENDING_AT_CUTOFF: _ClassVar[BreakCategory]
    BREAK_CATEGORY_PAYOUT_MISMATCH: _ClassVar[BreakCategory]
SETTLEMENT_FORMAT_UNSPECIFIED: SettlementFormat
SETTLEMENT_FORMAT_SIMULATED: SettlementFormat
SETTLEMENT_FORMAT_BALANCE_TRANSACTIONS: SettlementFormat
BREAK_CATEGORY_UNSPECIFIED: BreakCategory
BREAK_CATEGORY_MISSING_INTERNALLY: BreakCategory
BREAK_CATEGORY_MISSING_AT_PSP: BreakCategory
BREAK_CATEGORY_DUPLICATE: BreakCategory
BREAK_CATEGORY_AMOUNT_MISMATCH: BreakCategory
BREAK_CATEGORY_CURRENCY_MISMATCH: BreakCategory
BREAK_CATEGORY_FEE_MISMATCH: BreakCategory
BREAK_CATEGORY_STATUS_MISMATCH: BreakCategory
BREAK_CATEGORY_PENDING_AT_CUTOFF: BreakCategory
BREAK_CATEGORY_PAYOUT_MISMATCH: BreakCategory

class SettlementReportHeader(_message.Message):
    __slots__ = ("format", "psp", "cut_off_time", "file_name")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    PSP_FIELD_NUMBER: _ClassVar[int]
    CUT_OFF_TIME_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    format: SettlementFormat
    psp: str
    cut_off_time: _timestamp_pb2.Timestamp
    file_name: str
    def __init__(self, format: _Optional[_Union[SettlementFormat, str]] = ..., psp: _Optional[str] = ..., cut_off_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., file_name: _Optional[str] = ...) -> None: ...

class ImportSettlementReportRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: SettlementReportHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[SettlementReportHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class ReconciliationTotals(_message.Message):
    __slots__ = ("currency_code", "line_count", "matched_count", "matched_gross", "matched_fees", "matched_net")
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    LINE_COUNT_FIELD_NUMBER: _ClassVar[int]
    MATCHED_COUNT_FIELD_NUMBER: _ClassVar[int]
    MATCHED_GROSS_FIELD_NUMBER: _ClassVar[int]
    MATCHED_FEES_FIELD_NUMBER: _ClassVar[int]
    MATCHED_NET_FIELD_NUMBER: _ClassVar[int]
    currency_code: str
    line_count: int
    matched_count: int
    matched_gross: _money_pb2.Money
    matched_fees: _money_pb2.Money
    matched_net: _money_pb2.Money
    def __init__(self, currency_code: _Optional[str] = ..., line_count: _Optional[int] = ..., matched_count: _Optional[int] = ..., matched_gross: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., matched_fees: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., matched_net: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class BreakCount(_message.Message):
    __slots__ = ("category", "count")
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    category: BreakCategory
    count: int
    def __init__(self, category: _Optional[_Union[BreakCategory, str]] = ..., count: _Optional[int] = ...) -> None: ...

class ReconciliationRun(_message.Message):
    __slots__ = ("id", "psp", "format", "file_name", "report_sha256", "cut_off_time", "line_count", "matched_count", "break_count", "breaks_by_category", "totals", "payout_count", "payouts_tied_out", "ledger_transaction_count", "create_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    PSP_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    REPORT_SHA256_FIELD_NUMBER: _ClassVar[int]
    CUT_OFF_TIME_FIELD_NUMBER: _ClassVar[int]
    LINE_COUNT_FIELD_NUMBER: _ClassVar[int]
    MATCHED_COUNT_FIELD_NUMBER: _ClassVar[int]
    BREAK_COUNT_FIELD_NUMBER: _ClassVar[int]
    BREAKS_BY_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    PAYOUT_COUNT_FIELD_NUMBER: _ClassVar[int]
    PAYOUTS_TIED_OUT_FIELD_NUMBER: _ClassVar[int]
    LEDGER_TRANSACTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    psp: str
    format: SettlementFormat
    file_name: str
    report_sha256: str
    cut_off_time: _timestamp_pb2.Timestamp
    line_count: int
    matched_count: int
    break_count: int
    breaks_by_category: _containers.RepeatedCompositeFieldContainer[BreakCount]
    totals: _containers.RepeatedCompositeFieldContainer[ReconciliationTotals]
    payout_count: int
    payouts_tied_out: int
    ledger_transaction_count: int
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., psp: _Optional[str] = ..., format: _Optional[_Union[SettlementFormat, str]] = ..., file_name: _Optional[str] = ..., report_sha256: _Optional[str] = ..., cut_off_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., line_count: _Optional[int] = ..., matched_count: _Optional[int] = ..., break_count: _Optional[int] = ..., breaks_by_category: _Optional[_Iterable[_Union[BreakCount, _Mapping]]] = ..., totals: _Optional[_Iterable[_Union[ReconciliationTotals, _Mapping]]] = ..., payout_count: _Optional[int] = ..., payouts_tied_out: _Optional[int] = ..., ledger_transaction_count: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReconciliationBreak(_message.Message):
    __slots__ = ("id", "run_id", "category", "line_number", "reference", "record_id", "payout_id", "expected", "actual", "detail", "resolved", "resolution_note", "resolved_by", "resolve_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    LINE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    PAYOUT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_NOTE_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_BY_FIELD_NUMBER: _ClassVar[int]
    RESOLVE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    run_id: str
    category: BreakCategory
    line_number: int
    reference: str
    record_id: str
    payout_id: str
    expected: _money_pb2.Money
    actual: _money_pb2.Money
    detail: str
    resolved: bool
    resolution_note: str
    resolved_by: str
    resolve_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., run_id: _Optional[str] = ..., category: _Optional[_Union[BreakCategory, str]] = ..., line_number: _Optional[int] = ..., reference: _Optional[str] = ..., record_id: _Optional[str] = ..., payout_id: _Optional[str] = ..., expected: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., actual: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., detail: _Optional[str] = ..., resolved: _Optional[bool] = ..., resolution_note: _Optional[str] = ..., resolved_by: _Optional[str] = ..., resolve_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetReconciliationRunRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListReconciliationRunsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListReconciliationRunsResponse(_message.Message):
    __slots__ = ("runs", "next_page_token")
    RUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[ReconciliationRun]
    next_page_token: str
    def __init__(self, runs: _Optional[_Iterable[_Union[ReconciliationRun, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListReconciliationBreaksRequest(_message.Message):
    __slots__ = ("run_id", "category", "page_size", "page_token")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    category: BreakCategory
    page_size: int
    page_token: str
    def __init__(self, run_id: _Optional[str] = ..., category: _Optional[_Union[BreakCategory, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListReconciliationBreaksResponse(_message.Message):
    __slots__ = ("breaks", "next_page_token")
    BREAKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    breaks: _containers.RepeatedCompositeFieldContainer[ReconciliationBreak]
    next_page_token: str
    def __init__(self, breaks: _Optional[_Iterable[_Union[ReconciliationBreak, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ResolveReconciliationBreakRequest(_message.Message):
    __slots__ = ("id", "note", "request_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    note: str
    request_id: str
    def __init__(self, id: _Optional[str] = ..., note: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...
