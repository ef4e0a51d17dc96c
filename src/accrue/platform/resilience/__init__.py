"""Resilience mechanics: retry backoff, circuit breakers, per-tenant rate limits."""
