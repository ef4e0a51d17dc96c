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

class MeterAggregation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    METER_AGGREGATION_UNSPECIFIED: _ClassVar[MeterAggregation]
    METER_AGGREGATION_SUM: _ClassVar[MeterAggregation]
    METER_AGGREGATION_COUNT: _ClassVar[MeterAggregation]
    METER_AGGREGATION_MAX: _ClassVar[MeterAggregation]
    METER_AGGREGATION_UNIQUE_COUNT: _ClassVar[MeterAggregation]
    METER_AGGREGATION_LAST: _ClassVar[MeterAggregation]

class UsageEventOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    USAGE_EVENT_OUTCOME_UNSPECIFIED: _ClassVar[UsageEventOutcome]
    USAGE_EVENT_OUTCOME_ACCEPTED: _ClassVar[UsageEventOutcome]
    USAGE_EVENT_OUTCOME_DUPLICATE: _ClassVar[UsageEventOutcome]
    USAGE_EVENT_OUTCOME_REFUSED: _ClassVar[UsageEventOutcome]
METER_AGGREGATION_UNSPECIFIED: MeterAggregation
METER_AGGREGATION_SUM: MeterAggregation
METER_AGGREGATION_COUNT: MeterAggregation
METER_AGGREGATION_MAX: MeterAggregation
METER_AGGREGATION_UNIQUE_COUNT: MeterAggregation
METER_AGGREGATION_LAST: MeterAggregation
USAGE_EVENT_OUTCOME_UNSPECIFIED: UsageEventOutcome
USAGE_EVENT_OUTCOME_ACCEPTED: UsageEventOutcome
USAGE_EVENT_OUTCOME_DUPLICATE: UsageEventOutcome
USAGE_EVENT_OUTCOME_REFUSED: UsageEventOutcome

class Meter(_message.Message):
    __slots__ = ("id", "display_name", "aggregation", "value_property", "dimension_keys", "grace_seconds", "allow_negative", "archived", "create_time", "update_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    AGGREGATION_FIELD_NUMBER: _ClassVar[int]
    VALUE_PROPERTY_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_KEYS_FIELD_NUMBER: _ClassVar[int]
    GRACE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ALLOW_NEGATIVE_FIELD_NUMBER: _ClassVar[int]
    ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    display_name: str
    aggregation: MeterAggregation
    value_property: str
    dimension_keys: _containers.RepeatedScalarFieldContainer[str]
    grace_seconds: int
    allow_negative: bool
    archived: bool
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., display_name: _Optional[str] = ..., aggregation: _Optional[_Union[MeterAggregation, str]] = ..., value_property: _Optional[str] = ..., dimension_keys: _Optional[_Iterable[str]] = ..., grace_seconds: _Optional[int] = ..., allow_negative: _Optional[bool] = ..., archived: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateMeterRequest(_message.Message):
    __slots__ = ("meter", "request_id")
    METER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    meter: Meter
    request_id: str
    def __init__(self, meter: _Optional[_Union[Meter, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetMeterRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListMetersRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListMetersResponse(_message.Message):
    __slots__ = ("meters", "next_page_token")
    METERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    meters: _containers.RepeatedCompositeFieldContainer[Meter]
    next_page_token: str
    def __init__(self, meters: _Optional[_Iterable[_Union[Meter, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ArchiveMeterRequest(_message.Message):
    __slots__ = ("id", "request_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    request_id: str
    def __init__(self, id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class UsageEventInput(_message.Message):
    __slots__ = ("id", "meter_id", "customer_id", "timestamp", "properties")
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    METER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    id: str
    meter_id: str
    customer_id: str
    timestamp: _timestamp_pb2.Timestamp
    properties: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., meter_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., properties: _Optional[_Mapping[str, str]] = ...) -> None: ...

class IngestUsageRequest(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[UsageEventInput]
    def __init__(self, events: _Optional[_Iterable[_Union[UsageEventInput, _Mapping]]] = ...) -> None: ...

class StreamIngestUsageRequest(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[UsageEventInput]
    def __init__(self, events: _Optional[_Iterable[_Union[UsageEventInput, _Mapping]]] = ...) -> None: ...

class UsageEventResult(_message.Message):
    __slots__ = ("id", "outcome", "reason", "message")
    ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    id: str
    outcome: UsageEventOutcome
    reason: str
    message: str
    def __init__(self, id: _Optional[str] = ..., outcome: _Optional[_Union[UsageEventOutcome, str]] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class IngestUsageResponse(_message.Message):
    __slots__ = ("results", "accepted_count", "duplicate_count", "refused_count")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_COUNT_FIELD_NUMBER: _ClassVar[int]
    REFUSED_COUNT_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[UsageEventResult]
    accepted_count: int
    duplicate_count: int
    refused_count: int
    def __init__(self, results: _Optional[_Iterable[_Union[UsageEventResult, _Mapping]]] = ..., accepted_count: _Optional[int] = ..., duplicate_count: _Optional[int] = ..., refused_count: _Optional[int] = ...) -> None: ...

class UsageEvent(_message.Message):
    __slots__ = ("id", "meter_id", "customer_id", "timestamp", "properties", "canceled", "revision")
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    METER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    CANCELED_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    id: str
    meter_id: str
    customer_id: str
    timestamp: _timestamp_pb2.Timestamp
    properties: _containers.ScalarMap[str, str]
    canceled: bool
    revision: int
    def __init__(self, id: _Optional[str] = ..., meter_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., properties: _Optional[_Mapping[str, str]] = ..., canceled: _Optional[bool] = ..., revision: _Optional[int] = ...) -> None: ...

class CancelUsageEventRequest(_message.Message):
    __slots__ = ("id", "reason", "request_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    reason: str
    request_id: str
    def __init__(self, id: _Optional[str] = ..., reason: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class AmendUsageEventRequest(_message.Message):
    __slots__ = ("id", "properties", "reason", "request_id")
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    properties: _containers.ScalarMap[str, str]
    reason: str
    request_id: str
    def __init__(self, id: _Optional[str] = ..., properties: _Optional[_Mapping[str, str]] = ..., reason: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetCustomerUsageRequest(_message.Message):
    __slots__ = ("customer_id", "meter_id")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    METER_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    meter_id: str
    def __init__(self, customer_id: _Optional[str] = ..., meter_id: _Optional[str] = ...) -> None: ...

class UsageAggregate(_message.Message):
    __slots__ = ("meter_id", "dimensions", "quantity", "event_count")
    class DimensionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    METER_ID_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    EVENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    meter_id: str
    dimensions: _containers.ScalarMap[str, str]
    quantity: str
    event_count: int
    def __init__(self, meter_id: _Optional[str] = ..., dimensions: _Optional[_Mapping[str, str]] = ..., quantity: _Optional[str] = ..., event_count: _Optional[int] = ...) -> None: ...

class CustomerUsage(_message.Message):
    __slots__ = ("customer_id", "period_start", "period_end", "aggregates")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    AGGREGATES_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    period_start: _timestamp_pb2.Timestamp
    period_end: _timestamp_pb2.Timestamp
    aggregates: _containers.RepeatedCompositeFieldContainer[UsageAggregate]
    def __init__(self, customer_id: _Optional[str] = ..., period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., aggregates: _Optional[_Iterable[_Union[UsageAggregate, _Mapping]]] = ...) -> None: ...
