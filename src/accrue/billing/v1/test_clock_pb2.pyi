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

class TestClock(_message.Message):
    __slots__ = ("id", "display_name", "frozen_time", "work_items_run", "create_time", "update_time", "state", "target_time", "advance_work_items_run", "failure")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[TestClock.State]
        STATE_READY: _ClassVar[TestClock.State]
        STATE_ADVANCING: _ClassVar[TestClock.State]
        STATE_FAILED: _ClassVar[TestClock.State]
    STATE_UNSPECIFIED: TestClock.State
    STATE_READY: TestClock.State
    STATE_ADVANCING: TestClock.State
    STATE_FAILED: TestClock.State
    ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    FROZEN_TIME_FIELD_NUMBER: _ClassVar[int]
    WORK_ITEMS_RUN_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TARGET_TIME_FIELD_NUMBER: _ClassVar[int]
    ADVANCE_WORK_ITEMS_RUN_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    id: str
    display_name: str
    frozen_time: _timestamp_pb2.Timestamp
    work_items_run: int
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    state: TestClock.State
    target_time: _timestamp_pb2.Timestamp
    advance_work_items_run: int
    failure: TestClockFailure
    def __init__(self, id: _Optional[str] = ..., display_name: _Optional[str] = ..., frozen_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., work_items_run: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[_Union[TestClock.State, str]] = ..., target_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., advance_work_items_run: _Optional[int] = ..., failure: _Optional[_Union[TestClockFailure, _Mapping]] = ...) -> None: ...

class TestClockFailure(_message.Message):
    __slots__ = ("reason", "message", "step_time")
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STEP_TIME_FIELD_NUMBER: _ClassVar[int]
    reason: str
    message: str
    step_time: _timestamp_pb2.Timestamp
    def __init__(self, reason: _Optional[str] = ..., message: _Optional[str] = ..., step_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateTestClockRequest(_message.Message):
    __slots__ = ("test_clock", "request_id")
    TEST_CLOCK_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    test_clock: TestClock
    request_id: str
    def __init__(self, test_clock: _Optional[_Union[TestClock, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetTestClockRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListTestClocksRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTestClocksResponse(_message.Message):
    __slots__ = ("test_clocks", "next_page_token")
    TEST_CLOCKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    test_clocks: _containers.RepeatedCompositeFieldContainer[TestClock]
    next_page_token: str
    def __init__(self, test_clocks: _Optional[_Iterable[_Union[TestClock, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class AdvanceTestClockRequest(_message.Message):
    __slots__ = ("id", "frozen_time", "request_id", "wait")
    ID_FIELD_NUMBER: _ClassVar[int]
    FROZEN_TIME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    id: str
    frozen_time: _timestamp_pb2.Timestamp
    request_id: str
    wait: bool
    def __init__(self, id: _Optional[str] = ..., frozen_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ..., wait: _Optional[bool] = ...) -> None: ...
