import datetime

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

class FeatureType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FEATURE_TYPE_UNSPECIFIED: _ClassVar[FeatureType]
    FEATURE_TYPE_BOOLEAN: _ClassVar[FeatureType]
    FEATURE_TYPE_NUMERIC: _ClassVar[FeatureType]
FEATURE_TYPE_UNSPECIFIED: FeatureType
FEATURE_TYPE_BOOLEAN: FeatureType
FEATURE_TYPE_NUMERIC: FeatureType

class Feature(_message.Message):
    __slots__ = ("id", "key", "display_name", "type", "unit", "per_unit", "meter_id", "threshold_percents", "archived", "create_time", "update_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    PER_UNIT_FIELD_NUMBER: _ClassVar[int]
    METER_ID_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_PERCENTS_FIELD_NUMBER: _ClassVar[int]
    ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    key: str
    display_name: str
    type: FeatureType
    unit: str
    per_unit: bool
    meter_id: str
    threshold_percents: _containers.RepeatedScalarFieldContainer[int]
    archived: bool
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., key: _Optional[str] = ..., display_name: _Optional[str] = ..., type: _Optional[_Union[FeatureType, str]] = ..., unit: _Optional[str] = ..., per_unit: _Optional[bool] = ..., meter_id: _Optional[str] = ..., threshold_percents: _Optional[_Iterable[int]] = ..., archived: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FeatureAttachment(_message.Message):
    __slots__ = ("feature_id", "product_id", "price_id", "enabled", "limit", "update_time")
    FEATURE_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_ID_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    feature_id: str
    product_id: str
    price_id: str
    enabled: bool
    limit: str
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, feature_id: _Optional[str] = ..., product_id: _Optional[str] = ..., price_id: _Optional[str] = ..., enabled: _Optional[bool] = ..., limit: _Optional[str] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Entitlement(_message.Message):
    __slots__ = ("feature_id", "feature_key", "type", "enabled", "limit", "unit", "usage", "subscription_ids")
    FEATURE_ID_FIELD_NUMBER: _ClassVar[int]
    FEATURE_KEY_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_IDS_FIELD_NUMBER: _ClassVar[int]
    feature_id: str
    feature_key: str
    type: FeatureType
    enabled: bool
    limit: str
    unit: str
    usage: str
    subscription_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, feature_id: _Optional[str] = ..., feature_key: _Optional[str] = ..., type: _Optional[_Union[FeatureType, str]] = ..., enabled: _Optional[bool] = ..., limit: _Optional[str] = ..., unit: _Optional[str] = ..., usage: _Optional[str] = ..., subscription_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateFeatureRequest(_message.Message):
    __slots__ = ("feature", "request_id")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    feature: Feature
    request_id: str
    def __init__(self, feature: _Optional[_Union[Feature, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetFeatureRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListFeaturesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListFeaturesResponse(_message.Message):
    __slots__ = ("features", "next_page_token")
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedCompositeFieldContainer[Feature]
    next_page_token: str
    def __init__(self, features: _Optional[_Iterable[_Union[Feature, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ArchiveFeatureRequest(_message.Message):
    __slots__ = ("id", "request_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    request_id: str
    def __init__(self, id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class AttachFeatureRequest(_message.Message):
    __slots__ = ("feature_id", "product_id", "price_id", "enabled", "limit", "request_id")
    FEATURE_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_ID_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    feature_id: str
    product_id: str
    price_id: str
    enabled: bool
    limit: str
    request_id: str
    def __init__(self, feature_id: _Optional[str] = ..., product_id: _Optional[str] = ..., price_id: _Optional[str] = ..., enabled: _Optional[bool] = ..., limit: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class DetachFeatureRequest(_message.Message):
    __slots__ = ("feature_id", "product_id", "price_id", "request_id")
    FEATURE_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    feature_id: str
    product_id: str
    price_id: str
    request_id: str
    def __init__(self, feature_id: _Optional[str] = ..., product_id: _Optional[str] = ..., price_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class DetachFeatureResponse(_message.Message):
    __slots__ = ("feature_id",)
    FEATURE_ID_FIELD_NUMBER: _ClassVar[int]
    feature_id: str
    def __init__(self, feature_id: _Optional[str] = ...) -> None: ...

class ListFeatureAttachmentsRequest(_message.Message):
    __slots__ = ("feature_id",)
    FEATURE_ID_FIELD_NUMBER: _ClassVar[int]
    feature_id: str
    def __init__(self, feature_id: _Optional[str] = ...) -> None: ...

class ListFeatureAttachmentsResponse(_message.Message):
    __slots__ = ("attachments",)
    ATTACHMENTS_FIELD_NUMBER: _ClassVar[int]
    attachments: _containers.RepeatedCompositeFieldContainer[FeatureAttachment]
    def __init__(self, attachments: _Optional[_Iterable[_Union[FeatureAttachment, _Mapping]]] = ...) -> None: ...

class GetEntitlementsRequest(_message.Message):
    __slots__ = ("customer_id",)
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    def __init__(self, customer_id: _Optional[str] = ...) -> None: ...

class GetEntitlementsResponse(_message.Message):
    __slots__ = ("entitlements",)
    ENTITLEMENTS_FIELD_NUMBER: _ClassVar[int]
    entitlements: _containers.RepeatedCompositeFieldContainer[Entitlement]
    def __init__(self, entitlements: _Optional[_Iterable[_Union[Entitlement, _Mapping]]] = ...) -> None: ...

class CheckEntitlementRequest(_message.Message):
    __slots__ = ("customer_id", "feature_key", "quantity")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    FEATURE_KEY_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    feature_key: str
    quantity: str
    def __init__(self, customer_id: _Optional[str] = ..., feature_key: _Optional[str] = ..., quantity: _Optional[str] = ...) -> None: ...

class CheckEntitlementResponse(_message.Message):
    __slots__ = ("allowed", "type", "limit", "usage", "remaining")
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    type: FeatureType
    limit: str
    usage: str
    remaining: str
    def __init__(self, allowed: _Optional[bool] = ..., type: _Optional[_Union[FeatureType, str]] = ..., limit: _Optional[str] = ..., usage: _Optional[str] = ..., remaining: _Optional[str] = ...) -> None: ...
