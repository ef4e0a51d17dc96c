"""`accrue serve`: one process, a grpcio server and a Connect ASGI server over
the same routes.

Shutdown on SIGTERM/SIGINT stops accepting new calls on both transports, lets
in-flight calls finish within the grace period (each call is one database
transaction, so nothing is half-written), then closes the database pool.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import grpc
import uvicorn
from connectrpc_otel import OpenTelemetryInterceptor
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from opentelemetry.instrumentation.grpc import server_interceptor

from accrue.bootstrap import SERVICES, SIMULATED_PSP, Application
from accrue.invoicing.documents.page_endpoint import InvoicePageEndpoint
from accrue.payments.psp_webhook_endpoint import PspWebhookEndpoint
from accrue.platform.health import Readiness, ReadinessWatcher
from accrue.platform.transport import reflection_v1
from accrue.platform.transport.connect_transport import connect_app
from accrue.platform.transport.grpc_transport import generic_handlers
from accrue.telemetry import configure_tracing

log = logging.getLogger("accrue.server")


@dataclass(frozen=True)
class Ports:
    grpc: int
    connect: int


class Server:
    def __init__(self, app: Application) -> None:
        self._app = app
        settings = app.settings
        configure_tracing(settings.trace_exporter, settings.trace_sample_ratio)
        self._grpc_executor = ThreadPoolExecutor(settings.grpc_workers, thread_name_prefix="grpc")
        self._connect_executor = ThreadPoolExecutor(
            settings.connect_workers, thread_name_prefix="connect"
        )
        app.metrics.watch_executor("grpc", self._grpc_executor, settings.grpc_workers)
        app.metrics.watch_executor("connect", self._connect_executor, settings.connect_workers)
        self.readiness = Readiness(app.engine)
        self._readiness_watcher: ReadinessWatcher | None = None
        # The transport makes its own server span per call; the contrib
        # interceptor does the same at about twice the CPU cost per call.
        interceptors = (
            [server_interceptor()]  # type: ignore[no-untyped-call]
            if settings.grpc_tracing == "instrumentation"
            else []
        )
        self._grpc = grpc.server(
            self._grpc_executor,
            interceptors=interceptors,
            # Off unless asked: a second server on a taken port must fail, not
            # silently share it. `serve --processes N` asks, for its children.
            options=[("grpc.so_reuseport", int(settings.reuse_port))],
        )
        self._grpc.add_generic_rpc_handlers(generic_handlers(app.routes, app.invoker))
        self._health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._grpc)
        names = [s.full_name for s in SERVICES] + [
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
        ]
        reflection_v1.enable_server_reflection(names, self._grpc)  # v1 and v1alpha
        self._asgi = connect_app(
            app.routes,
            app.invoker,
            interceptors=[OpenTelemetryInterceptor()],
            executor=self._connect_executor,
            extra_apps={**self._webhook_apps(), **self._page_apps()},
        )
        self._uvicorn: uvicorn.Server | None = None
        self._uvicorn_thread: threading.Thread | None = None

    def _webhook_apps(self) -> dict[str, Any]:
        """The PSP webhook endpoint, served only when a signing secret is configured."""
        secret = self._app.settings.psp_webhook_secret
        if not secret:
            return {}
        endpoint = PspWebhookEndpoint(
            self._app.psp_webhooks,
            secrets={SIMULATED_PSP: secret.encode()},
            tolerance_seconds=self._app.settings.psp_webhook_tolerance_seconds,
            clock=self._app.clock,
            executor=self._connect_executor,
        )
        return {"webhooks": endpoint}

    def _page_apps(self) -> dict[str, Any]:
        """Hosted invoice pages at `/i/<token>`."""
        return {"i": InvoicePageEndpoint(self._app.documents, executor=self._connect_executor)}

    def start(self) -> Ports:
        settings = self._app.settings
        grpc_port = self._grpc.add_insecure_port(f"{settings.grpc_host}:{settings.grpc_port}")
        if grpc_port == 0:
            raise OSError(f"cannot bind gRPC on {settings.grpc_host}:{settings.grpc_port}")
        self._grpc.start()
        for service in SERVICES:
            self._health.set(service.full_name, health_pb2.HealthCheckResponse.SERVING)
        self._health.set("", health_pb2.HealthCheckResponse.SERVING)
        self._readiness_watcher = ReadinessWatcher(
            self.readiness.check, self._serving, interval=settings.readiness_check_seconds
        ).start()

        family = socket.AF_INET6 if ":" in settings.connect_host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio turns Nagle off (TCP_NODELAY) only for
        # sockets that say so, and with it on every response waits ~40 ms for the
        # client's delayed ACK between headers and body.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if settings.reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((settings.connect_host, settings.connect_port))
        connect_port = sock.getsockname()[1]
        self._app.public_url.bound(settings.connect_host, connect_port)
        config = uvicorn.Config(
            self._asgi,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=max(1, int(settings.shutdown_grace_seconds)),
            backlog=2048,
        )
        server = uvicorn.Server(config)
        ready = threading.Event()

        def run() -> None:
            async def main() -> None:
                task = asyncio.create_task(server.serve(sockets=[sock]))
                while not server.started and not task.done():
                    await asyncio.sleep(0.01)
                ready.set()
                await task

            asyncio.run(main())
            ready.set()

        self._uvicorn = server
        self._uvicorn_thread = threading.Thread(target=run, name="connect-server", daemon=True)
        self._uvicorn_thread.start()
        ready.wait(30)
        if not server.started:
            raise OSError(f"Connect server did not start on {settings.connect_host}:{connect_port}")
        log.info(
            "serving",
            extra={
                "grpc": f"{settings.grpc_host}:{grpc_port}",
                "connect": f"{settings.connect_host}:{connect_port}",
            },
        )
        self._app.start_background()
        return Ports(grpc=grpc_port, connect=connect_port)

    def _serving(self, ready: bool) -> None:
        """gRPC health follows readiness: NOT_SERVING while the database is not usable."""
        if self._app.shutting_down.is_set():
            return
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if ready
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for service in SERVICES:
            self._health.set(service.full_name, status)
        self._health.set("", status)

    def stop(self) -> None:
        """Stop taking calls, let in-flight calls finish, release the database."""
        grace = self._app.settings.shutdown_grace_seconds
        if self._readiness_watcher is not None:
            self._readiness_watcher.stop()
        self._app.shutting_down.set()  # streams end now; unary calls get the grace period
        self._app.event_bell.wake_all()
        self._health.enter_graceful_shutdown()
        done = self._grpc.stop(grace)
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        done.wait(grace + 1)
        if self._uvicorn_thread is not None:
            self._uvicorn_thread.join(grace + 2)
        self._grpc_executor.shutdown(wait=True)
        self._connect_executor.shutdown(wait=True)
        self._app.close()
        log.info("stopped")
