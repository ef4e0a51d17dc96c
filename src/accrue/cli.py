"""`accrue`: serve, worker, migrate, tenant create, demo, psp-sim."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from accrue.bootstrap import build_application
from accrue.config import Settings
from accrue.platform.health import Readiness
from accrue.platform.metrics.endpoint import MetricsEndpoint, serve_metrics
from accrue.telemetry import configure_logging


def _settings(args: argparse.Namespace, **extra: object) -> Settings:
    overrides = {
        key: value
        for key, value in {
            "database_url": getattr(args, "database_url", None),
            "grpc_port": getattr(args, "grpc_port", None),
            "connect_port": getattr(args, "connect_port", None),
            "grpc_host": getattr(args, "host", None),
            "connect_host": getattr(args, "host", None),
            **extra,
        }.items()
        if value is not None
    }
    return Settings(**overrides)  # type: ignore[arg-type]


def _serve(args: argparse.Namespace) -> int:
    from accrue.demo import ensure_demo_key, instructions
    from accrue.server import Server

    settings = _settings(args)
    configure_logging(settings.log_level, settings.log_format)
    app = build_application(settings)
    server = Server(app)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("accrue.server").info("signal received", extra={"signal": signum})
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    ports = server.start()
    endpoint = serve_metrics(app, server.readiness.check)
    if args.demo:
        _tenant, key = ensure_demo_key(app)
        host = settings.connect_host
        print(
            instructions(
                api_key=key,
                grpc_address=f"{settings.grpc_host}:{ports.grpc}",
                connect_url=f"http://{host}:{ports.connect}",
            ),
            flush=True,
        )
    print(f"READY grpc={ports.grpc} connect={ports.connect}{_metrics_port(endpoint)}", flush=True)
    stop.wait()
    server.stop()
    if endpoint is not None:
        endpoint.close()
    return 0


def _worker(args: argparse.Namespace) -> int:
    """Bill due subscriptions, collect due invoices and resolve unknown payment
    outcomes until stopped (or, with --once, until a pass finds nothing to do)."""
    settings = _settings(args)
    configure_logging(settings.log_level, settings.log_format)
    app = build_application(settings, process="worker")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log = logging.getLogger("accrue.worker")
    endpoint = serve_metrics(app, Readiness(app.engine).check)
    print(f"READY worker{_metrics_port(endpoint)}", flush=True)
    total = collected = resolved = 0
    try:
        while not stop.is_set():
            result = app.bill_run.run_batch(limit=args.batch_size)
            total += result.steps
            if result.claimed:
                log.info(
                    "bill-run batch",
                    extra={"claimed": result.claimed, "steps": result.steps},
                )
            made = app.collections.collect_due(limit=args.batch_size)
            settled = app.resolver.resolve_due(limit=args.batch_size)
            collected += made
            resolved += settled.payments + settled.refunds
            if result.steps or made or settled.payments or settled.refunds:
                continue
            if args.once:
                break  # nothing due, or only work that keeps failing (logged)
            stop.wait(args.poll_seconds)
    finally:
        if endpoint is not None:
            endpoint.close()
        app.close()
    print(f"DONE steps={total} collections={collected} resolved={resolved}", flush=True)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from accrue.adapters.db import migrate
    from accrue.adapters.db.engine import build_engine

    settings = _settings(args)
    engine = build_engine(settings.database_url)
    try:
        if args.downgrade:
            migrate.downgrade(engine, args.downgrade)
        else:
            migrate.upgrade(engine, args.revision)
        print(f"database at revision {migrate.current_revision(engine)}")
    finally:
        engine.dispose()
    return 0


def _tenant_create(args: argparse.Namespace) -> int:
    app = build_application(_settings(args))
    try:
        created = app.tenants.create_tenant(args.name)
    finally:
        app.close()
    print(f"tenant  {created.tenant.id}  ({created.tenant.name})")
    print(f"api key {created.api_key}")
    print("The key is shown only now; store it in your secret manager.")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from accrue.demo import ensure_demo_key, instructions

    settings = _settings(args)
    app = build_application(settings)
    try:
        _tenant, key = ensure_demo_key(app)
    finally:
        app.close()
    print(
        instructions(
            api_key=key,
            grpc_address=f"{settings.grpc_host}:{settings.grpc_port}",
            connect_url=f"http://{settings.connect_host}:{settings.connect_port}",
        )
    )
    print("Start the server with `accrue serve` to use it.")
    return 0


def _psp_sim(args: argparse.Namespace) -> int:
    from accrue.adapters.psp import simulator_server

    return simulator_server.main(args.sim_args)


def _metrics_port(endpoint: MetricsEndpoint | None) -> str:
    return "" if endpoint is None else f" metrics={endpoint.port}"


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="accrue", description="Accrue billing platform")
    commands = root.add_subparsers(dest="command", required=True)

    def database(p: argparse.ArgumentParser) -> None:
        p.add_argument("--database-url", help="SQLAlchemy URL (env ACCRUE_DATABASE_URL)")

    serve = commands.add_parser("serve", help="run the gRPC and Connect servers")
    database(serve)
    serve.add_argument("--host", help="bind address for both servers")
    serve.add_argument("--grpc-port", type=int, help="gRPC port (env ACCRUE_GRPC_PORT; 0 = free)")
    serve.add_argument("--connect-port", type=int, help="Connect port (env ACCRUE_CONNECT_PORT)")
    serve.add_argument("--demo", action="store_true", help="ensure a demo tenant and print a key")
    serve.set_defaults(run=_serve)

    worker = commands.add_parser(
        "worker", help="bill, collect and resolve payments as work comes due"
    )
    database(worker)
    worker.add_argument("--batch-size", type=int, default=100, help="subscriptions per transaction")
    worker.add_argument("--poll-seconds", type=float, default=1.0, help="idle wait between polls")
    worker.add_argument("--once", action="store_true", help="exit when nothing is due")
    worker.set_defaults(run=_worker)

    mig = commands.add_parser("migrate", help="apply (or roll back) database migrations")
    database(mig)
    mig.add_argument("--revision", default="head", help="target revision (default head)")
    mig.add_argument("--downgrade", metavar="REVISION", help="roll back to REVISION (e.g. base)")
    mig.set_defaults(run=_migrate)

    tenant = commands.add_parser("tenant", help="tenant administration")
    tenant_commands = tenant.add_subparsers(dest="tenant_command", required=True)
    create = tenant_commands.add_parser("create", help="create a tenant and print its API key")
    create.add_argument("name")
    database(create)
    create.set_defaults(run=_tenant_create)

    demo = commands.add_parser("demo", help="ensure the demo tenant and print a key and examples")
    database(demo)
    demo.set_defaults(run=_demo)

    # "+" as the prefix lets every "-" flag through to the simulator's own parser.
    psp_sim = commands.add_parser(
        "psp-sim", help="run the simulated PSP over HTTP", add_help=False, prefix_chars="+"
    )
    psp_sim.add_argument("sim_args", nargs=argparse.REMAINDER)
    psp_sim.set_defaults(run=_psp_sim)

    from accrue import recon_cli

    recon_cli.add_parser(commands)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
