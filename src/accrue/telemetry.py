"""OpenTelemetry tracing and JSON logs that carry the trace id."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if "trace_id" not in entry:
            context = trace.get_current_span().get_span_context()
            if context.is_valid:
                entry["trace_id"] = format(context.trace_id, "032x")
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


_provider: TracerProvider | None = None


def configure_tracing(exporter: str, sample_ratio: float = 1.0) -> TracerProvider:
    """Install a tracer provider once per process (OpenTelemetry allows one).

    Every span is recorded; `sample_ratio` of traces are exported, and every
    span that ends in error (see accrue.platform.sampling).
    """
    global _provider  # noqa: PLW0603 - the SDK's provider is process-global by design
    if _provider is None:
        from accrue.platform.sampling import KeepErrorsProcessor, RecordAllSampler

        _provider = TracerProvider(sampler=RecordAllSampler(sample_ratio))
        if exporter == "console":
            _provider.add_span_processor(
                KeepErrorsProcessor(BatchSpanProcessor(ConsoleSpanExporter()))
            )
        trace.set_tracer_provider(_provider)
    return _provider
