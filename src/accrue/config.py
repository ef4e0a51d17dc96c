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
