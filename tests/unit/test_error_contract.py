"""The error table, the domain errors and the contract's ErrorReason agree."""

from __future__ import annotations

from accrue.billing.v1 import errors_pb2
from accrue.kernel import errors
from accrue.platform.errors import STATUS_BY_REASON


def _reasons_in_contract() -> set[str]:
    names = errors_pb2.ErrorReason.keys()
    return {n.removeprefix("ERROR_REASON_") for n in names if n != "ERROR_REASON_UNSPECIFIED"}


def _domain_error_classes() -> list[type[errors.AccrueError]]:
    found, queue = [], [errors.AccrueError]
    while queue:
        cls = queue.pop()
        found.append(cls)
        queue.extend(cls.__subclasses__())
    return found


def test_every_contract_reason_has_a_status_code_and_nothing_else_does() -> None:
    assert set(STATUS_BY_REASON) == _reasons_in_contract()


def test_every_domain_error_uses_a_contract_reason() -> None:
    for cls in _domain_error_classes():
        assert cls.reason in _reasons_in_contract(), cls
