"""Use cases: one unit of work per call, idempotency and orchestration."""
