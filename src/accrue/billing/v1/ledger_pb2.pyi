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

class AccountType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCOUNT_TYPE_UNSPECIFIED: _ClassVar[AccountType]
    ACCOUNT_TYPE_ASSET: _ClassVar[AccountType]
    ACCOUNT_TYPE_LIABILITY: _ClassVar[AccountType]
    ACCOUNT_TYPE_EQUITY: _ClassVar[AccountType]
    ACCOUNT_TYPE_REVENUE: _ClassVar[AccountType]
    ACCOUNT_TYPE_EXPENSE: _ClassVar[AccountType]

class EntryDirection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENTRY_DIRECTION_UNSPECIFIED: _ClassVar[EntryDirection]
    ENTRY_DIRECTION_DEBIT: _ClassVar[EntryDirection]
    ENTRY_DIRECTION_CREDIT: _ClassVar[EntryDirection]
ACCOUNT_TYPE_UNSPECIFIED: AccountType
ACCOUNT_TYPE_ASSET: AccountType
ACCOUNT_TYPE_LIABILITY: AccountType
ACCOUNT_TYPE_EQUITY: AccountType
ACCOUNT_TYPE_REVENUE: AccountType
ACCOUNT_TYPE_EXPENSE: AccountType
ENTRY_DIRECTION_UNSPECIFIED: EntryDirection
ENTRY_DIRECTION_DEBIT: EntryDirection
ENTRY_DIRECTION_CREDIT: EntryDirection

class Account(_message.Message):
    __slots__ = ("id", "code", "currency_code", "customer_id", "type", "normal_balance", "balance", "debits", "credits", "create_time", "update_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NORMAL_BALANCE_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    DEBITS_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    code: str
    currency_code: str
    customer_id: str
    type: AccountType
    normal_balance: EntryDirection
    balance: _money_pb2.Money
    debits: _money_pb2.Money
    credits: _money_pb2.Money
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., code: _Optional[str] = ..., currency_code: _Optional[str] = ..., customer_id: _Optional[str] = ..., type: _Optional[_Union[AccountType, str]] = ..., normal_balance: _Optional[_Union[EntryDirection, str]] = ..., balance: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., debits: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., credits: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LedgerEntry(_message.Message):
    __slots__ = ("account_id", "direction", "amount")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    direction: EntryDirection
    amount: _money_pb2.Money
    def __init__(self, account_id: _Optional[str] = ..., direction: _Optional[_Union[EntryDirection, str]] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class LedgerTransaction(_message.Message):
    __slots__ = ("id", "sequence", "entries", "source_type", "source_id", "description", "reason", "resource_type", "resource_id", "reverses_transaction_id", "trace_id", "post_time", "previous_hash", "hash")
    ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    REVERSES_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    POST_TIME_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_HASH_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    id: str
    sequence: int
    entries: _containers.RepeatedCompositeFieldContainer[LedgerEntry]
    source_type: str
    source_id: str
    description: str
    reason: str
    resource_type: str
    resource_id: str
    reverses_transaction_id: str
    trace_id: str
    post_time: _timestamp_pb2.Timestamp
    previous_hash: str
    hash: str
    def __init__(self, id: _Optional[str] = ..., sequence: _Optional[int] = ..., entries: _Optional[_Iterable[_Union[LedgerEntry, _Mapping]]] = ..., source_type: _Optional[str] = ..., source_id: _Optional[str] = ..., description: _Optional[str] = ..., reason: _Optional[str] = ..., resource_type: _Optional[str] = ..., resource_id: _Optional[str] = ..., reverses_transaction_id: _Optional[str] = ..., trace_id: _Optional[str] = ..., post_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., previous_hash: _Optional[str] = ..., hash: _Optional[str] = ...) -> None: ...

class ListAccountsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "currency_code", "customer_id", "code")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    currency_code: str
    customer_id: str
    code: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., currency_code: _Optional[str] = ..., customer_id: _Optional[str] = ..., code: _Optional[str] = ...) -> None: ...

class ListAccountsResponse(_message.Message):
    __slots__ = ("accounts", "next_page_token")
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    accounts: _containers.RepeatedCompositeFieldContainer[Account]
    next_page_token: str
    def __init__(self, accounts: _Optional[_Iterable[_Union[Account, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetAccountRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListTransactionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "account_id", "source_type", "source_id", "start_time", "end_time")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    account_id: str
    source_type: str
    source_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., account_id: _Optional[str] = ..., source_type: _Optional[str] = ..., source_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListTransactionsResponse(_message.Message):
    __slots__ = ("transactions", "next_page_token")
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    transactions: _containers.RepeatedCompositeFieldContainer[LedgerTransaction]
    next_page_token: str
    def __init__(self, transactions: _Optional[_Iterable[_Union[LedgerTransaction, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetTransactionRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class CreateAdjustmentRequest(_message.Message):
    __slots__ = ("entries", "reason", "description", "request_id")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[LedgerEntry]
    reason: str
    description: str
    request_id: str
    def __init__(self, entries: _Optional[_Iterable[_Union[LedgerEntry, _Mapping]]] = ..., reason: _Optional[str] = ..., description: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ReverseTransactionRequest(_message.Message):
    __slots__ = ("transaction_id", "reason", "request_id")
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    reason: str
    request_id: str
    def __init__(self, transaction_id: _Optional[str] = ..., reason: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class VerifyLedgerRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ChainBreak(_message.Message):
    __slots__ = ("sequence", "transaction_id", "problem")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    transaction_id: str
    problem: str
    def __init__(self, sequence: _Optional[int] = ..., transaction_id: _Optional[str] = ..., problem: _Optional[str] = ...) -> None: ...

class BalanceMismatch(_message.Message):
    __slots__ = ("account_id", "stored_net", "computed_net")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_NET_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_NET_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    stored_net: _money_pb2.Money
    computed_net: _money_pb2.Money
    def __init__(self, account_id: _Optional[str] = ..., stored_net: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., computed_net: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class VerifyLedgerResponse(_message.Message):
    __slots__ = ("intact", "transactions_checked", "accounts_checked", "first_break", "balance_mismatches", "unsequenced_transactions", "oldest_unsequenced_age_ms")
    INTACT_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    FIRST_BREAK_FIELD_NUMBER: _ClassVar[int]
    BALANCE_MISMATCHES_FIELD_NUMBER: _ClassVar[int]
    UNSEQUENCED_TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    OLDEST_UNSEQUENCED_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    intact: bool
    transactions_checked: int
    accounts_checked: int
    first_break: ChainBreak
    balance_mismatches: _containers.RepeatedCompositeFieldContainer[BalanceMismatch]
    unsequenced_transactions: int
    oldest_unsequenced_age_ms: int
    def __init__(self, intact: _Optional[bool] = ..., transactions_checked: _Optional[int] = ..., accounts_checked: _Optional[int] = ..., first_break: _Optional[_Union[ChainBreak, _Mapping]] = ..., balance_mismatches: _Optional[_Iterable[_Union[BalanceMismatch, _Mapping]]] = ..., unsequenced_transactions: _Optional[int] = ..., oldest_unsequenced_age_ms: _Optional[int] = ...) -> None: ...
