"""Entitlements: features a plan allows, resolved from a customer's subscriptions.

Layers: `model` (pure rules: features, attachments, resolution, checks,
thresholds), `ports` (what the use cases need), `service` (the RPC use
cases), `resolver` (the cached hot-path resolution), `thresholds` (the
usage observer that emits `usage.threshold_crossed`), `tables`/`repository`
(SQL), `convert`/`handlers` (the v1 contract).
"""
