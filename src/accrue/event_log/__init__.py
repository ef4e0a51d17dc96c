"""Event log: the outbox every state change writes to, read by ListEvents and StreamEvents.

Named event_log, not events, because `accrue/events/` is generated code (accrue.events.v1)."""
