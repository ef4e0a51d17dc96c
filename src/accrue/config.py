"""Settings, from ACCRUE_* environment variables, overridable by CLI flags."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ACCRUE_", extra="ignore")

    database_url: str = Field(
        "sqlite:///accrue.db",
        description="SQLAlchemy URL: sqlite:///path.db (embedded) or postgresql://user@host/db",
    )
    grpc_host: str = Field("127.0.0.1", description="Address the gRPC server binds")
    grpc_port: int = Field(50051, ge=0, le=65535, description="gRPC port; 0 picks a free one")
    connect_host: str = Field("127.0.0.1", description="Address the Connect (HTTP) server binds")
    connect_port: int = Field(8080, ge=0, le=65535, description="Connect port; 0 picks a free one")
    grpc_workers: int = Field(32, ge=1, description="Threads serving gRPC calls")
    connect_workers: int = Field(32, ge=1, description="Threads serving Connect calls")
    db_pool_size: int = Field(16, ge=1, description="Database connections per process")
    gc_young_threshold: int = Field(
        10_000,
        ge=0,
        description="Allocations between two young-generation garbage collections of a "
        "long-running process, whose start-up heap is frozen (platform/heap.py); 0 keeps "
        "Python's defaults",
    )
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = Field(
        "FULL", description="SQLite durability; FULL survives power loss after commit"
    )
    shutdown_grace_seconds: float = Field(
        10.0, ge=0, description="How long in-flight calls may run after SIGTERM"
    )
    log_level: str = Field("INFO", description="Python log level")
    log_format: Literal["json", "text"] = Field("json", description="Log line format")
    trace_exporter: Literal["none", "console"] = Field(
        "none", description="Where finished spans go; trace ids are made and logged either way"
    )
    grpc_tracing: Literal["lean", "instrumentation"] = Field(
        "lean",
        description="gRPC server spans from Accrue's transport (lean) or from "
        "opentelemetry-instrumentation-grpc's interceptor (instrumentation)",
    )
    auto_migrate: bool = Field(True, description="Apply database migrations at start-up")
    psp_url: str = Field(
        "",
        description="Base URL of the PSP gateway (e.g. an `accrue psp-sim` process); empty "
        "runs the built-in simulated PSP inside this process",
    )
    psp_timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one PSP request")
    psp_webhook_secret: str = Field(
        "",
        description="Shared secret PSP webhooks are signed with; empty disables "
        "the webhook endpoint (POST /webhooks/psp/simulated on the Connect port)",
    )
    psp_webhook_tolerance_seconds: int = Field(
        300, ge=1, description="How old (or how far in the future) a webhook's timestamp may be"
    )
    psp_breaker_failures: int = Field(
        5, ge=1, description="Consecutive PSP failures that open its circuit breaker"
    )
    psp_breaker_reset_seconds: float = Field(
        30.0, gt=0, description="How long an open breaker waits before a half-open probe"
    )
    psp_retry_attempts: int = Field(
        3, ge=1, description="Tries of one PSP request before its outcome is left unknown"
    )
    psp_retry_base_seconds: float = Field(
        0.05, gt=0, description="First retry's backoff ceiling; doubles per retry (full jitter)"
    )
    psp_retry_cap_seconds: float = Field(1.0, gt=0, description="Largest backoff ceiling")
    payment_first_inquiry_seconds: float = Field(
        30.0,
        ge=0,
        description="How long a PROCESSING payment is left to its caller before the "
        "resolver asks the PSP about it",
    )
    payment_inquiry_interval_seconds: float = Field(
        30.0, gt=0, description="How often an UNKNOWN payment or refund is asked about again"
    )
    dunning_retry_days: str = Field(
        "3,5,7",
        description="Days between a failed automatic collection attempt and the next one",
    )
    dunning_final_action: Literal["cancel", "unpaid"] = Field(
        "cancel", description="What the subscription becomes after the last retry fails"
    )
    payment_rate_per_second: float = Field(
        50.0, ge=0, description="Per-tenant CreatePayment and RefundPayment rate; 0 = unlimited"
    )
    payment_rate_burst: int = Field(100, ge=1, description="Per-tenant burst of those calls")
    fault_crash_at: str = Field(
        "",
        description="Testing only: kill the process when a payment reaches this point "
        "(before_psp_call, after_psp_call, after_commit)",
    )
    page_token_secret: str = Field(
        "",
        description="Secret page tokens are sealed with (at least 16 characters), the same on "
        "every server; empty: one generated once and kept in the database",
    )
    ledger_signing_key_file: str = Field(
        "",
        description="PEM Ed25519 private key that signs ledger checkpoints (a secret kept "
        "outside the database); empty with a SQLite file generates <database>.ledger-key.pem",
    )
    ledger_verify_key_files: str = Field(
        "",
        description="Comma-separated PEM Ed25519 public keys whose checkpoints are accepted "
        "(older keys after a rotation); the signing key's own is always accepted",
    )
    ledger_checkpoint_seconds: float = Field(
        60.0, gt=0, description="How often the sequencer signs each moved tenant's chain head"
    )
    sequencer_poll_seconds: float = Field(
        0.05, gt=0, description="Idle wait of the ledger/event sequencer between passes"
    )
    sequencer_linger_seconds: float = Field(
        0.02,
        ge=0,
        le=0.5,
        description="After a pass that found work, how long the sequencer lets more commits "
        "gather before the next pass (bigger batches, fewer of them; adds at most this to lag)",
    )
    sequencer_batch_size: int = Field(
        1000, ge=1, description="Transactions (and events) one sequencing batch numbers at most"
    )
    fault_sequencer_crash_seed: int = Field(
        -1,
        description="Testing only: >= 0 kills the sequencer at a point inside a batch "
        "chosen by this seed",
    )
    processes: int = Field(
        1, ge=1, le=256, description="Server processes `accrue serve` runs on this machine"
    )
    process_index: int = Field(
        0,
        ge=0,
        description="This server's index among `serve --processes N` (set by the supervisor); "
        "its metrics port is ACCRUE_METRICS_PORT + index",
    )
    reuse_port: bool = Field(
        False,
        description="Bind both ports with SO_REUSEPORT, so several processes share them "
        "(set by `accrue serve --processes N` for its children)",
    )
    redis_url: str = Field(
        "",
        description="Redis (redis://host:port/db) holding state shared by every server "
        "process and machine: per-tenant rate limits and in-flight request ids; empty keeps "
        "that state in-process",
    )
    redis_key_prefix: str = Field("accrue:", description="Prefix of every Redis key Accrue writes")
    redis_timeout_seconds: float = Field(
        0.25, gt=0, description="Connect and read timeout of one Redis command"
    )
    webhook_allowed_networks: str = Field(
        "",
        description="Comma-separated networks (e.g. 127.0.0.1/32) webhook endpoints may "
        "resolve to besides public addresses; loopback, link-local and private ones are "
        "refused otherwise",
    )
    webhook_dispatcher_embedded: bool = Field(
        True, description="Deliver webhooks from `accrue serve` too (the embedded default)"
    )
    webhook_workers: int = Field(8, ge=1, description="Endpoints served at once per process")
    webhook_endpoint_concurrency: int = Field(
        4, ge=1, description="Deliveries in flight per endpoint without sequence ordering"
    )
    webhook_timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one delivery")
    webhook_retry_base_seconds: float = Field(
        5.0, gt=0, description="First retry's backoff ceiling; doubles per attempt (full jitter)"
    )
    webhook_retry_cap_seconds: float = Field(3600.0, gt=0, description="Largest backoff ceiling")
    webhook_retry_window_seconds: float = Field(
        3 * 86400.0,
        gt=0,
        description="How long deliveries are retried, and an endpoint may fail before it "
        "is disabled",
    )
    webhook_poll_seconds: float = Field(
        0.1,
        gt=0,
        description="How often the dispatcher checks every tenant for new events "
        "(events committed or numbered in this process wake it at once)",
    )
    relay_nats_url: str = Field(
        "nats://127.0.0.1:4222", description="NATS server of `accrue relay`"
    )
    relay_stream: str = Field(
        "ACCRUE_EVENTS", description="JetStream stream the relay publishes to"
    )
    relay_stream_subjects: str = Field(
        "accrue.>",
        description="Comma-separated subjects of the stream when the relay creates it",
    )
    relay_subject_prefix: str = Field(
        "accrue", description="Events go to `<prefix>.<tenant>.<event type>`"
    )
    relay_batch: int = Field(1000, ge=1, description="Events published per tenant per round")
    relay_window: int = Field(
        8, ge=1, description="Batches the relay publishes before waiting for their acks"
    )
    relay_poll_seconds: float = Field(0.1, gt=0, description="Relay idle wait")
    metrics_enabled: bool = Field(
        True, description="Record Prometheus metrics and serve them (false: neither)"
    )
    metrics_host: str = Field(
        "", description="Address the metrics endpoint binds; empty = the Connect host"
    )
    metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Port of /metrics, /healthz and /readyz; 0 picks a free one "
        "(printed in the READY line)",
    )
    metrics_state_refresh_seconds: float = Field(
        5.0, ge=0, description="How long the money-path gauges (database queries) are cached"
    )
    readiness_check_seconds: float = Field(
        2.0, gt=0, description="How often gRPC health re-checks readiness (database, migrations)"
    )
    trace_sample_ratio: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Share of traces exported; spans that end in error are exported always",
    )
    invoice_link_secret: str = Field(
        "",
        description="Key that signs hosted invoice page links (at least 32 characters); "
        "empty: a random key generated once and kept in the database",
    )
    public_url: str = Field(
        "",
        description="Base URL of the Connect port as customers reach it, used in invoice "
        "links; empty: http://<connect host>:<connect port>",
    )
    test_clock_batch_steps: int = Field(
        2000,
        ge=1,
        le=100_000,
        description="Most subscription steps a test-clock advance commits in one batch",
    )
