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
