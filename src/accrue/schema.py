"""The whole schema: every area's tables on the platform's one metadata.

Each area keeps its tables next to its SQL (`<area>/tables.py`); importing them
all here is what puts every table on `metadata`, which migrations are checked
against and tests create. Only composition code (migrations, tests, tools)
imports this module; an area imports its own tables and, for a join, another
area's `tables` module.
"""

from __future__ import annotations

from accrue.catalog.tables import prices, products
from accrue.customers.tables import customers, payment_methods
from accrue.entitlements.tables import (
    entitlement_catalog_versions,
    feature_attachments,
    features,
    usage_threshold_crossings,
)
from accrue.event_log.tables import event_heads, event_queue, events
from accrue.invoicing.tables import (
    credit_notes,
    document_counters,
    document_renders,
    invoice_lines,
    invoices,
)
from accrue.ledger.tables import (
    ledger_accounts,
    ledger_checkpoints,
    ledger_entries,
    ledger_heads,
    ledger_transactions,
)
from accrue.payments.tables import payment_transitions, payments, psp_webhook_events, refunds
from accrue.platform.db.tables import ID, UtcDateTime, idempotency_keys, metadata, server_secrets
from accrue.policies.tables import subscription_changes, subscription_policies
from accrue.reconciliation.tables import (
    reconciliation_breaks,
    reconciliation_runs,
    settlement_marks,
)
from accrue.relay.tables import relay_cursors
from accrue.subscriptions.tables import subscriptions
from accrue.tenancy.tables import api_keys, tenants
from accrue.test_clocks.tables import test_clocks
from accrue.usage.tables import (
    meters,
    usage_billings,
    usage_event_corrections,
    usage_events,
    usage_rollups,
    usage_unique_values,
)
from accrue.webhooks.tables import webhook_cursors, webhook_deliveries, webhook_endpoints

__all__ = [
    "ID",
    "UtcDateTime",
    "api_keys",
    "credit_notes",
    "customers",
    "document_counters",
    "document_renders",
    "entitlement_catalog_versions",
    "event_heads",
    "event_queue",
    "events",
    "feature_attachments",
    "features",
    "idempotency_keys",
    "invoice_lines",
    "invoices",
    "ledger_accounts",
    "ledger_checkpoints",
    "ledger_entries",
    "ledger_heads",
    "ledger_transactions",
    "metadata",
    "meters",
    "payment_methods",
    "payment_transitions",
    "payments",
    "prices",
    "products",
    "psp_webhook_events",
    "reconciliation_breaks",
    "reconciliation_runs",
    "refunds",
    "relay_cursors",
    "server_secrets",
    "settlement_marks",
    "subscription_changes",
    "subscription_policies",
    "subscriptions",
    "tenants",
    "test_clocks",
    "usage_billings",
    "usage_event_corrections",
    "usage_events",
    "usage_rollups",
    "usage_threshold_crossings",
    "usage_unique_values",
    "webhook_cursors",
    "webhook_deliveries",
    "webhook_endpoints",
]
