"""What a handler knows about the call it serves, whichever transport carried it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class CallContext:
    """`method` is the full name `accrue.billing.v1.CustomerService/CreateCustomer`."""

    method: str
    tenant_id: str
    metadata: Mapping[str, str]
    trace_id: str
    # False once the client has gone away; long-running streams poll it.
    is_active: Callable[[], bool] = field(default=lambda: True)
