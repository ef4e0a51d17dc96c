import datetime

from accrue.billing.v1 import catalog_pb2 as _catalog_pb2
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

class InvoiceStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INVOICE_STATUS_UNSPECIFIED: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_DRAFT: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_OPEN: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_PAID: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_VOID: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_UNCOLLECTIBLE: _ClassVar[InvoiceStatus]

class BillingReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BILLING_REASON_UNSPECIFIED: _ClassVar[BillingReason]
    BILLING_REASON_MANUAL: _ClassVar[BillingReason]
    BILLING_REASON_SUBSCRIPTION_CREATE: _ClassVar[BillingReason]
    BILLING_REASON_SUBSCRIPTION_CYCLE: _ClassVar[BillingReason]
    BILLING_REASON_SUBSCRIPTION_UPDATE: _ClassVar[BillingReason]
    BILLING_REASON_SUBSCRIPTION_ADJUSTMENT: _ClassVar[BillingReason]

class CollectionMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COLLECTION_METHOD_UNSPECIFIED: _ClassVar[CollectionMethod]
    COLLECTION_METHOD_CHARGE_AUTOMATICALLY: _ClassVar[CollectionMethod]
    COLLECTION_METHOD_SEND_INVOICE: _ClassVar[CollectionMethod]

class CreditNoteReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CREDIT_NOTE_REASON_UNSPECIFIED: _ClassVar[CreditNoteReason]
    CREDIT_NOTE_REASON_DUPLICATE: _ClassVar[CreditNoteReason]
    CREDIT_NOTE_REASON_SERVICE_CREDIT: _ClassVar[CreditNoteReason]
    CREDIT_NOTE_REASON_ORDER_CHANGE: _ClassVar[CreditNoteReason]
    CREDIT_NOTE_REASON_PRODUCT_UNSATISFACTORY: _ClassVar[CreditNoteReason]
INVOICE_STATUS_UNSPECIFIED: InvoiceStatus
INVOICE_STATUS_DRAFT: InvoiceStatus
INVOICE_STATUS_OPEN: InvoiceStatus
INVOICE_STATUS_PAID: InvoiceStatus
INVOICE_STATUS_VOID: InvoiceStatus
INVOICE_STATUS_UNCOLLECTIBLE: InvoiceStatus
BILLING_REASON_UNSPECIFIED: BillingReason
BILLING_REASON_MANUAL: BillingReason
BILLING_REASON_SUBSCRIPTION_CREATE: BillingReason
BILLING_REASON_SUBSCRIPTION_CYCLE: BillingReason
BILLING_REASON_SUBSCRIPTION_UPDATE: BillingReason
BILLING_REASON_SUBSCRIPTION_ADJUSTMENT: BillingReason
COLLECTION_METHOD_UNSPECIFIED: CollectionMethod
COLLECTION_METHOD_CHARGE_AUTOMATICALLY: CollectionMethod
COLLECTION_METHOD_SEND_INVOICE: CollectionMethod
CREDIT_NOTE_REASON_UNSPECIFIED: CreditNoteReason
CREDIT_NOTE_REASON_DUPLICATE: CreditNoteReason
CREDIT_NOTE_REASON_SERVICE_CREDIT: CreditNoteReason
CREDIT_NOTE_REASON_ORDER_CHANGE: CreditNoteReason
CREDIT_NOTE_REASON_PRODUCT_UNSATISFACTORY: CreditNoteReason

class TaxRate(_message.Message):
    __slots__ = ("jurisdiction", "display_name", "rate")
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    RATE_FIELD_NUMBER: _ClassVar[int]
    jurisdiction: str
    display_name: str
    rate: str
    def __init__(self, jurisdiction: _Optional[str] = ..., display_name: _Optional[str] = ..., rate: _Optional[str] = ...) -> None: ...

class LineDerivation(_message.Message):
    __slots__ = ("fraction", "full_period_amount_minor", "unrounded_amount", "unrounded_tax", "rounding", "explanation")
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    FULL_PERIOD_AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    UNROUNDED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    UNROUNDED_TAX_FIELD_NUMBER: _ClassVar[int]
    ROUNDING_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    fraction: str
    full_period_amount_minor: int
    unrounded_amount: str
    unrounded_tax: str
    rounding: str
    explanation: str
    def __init__(self, fraction: _Optional[str] = ..., full_period_amount_minor: _Optional[int] = ..., unrounded_amount: _Optional[str] = ..., unrounded_tax: _Optional[str] = ..., rounding: _Optional[str] = ..., explanation: _Optional[str] = ...) -> None: ...

class InvoiceLine(_message.Message):
    __slots__ = ("line_number", "description", "price_id", "subscription_id", "quantity", "unit_amount", "amount", "tax_behavior", "net_amount", "tax_amount", "tax_rate", "period_start", "period_end", "proration", "derivation")
    LINE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PRICE_ID_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TAX_BEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    NET_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TAX_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TAX_RATE_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    PRORATION_FIELD_NUMBER: _ClassVar[int]
    DERIVATION_FIELD_NUMBER: _ClassVar[int]
    line_number: int
    description: str
    price_id: str
    subscription_id: str
    quantity: int
    unit_amount: _money_pb2.Money
    amount: _money_pb2.Money
    tax_behavior: _catalog_pb2.TaxBehavior
    net_amount: _money_pb2.Money
    tax_amount: _money_pb2.Money
    tax_rate: TaxRate
    period_start: _timestamp_pb2.Timestamp
    period_end: _timestamp_pb2.Timestamp
    proration: bool
    derivation: LineDerivation
    def __init__(self, line_number: _Optional[int] = ..., description: _Optional[str] = ..., price_id: _Optional[str] = ..., subscription_id: _Optional[str] = ..., quantity: _Optional[int] = ..., unit_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., tax_behavior: _Optional[_Union[_catalog_pb2.TaxBehavior, str]] = ..., net_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., tax_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., tax_rate: _Optional[_Union[TaxRate, _Mapping]] = ..., period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., proration: _Optional[bool] = ..., derivation: _Optional[_Union[LineDerivation, _Mapping]] = ...) -> None: ...

class Invoice(_message.Message):
    __slots__ = ("id", "number", "customer_id", "subscription_id", "status", "billing_reason", "currency_code", "lines", "subtotal", "tax", "total", "credit_applied", "credited", "amount_due", "amount_paid", "period_start", "period_end", "test_clock_id", "ledger_transaction_id", "create_time", "finalize_time", "close_time", "collection_method", "attempt_count", "next_payment_attempt_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    BILLING_REASON_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    SUBTOTAL_FIELD_NUMBER: _ClassVar[int]
    TAX_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    CREDIT_APPLIED_FIELD_NUMBER: _ClassVar[int]
    CREDITED_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_DUE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_PAID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    TEST_CLOCK_ID_FIELD_NUMBER: _ClassVar[int]
    LEDGER_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    FINALIZE_TIME_FIELD_NUMBER: _ClassVar[int]
    CLOSE_TIME_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_METHOD_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_COUNT_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAYMENT_ATTEMPT_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    number: str
    customer_id: str
    subscription_id: str
    status: InvoiceStatus
    billing_reason: BillingReason
    currency_code: str
    lines: _containers.RepeatedCompositeFieldContainer[InvoiceLine]
    subtotal: _money_pb2.Money
    tax: _money_pb2.Money
    total: _money_pb2.Money
    credit_applied: _money_pb2.Money
    credited: _money_pb2.Money
    amount_due: _money_pb2.Money
    amount_paid: _money_pb2.Money
    period_start: _timestamp_pb2.Timestamp
    period_end: _timestamp_pb2.Timestamp
    test_clock_id: str
    ledger_transaction_id: str
    create_time: _timestamp_pb2.Timestamp
    finalize_time: _timestamp_pb2.Timestamp
    close_time: _timestamp_pb2.Timestamp
    collection_method: CollectionMethod
    attempt_count: int
    next_payment_attempt_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., number: _Optional[str] = ..., customer_id: _Optional[str] = ..., subscription_id: _Optional[str] = ..., status: _Optional[_Union[InvoiceStatus, str]] = ..., billing_reason: _Optional[_Union[BillingReason, str]] = ..., currency_code: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[InvoiceLine, _Mapping]]] = ..., subtotal: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., tax: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., total: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., credit_applied: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., credited: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., amount_due: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., amount_paid: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., test_clock_id: _Optional[str] = ..., ledger_transaction_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finalize_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., close_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., collection_method: _Optional[_Union[CollectionMethod, str]] = ..., attempt_count: _Optional[int] = ..., next_payment_attempt_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreditNote(_message.Message):
    __slots__ = ("id", "number", "invoice_id", "customer_id", "amount", "tax", "applied_to_invoice", "credit_balance_added", "reason", "memo", "ledger_transaction_id", "create_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TAX_FIELD_NUMBER: _ClassVar[int]
    APPLIED_TO_INVOICE_FIELD_NUMBER: _ClassVar[int]
    CREDIT_BALANCE_ADDED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MEMO_FIELD_NUMBER: _ClassVar[int]
    LEDGER_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    number: str
    invoice_id: str
    customer_id: str
    amount: _money_pb2.Money
    tax: _money_pb2.Money
    applied_to_invoice: _money_pb2.Money
    credit_balance_added: _money_pb2.Money
    reason: CreditNoteReason
    memo: str
    ledger_transaction_id: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., number: _Optional[str] = ..., invoice_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., tax: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., applied_to_invoice: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., credit_balance_added: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., reason: _Optional[_Union[CreditNoteReason, str]] = ..., memo: _Optional[str] = ..., ledger_transaction_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class InvoiceLineInput(_message.Message):
    __slots__ = ("price_id", "quantity", "unit_amount", "description")
    PRICE_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    price_id: str
    quantity: int
    unit_amount: _money_pb2.Money
    description: str
    def __init__(self, price_id: _Optional[str] = ..., quantity: _Optional[int] = ..., unit_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., description: _Optional[str] = ...) -> None: ...

class CreateInvoiceRequest(_message.Message):
    __slots__ = ("customer_id", "lines", "request_id")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    lines: _containers.RepeatedCompositeFieldContainer[InvoiceLineInput]
    request_id: str
    def __init__(self, customer_id: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[InvoiceLineInput, _Mapping]]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetInvoiceRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListInvoicesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "customer_id", "subscription_id", "status")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    customer_id: str
    subscription_id: str
    status: InvoiceStatus
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., customer_id: _Optional[str] = ..., subscription_id: _Optional[str] = ..., status: _Optional[_Union[InvoiceStatus, str]] = ...) -> None: ...

class ListInvoicesResponse(_message.Message):
    __slots__ = ("invoices", "next_page_token")
    INVOICES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    invoices: _containers.RepeatedCompositeFieldContainer[Invoice]
    next_page_token: str
    def __init__(self, invoices: _Optional[_Iterable[_Union[Invoice, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class FinalizeInvoiceRequest(_message.Message):
    __slots__ = ("id", "request_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    request_id: str
    def __init__(self, id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class VoidInvoiceRequest(_message.Message):
    __slots__ = ("id", "request_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    request_id: str
    def __init__(self, id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class MarkInvoiceUncollectibleRequest(_message.Message):
    __slots__ = ("id", "request_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    request_id: str
    def __init__(self, id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetUpcomingInvoiceRequest(_message.Message):
    __slots__ = ("subscription_id",)
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    def __init__(self, subscription_id: _Optional[str] = ...) -> None: ...

class CreateCreditNoteRequest(_message.Message):
    __slots__ = ("invoice_id", "amount", "reason", "memo", "request_id")
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MEMO_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    amount: _money_pb2.Money
    reason: CreditNoteReason
    memo: str
    request_id: str
    def __init__(self, invoice_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., reason: _Optional[_Union[CreditNoteReason, str]] = ..., memo: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ListCreditNotesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "invoice_id", "customer_id")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    invoice_id: str
    customer_id: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., invoice_id: _Optional[str] = ..., customer_id: _Optional[str] = ...) -> None: ...

class ListCreditNotesResponse(_message.Message):
    __slots__ = ("credit_notes", "next_page_token")
    CREDIT_NOTES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    credit_notes: _containers.RepeatedCompositeFieldContainer[CreditNote]
    next_page_token: str
    def __init__(self, credit_notes: _Optional[_Iterable[_Union[CreditNote, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetInvoiceDocumentRequest(_message.Message):
    __slots__ = ("invoice_id", "credit_note_id")
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    CREDIT_NOTE_ID_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    credit_note_id: str
    def __init__(self, invoice_id: _Optional[str] = ..., credit_note_id: _Optional[str] = ...) -> None: ...

class InvoiceDocument(_message.Message):
    __slots__ = ("content", "content_type", "sha256", "file_name", "version")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    content: bytes
    content_type: str
    sha256: str
    file_name: str
    version: int
    def __init__(self, content: _Optional[bytes] = ..., content_type: _Optional[str] = ..., sha256: _Optional[str] = ..., file_name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class CreateInvoiceLinkRequest(_message.Message):
    __slots__ = ("invoice_id", "ttl_seconds")
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    ttl_seconds: int
    def __init__(self, invoice_id: _Optional[str] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class InvoiceLink(_message.Message):
    __slots__ = ("url", "path", "expire_time")
    URL_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    url: str
    path: str
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, url: _Optional[str] = ..., path: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
