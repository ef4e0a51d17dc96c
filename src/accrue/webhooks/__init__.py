"""Webhooks: the tenant's events pushed to its endpoints, signed by the
Standard Webhooks specification, retried, disabled when failing for too long.

Layers: `model` (pure rules: signing, retry timing, address policy, states),
`ports` (what the use cases need), `service` (the RPC use cases), `dispatcher`
(fan-out and delivery), `tables`/`repository` (SQL), `http` (the sender and
the address resolver), `convert`/`handlers` (the v1 contract).
"""
