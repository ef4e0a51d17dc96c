import datetime

from accrue.billing.v1 import catalog_pb2 as _catalog_pb2
from accrue.billing.v1 import customer_pb2 as _customer_pb2
from accrue.billing.v1 import entitlement_pb2 as _entitlement_pb2
from accrue.billing.v1 import invoice_pb2 as _invoice_pb2
from accrue.billing.v1 import ledger_pb2 as _ledger_pb2
from accrue.billing.v1 import payment_pb2 as _payment_pb2
from accrue.billing.v1 import policy_pb2 as _policy_pb2
from accrue.billing.v1 import reconciliation_pb2 as _reconciliation_pb2
from accrue.billing.v1 import subscription_pb2 as _subscription_pb2
from accrue.billing.v1 import test_clock_pb2 as _test_clock_pb2
from accrue.billing.v1 import usage_pb2 as _usage_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProductChanged(_message.Message):
    __slots__ = ("product",)
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    product: _catalog_pb2.Product
    def __init__(self, product: _Optional[_Union[_catalog_pb2.Product, _Mapping]] = ...) -> None: ...

class PriceChanged(_message.Message):
    __slots__ = ("price",)
    PRICE_FIELD_NUMBER: _ClassVar[int]
    price: _catalog_pb2.Price
    def __init__(self, price: _Optional[_Union[_catalog_pb2.Price, _Mapping]] = ...) -> None: ...

class CustomerChanged(_message.Message):
    __slots__ = ("customer",)
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: _customer_pb2.Customer
    def __init__(self, customer: _Optional[_Union[_customer_pb2.Customer, _Mapping]] = ...) -> None: ...

class LedgerTransactionPosted(_message.Message):
    __slots__ = ("transaction",)
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    transaction: _ledger_pb2.LedgerTransaction
    def __init__(self, transaction: _Optional[_Union[_ledger_pb2.LedgerTransaction, _Mapping]] = ...) -> None: ...

class SubscriptionChanged(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: _subscription_pb2.Subscription
    def __init__(self, subscription: _Optional[_Union[_subscription_pb2.Subscription, _Mapping]] = ...) -> None: ...

class InvoiceChanged(_message.Message):
    __slots__ = ("invoice",)
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    invoice: _invoice_pb2.Invoice
    def __init__(self, invoice: _Optional[_Union[_invoice_pb2.Invoice, _Mapping]] = ...) -> None: ...

class CreditNoteCreated(_message.Message):
    __slots__ = ("credit_note",)
    CREDIT_NOTE_FIELD_NUMBER: _ClassVar[int]
    credit_note: _invoice_pb2.CreditNote
    def __init__(self, credit_note: _Optional[_Union[_invoice_pb2.CreditNote, _Mapping]] = ...) -> None: ...

class TestClockChanged(_message.Message):
    __slots__ = ("test_clock",)
    TEST_CLOCK_FIELD_NUMBER: _ClassVar[int]
    test_clock: _test_clock_pb2.TestClock
    def __init__(self, test_clock: _Optional[_Union[_test_clock_pb2.TestClock, _Mapping]] = ...) -> None: ...

class PaymentChanged(_message.Message):
    __slots__ = ("payment",)
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    payment: _payment_pb2.Payment
    def __init__(self, payment: _Optional[_Union[_payment_pb2.Payment, _Mapping]] = ...) -> None: ...

class RefundChanged(_message.Message):
    __slots__ = ("refund",)
    REFUND_FIELD_NUMBER: _ClassVar[int]
    refund: _payment_pb2.Refund
    def __init__(self, refund: _Optional[_Union[_payment_pb2.Refund, _Mapping]] = ...) -> None: ...

class ReconciliationRunCompleted(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: _reconciliation_pb2.ReconciliationRun
    def __init__(self, run: _Optional[_Union[_reconciliation_pb2.ReconciliationRun, _Mapping]] = ...) -> None: ...

class ReconciliationBreakResolved(_message.Message):
    __slots__ = ()
    BREAK_FIELD_NUMBER: _ClassVar[int]
    def __init__(self, **kwargs) -> None: ...

class MeterChanged(_message.Message):
    __slots__ = ("meter",)
    METER_FIELD_NUMBER: _ClassVar[int]
    meter: _usage_pb2.Meter
    def __init__(self, meter: _Optional[_Union[_usage_pb2.Meter, _Mapping]] = ...) -> None: ...

class UsageEventCorrected(_message.Message):
    __slots__ = ("usage_event",)
    USAGE_EVENT_FIELD_NUMBER: _ClassVar[int]
    usage_event: _usage_pb2.UsageEvent
    def __init__(self, usage_event: _Optional[_Union[_usage_pb2.UsageEvent, _Mapping]] = ...) -> None: ...

class FeatureChanged(_message.Message):
    __slots__ = ("feature",)
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    feature: _entitlement_pb2.Feature
    def __init__(self, feature: _Optional[_Union[_entitlement_pb2.Feature, _Mapping]] = ...) -> None: ...

class FeatureAttachmentChanged(_message.Message):
    __slots__ = ("attachment",)
    ATTACHMENT_FIELD_NUMBER: _ClassVar[int]
    attachment: _entitlement_pb2.FeatureAttachment
    def __init__(self, attachment: _Optional[_Union[_entitlement_pb2.FeatureAttachment, _Mapping]] = ...) -> None: ...

class SubscriptionPolicyChanged(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: _policy_pb2.SubscriptionPolicy
    def __init__(self, policy: _Optional[_Union[_policy_pb2.SubscriptionPolicy, _Mapping]] = ...) -> None: ...

class UsageThresholdCrossed(_message.Message):
    __slots__ = ("customer_id", "feature_id", "feature_key", "meter_id", "threshold_percent", "limit", "usage", "period_start_time", "period_end_time")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    FEATURE_ID_FIELD_NUMBER: _ClassVar[int]
    FEATURE_KEY_FIELD_NUMBER: _ClassVar[int]
    METER_ID_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_PERCENT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_TIME_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_TIME_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    feature_id: str
    feature_key: str
    meter_id: str
    threshold_percent: int
    limit: str
    usage: str
    period_start_time: _timestamp_pb2.Timestamp
    period_end_time: _timestamp_pb2.Timestamp
    def __init__(self, customer_id: _Optional[str] = ..., feature_id: _Optional[str] = ..., feature_key: _Optional[str] = ..., meter_id: _Optional[str] = ..., threshold_percent: _Optional[int] = ..., limit: _Optional[str] = ..., usage: _Optional[str] = ..., period_start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period_end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
