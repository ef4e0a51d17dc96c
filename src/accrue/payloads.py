"""The event payload registry: domain subjects -> `accrue.events.v1` messages.

Composition, not an area: each area lists the payloads of its own subjects
(`EVENT_PAYLOADS` in its `convert.py`); this module gathers them for the outbox,
which stores every event's payload as its full type name and bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.message import Message

from accrue.catalog.convert import EVENT_PAYLOADS as CATALOG
from accrue.customers.convert import EVENT_PAYLOADS as CUSTOMERS
from accrue.entitlements.convert import EVENT_PAYLOADS as ENTITLEMENTS
from accrue.invoicing.convert import EVENT_PAYLOADS as INVOICING
from accrue.kernel.events import DomainEvent
from accrue.ledger.convert import EVENT_PAYLOADS as LEDGER
from accrue.payments.convert import EVENT_PAYLOADS as PAYMENTS
from accrue.policies.convert import EVENT_PAYLOADS as POLICIES
from accrue.reconciliation.convert import EVENT_PAYLOADS as RECONCILIATION
from accrue.subscriptions.convert import EVENT_PAYLOADS as SUBSCRIPTIONS
from accrue.test_clocks.convert import EVENT_PAYLOADS as TEST_CLOCKS
from accrue.usage.convert import EVENT_PAYLOADS as USAGE

_PAYLOADS: tuple[tuple[type, Callable[[Any], Message]], ...] = (
    *CUSTOMERS,
    *CATALOG,
    *LEDGER,
    *SUBSCRIPTIONS,
    *INVOICING,
    *TEST_CLOCKS,
    *PAYMENTS,
    *RECONCILIATION,
    *USAGE,
    *ENTITLEMENTS,
    *POLICIES,
)


# Builders by exact subject type, filled on first use: the outbox encodes thousands
# of payloads per bill-run batch, and the isinstance walk is only for a subclass.
_BY_TYPE: dict[type, Callable[[Any], Message]] = {}


def payload_message(subject: object) -> Message:
    build = _BY_TYPE.get(type(subject))
    if build is not None:
        return build(subject)
    for kind, build in _PAYLOADS:
        if isinstance(subject, kind):
            _BY_TYPE[type(subject)] = build
            return build(subject)
    raise TypeError(f"no event payload for {type(subject).__name__}")


def encode_payload(event: DomainEvent) -> tuple[str, bytes]:
    """What the outbox stores: the payload's full type name and its bytes."""
    message = payload_message(event.subject)
    return message.DESCRIPTOR.full_name, message.SerializeToString(deterministic=True)
