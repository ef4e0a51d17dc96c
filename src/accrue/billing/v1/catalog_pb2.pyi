import datetime

from accrue.billing.v1 import common_pb2 as _common_pb2
from accrue.billing.v1 import money_pb2 as _money_pb2
from buf.validate import validate_pb2 as _validate_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PricingScheme(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRICING_SCHEME_UNSPECIFIED: _ClassVar[PricingScheme]
    PRICING_SCHEME_FLAT: _ClassVar[PricingScheme]
    PRICING_SCHEME_PER_UNIT: _ClassVar[PricingScheme]
    PRICING_SCHEME_TIERED: _ClassVar[PricingScheme]
    PRICING_SCHEME_VOLUME: _ClassVar[PricingScheme]
    PRICING_SCHEME_PACKAGE: _ClassVar[PricingScheme]

class IntervalUnit(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INTERVAL_UNIT_UNSPECIFIED: _ClassVar[IntervalUnit]
    INTERVAL_UNIT_DAY: _ClassVar[IntervalUnit]
    INTERVAL_UNIT_WEEK: _ClassVar[IntervalUnit]
    INTERVAL_UNIT_MONTH: _ClassVar[IntervalUnit]
    INTERVAL_UNIT_YEAR: _ClassVar[IntervalUnit]

class UsageType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    USAGE_TYPE_UNSPECIFIED: _ClassVar[UsageType]
    USAGE_TYPE_LICENSED: _ClassVar[UsageType]
    USAGE_TYPE_METERED: _ClassVar[UsageType]

class TaxBehavior(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TAX_BEHAVIOR_UNSPECIFIED: _ClassVar[TaxBehavior]
    TAX_BEHAVIOR_EXCLUSIVE: _ClassVar[TaxBehavior]
    TAX_BEHAVIOR_INCLUSIVE: _ClassVar[TaxBehavior]
PRICING_SCHEME_UNSPECIFIED: PricingScheme
PRICING_SCHEME_FLAT: PricingScheme
PRICING_SCHEME_PER_UNIT: PricingScheme
PRICING_SCHEME_TIERED: PricingScheme
PRICING_SCHEME_VOLUME: PricingScheme
PRICING_SCHEME_PACKAGE: PricingScheme
INTERVAL_UNIT_UNSPECIFIED: IntervalUnit
INTERVAL_UNIT_DAY: IntervalUnit
INTERVAL_UNIT_WEEK: IntervalUnit
INTERVAL_UNIT_MONTH: IntervalUnit
INTERVAL_UNIT_YEAR: IntervalUnit
USAGE_TYPE_UNSPECIFIED: UsageType
USAGE_TYPE_LICENSED: UsageType
USAGE_TYPE_METERED: UsageType
TAX_BEHAVIOR_UNSPECIFIED: TaxBehavior
TAX_BEHAVIOR_EXCLUSIVE: TaxBehavior
TAX_BEHAVIOR_INCLUSIVE: TaxBehavior

class Product(_message.Message):
    __slots__ = ("id", "display_name", "description", "state", "metadata", "create_time", "update_time")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    display_name: str
    description: str
    state: _common_pb2.LifecycleState
    metadata: _containers.ScalarMap[str, str]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.LifecycleState, str]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Recurring(_message.Message):
    __slots__ = ("interval_unit", "interval_count", "usage_type", "meter_id")
    INTERVAL_UNIT_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    USAGE_TYPE_FIELD_NUMBER: _ClassVar[int]
    METER_ID_FIELD_NUMBER: _ClassVar[int]
    interval_unit: IntervalUnit
    interval_count: int
    usage_type: UsageType
    meter_id: str
    def __init__(self, interval_unit: _Optional[_Union[IntervalUnit, str]] = ..., interval_count: _Optional[int] = ..., usage_type: _Optional[_Union[UsageType, str]] = ..., meter_id: _Optional[str] = ...) -> None: ...

class PriceTier(_message.Message):
    __slots__ = ("up_to", "unit_amount", "flat_amount")
    UP_TO_FIELD_NUMBER: _ClassVar[int]
    UNIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    FLAT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    up_to: int
    unit_amount: _money_pb2.Money
    flat_amount: _money_pb2.Money
    def __init__(self, up_to: _Optional[int] = ..., unit_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., flat_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class Price(_message.Message):
    __slots__ = ("id", "product_id", "currency_code", "pricing_scheme", "unit_amount", "tiers", "recurring", "tax_behavior", "nickname", "state", "in_use", "metadata", "create_time", "update_time", "package_size")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    PRICING_SCHEME_FIELD_NUMBER: _ClassVar[int]
    UNIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TIERS_FIELD_NUMBER: _ClassVar[int]
    RECURRING_FIELD_NUMBER: _ClassVar[int]
    TAX_BEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    NICKNAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    IN_USE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    PACKAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    id: str
    product_id: str
    currency_code: str
    pricing_scheme: PricingScheme
    unit_amount: _money_pb2.Money
    tiers: _containers.RepeatedCompositeFieldContainer[PriceTier]
    recurring: Recurring
    tax_behavior: TaxBehavior
    nickname: str
    state: _common_pb2.LifecycleState
    in_use: bool
    metadata: _containers.ScalarMap[str, str]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    package_size: int
    def __init__(self, id: _Optional[str] = ..., product_id: _Optional[str] = ..., currency_code: _Optional[str] = ..., pricing_scheme: _Optional[_Union[PricingScheme, str]] = ..., unit_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., tiers: _Optional[_Iterable[_Union[PriceTier, _Mapping]]] = ..., recurring: _Optional[_Union[Recurring, _Mapping]] = ..., tax_behavior: _Optional[_Union[TaxBehavior, str]] = ..., nickname: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.LifecycleState, str]] = ..., in_use: _Optional[bool] = ..., metadata: _Optional[_Mapping[str, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., package_size: _Optional[int] = ...) -> None: ...

class CreateProductRequest(_message.Message):
    __slots__ = ("product", "request_id")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    product: Product
    request_id: str
    def __init__(self, product: _Optional[_Union[Product, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetProductRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListProductsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "show_archived")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SHOW_ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    show_archived: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., show_archived: _Optional[bool] = ...) -> None: ...

class ListProductsResponse(_message.Message):
    __slots__ = ("products", "next_page_token")
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    products: _containers.RepeatedCompositeFieldContainer[Product]
    next_page_token: str
    def __init__(self, products: _Optional[_Iterable[_Union[Product, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateProductRequest(_message.Message):
    __slots__ = ("product", "update_mask", "request_id")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    product: Product
    update_mask: _field_mask_pb2.FieldMask
    request_id: str
    def __init__(self, product: _Optional[_Union[Product, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class ArchiveProductRequest(_message.Message):
    __slots__ = ("id", "request_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    request_id: str
    def __init__(self, id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreatePriceRequest(_message.Message):
    __slots__ = ("price", "request_id")
    PRICE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    price: Price
    request_id: str
    def __init__(self, price: _Optional[_Union[Price, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetPriceRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListPricesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "product_id", "show_archived")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    SHOW_ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    product_id: str
    show_archived: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., product_id: _Optional[str] = ..., show_archived: _Optional[bool] = ...) -> None: ...

class ListPricesResponse(_message.Message):
    __slots__ = ("prices", "next_page_token")
    PRICES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    prices: _containers.RepeatedCompositeFieldContainer[Price]
    next_page_token: str
    def __init__(self, prices: _Optional[_Iterable[_Union[Price, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdatePriceRequest(_message.Message):
    __slots__ = ("price", "update_mask", "request_id")
    PRICE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    price: Price
    update_mask: _field_mask_pb2.FieldMask
    request_id: str
    def __init__(self, price: _Optional[_Union[Price, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class ArchivePriceRequest(_message.Message):
    __slots__ = ("id", "request_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    request_id: str
    def __init__(self, id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...
