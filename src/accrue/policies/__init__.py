"""Self-service guardrails: a tenant's policy on subscription changes.

Layers: `model` (pure rules and their evaluation), `ports` (what the use
cases need), `service` (get/update the policy), `guard` (the hook
SubscriptionService calls on change, preview and cancel),
`tables`/`repository` (SQL), `convert`/`handlers` (the v1 contract).
"""
