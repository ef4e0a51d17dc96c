"""The metrics endpoint every Accrue process can serve, on its own port.

GET /metrics  Prometheus text, or OpenMetrics (with exemplars) when the
              scraper asks for it in Accept, as Prometheus does.
GET /healthz  200 while the process is alive.
GET /readyz   200 when ready (database reachable, migrations at head), else 503.

Served from a small threaded WSGI server on a daemon thread, bound to the
process's configured host, so a scrape never competes with API calls for
their worker threads.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from accrue.platform.health import ReadinessResult

if TYPE_CHECKING:
    from accrue.config import Settings
    from accrue.metrics.registry import AppMetrics

StartResponse = Callable[..., Any]


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class MetricsEndpoint:
    host: str
    port: int
    _server: WSGIServer
    _thread: threading.Thread

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def metrics_app(
    registry: CollectorRegistry,
    readiness: Callable[[], ReadinessResult] | None = None,
) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    scrape = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _reply(start_response, "200 OK", {"status": "alive"})
        if path == "/readyz":
            if readiness is None:
                return _reply(start_response, "200 OK", {"status": "ready"})
            result = readiness()
            status = "200 OK" if result.ready else "503 Service Unavailable"
            body = {"status": "ready" if result.ready else "not ready", "detail": result.detail}
            return _reply(start_response, status, body)
        if path in ("/metrics", "/"):
            return scrape(environ, start_response)  # type: ignore[no-any-return]
        return _reply(start_response, "404 Not Found", {"status": "not found"})

    return app


def _reply(start_response: StartResponse, status: str, body: dict[str, str]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


def start_metrics_endpoint(
    registry: CollectorRegistry,
    host: str,
    port: int,
    *,
    readiness: Callable[[], ReadinessResult] | None = None,
) -> MetricsEndpoint:
    """Serve /metrics, /healthz and /readyz on host:port (0 picks a free port)."""
    server = make_server(
        host,
        port,
        metrics_app(registry, readiness),
        server_class=_ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )
    # `shutdown()` waits for the loop to notice, once per poll interval (0.5 s by
    # default): every stop of a process would wait that long for its endpoint.
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="metrics-http", daemon=True
    )
    thread.start()
    return MetricsEndpoint(host, server.server_port, server, thread)


class _HasMetrics(Protocol):
    @property
    def settings(self) -> Settings: ...
    @property
    def metrics(self) -> AppMetrics: ...


def serve_metrics(
    app: _HasMetrics,
    readiness: Callable[[], ReadinessResult] | None = None,
    *,
    port_offset: int = 0,
) -> MetricsEndpoint | None:
    """Start the endpoint of an application process as its settings say; None when off.

    Any entry point (serve, worker, relay, ...) calls this once. Several
    processes on one host (`serve --processes N`) each need their own port:
    pass the process's index as `port_offset` (metrics_port + index; with
    metrics_port 0 each picks a free port and prints it).
    """
    settings = app.settings
    if not settings.metrics_enabled:
        return None
    port = settings.metrics_port + port_offset if settings.metrics_port else 0
    host = settings.metrics_host or settings.connect_host
    if readiness is not None:
        check = readiness
        app.metrics.ready.set_function(lambda: 1.0 if check().ready else 0.0)
    return start_metrics_endpoint(app.metrics.registry, host, port, readiness=readiness)
