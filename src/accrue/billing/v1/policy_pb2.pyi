import datetime

from buf.validate import validate_pb2 as _validate_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PolicyRule(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POLICY_RULE_UNSPECIFIED: _ClassVar[PolicyRule]
    POLICY_RULE_DOWNGRADE_AT_PERIOD_END: _ClassVar[PolicyRule]
    POLICY_RULE_MAX_CHANGES_PER_PERIOD: _ClassVar[PolicyRule]
    POLICY_RULE_NO_LIMIT_BELOW_USAGE: _ClassVar[PolicyRule]
    POLICY_RULE_CANCEL_AT_PERIOD_END: _ClassVar[PolicyRule]
POLICY_RULE_UNSPECIFIED: PolicyRule
POLICY_RULE_DOWNGRADE_AT_PERIOD_END: PolicyRule
POLICY_RULE_MAX_CHANGES_PER_PERIOD: PolicyRule
POLICY_RULE_NO_LIMIT_BELOW_USAGE: PolicyRule
POLICY_RULE_CANCEL_AT_PERIOD_END: PolicyRule

class SubscriptionPolicy(_message.Message):
    __slots__ = ("downgrade_at_period_end", "max_changes_per_period", "no_limit_below_usage", "cancel_at_period_end", "update_actor", "update_time")
    DOWNGRADE_AT_PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    MAX_CHANGES_PER_PERIOD_FIELD_NUMBER: _ClassVar[int]
    NO_LIMIT_BELOW_USAGE_FIELD_NUMBER: _ClassVar[int]
    CANCEL_AT_PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    UPDATE_ACTOR_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    downgrade_at_period_end: bool
    max_changes_per_period: int
    no_limit_below_usage: bool
    cancel_at_period_end: bool
    update_actor: str
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, downgrade_at_period_end: _Optional[bool] = ..., max_changes_per_period: _Optional[int] = ..., no_limit_below_usage: _Optional[bool] = ..., cancel_at_period_end: _Optional[bool] = ..., update_actor: _Optional[str] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PolicyViolation(_message.Message):
    __slots__ = ("rule", "description")
    RULE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    rule: PolicyRule
    description: str
    def __init__(self, rule: _Optional[_Union[PolicyRule, str]] = ..., description: _Optional[str] = ...) -> None: ...

class GetSubscriptionPolicyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UpdateSubscriptionPolicyRequest(_message.Message):
    __slots__ = ("policy", "update_mask", "request_id")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    policy: SubscriptionPolicy
    update_mask: _field_mask_pb2.FieldMask
    request_id: str
    def __init__(self, policy: _Optional[_Union[SubscriptionPolicy, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...
