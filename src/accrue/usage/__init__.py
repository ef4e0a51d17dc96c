"""Usage: meters, exactly-once usage ingestion, running aggregates, metered billing."""
