"""The event relay: every tenant's events published to a NATS JetStream stream.

A package of its own rather than part of webhooks: it shares nothing with
endpoint delivery but the outbox reader, runs as its own process
(`accrue relay`), and has its own cursor table. Layers: `ports`,
`relay` (the use case), `tables`/`repository` (cursors), `jetstream` (the broker).
"""
