"""`accrue`: serve, worker, relay, migrate, tenant create, demo, psp-sim."""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from accrue.config import Settings
from accrue.platform.heap import settle_after_start_up
from accrue.telemetry import configure_logging

if TYPE_CHECKING:
    from accrue.bootstrap import Application
    from accrue.metrics.endpoint import MetricsEndpoint


def build_application(settings: Settings, *, process: str = "serve") -> Application:
    """The application, its modules imported here rather than at the top: the
    commands that are only clients of a server (`recon`, `ledger`, `psp-sim`,
    `--help`) start in a fraction of the time without them."""
    from accrue import bootstrap

    return bootstrap.build_application(settings, process=process)


def _settings(args: argparse.Namespace, **extra: object) -> Settings:
    overrides = {
        key: value
        for key, value in {
            "database_url": getattr(args, "database_url", None),
            "grpc_port": getattr(args, "grpc_port", None),
            "connect_port": getattr(args, "connect_port", None),
            "grpc_host": getattr(args, "host", None),
            "connect_host": getattr(args, "host", None),
            "processes": getattr(args, "processes", None),
            **extra,
        }.items()
        if value is not None
    }
    return Settings(**overrides)  # type: ignore[arg-type]


def _serve(args: argparse.Namespace) -> int:
    from accrue.demo import ensure_demo_key, instructions
    from accrue.metrics.endpoint import serve_metrics
    from accrue.server import Server

    settings = _settings(args)
    configure_logging(settings.log_level, settings.log_format)
    if settings.processes > 1 and not args.supervised:
        return _supervise(args, settings)
    app = build_application(settings)
    server = Server(app)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("accrue.server").info("signal received", extra={"signal": signum})
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    ports = server.start()
    endpoint = serve_metrics(app, server.readiness.check, port_offset=settings.process_index)
    webhooks = None
    if settings.webhook_dispatcher_embedded:
        webhooks = _start_webhook_dispatcher(app, stop)
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
    settle_after_start_up(settings.gc_young_threshold)
    print(f"READY grpc={ports.grpc} connect={ports.connect}{_metrics_port(endpoint)}", flush=True)
    stop.wait()
    if webhooks is not None:
        webhooks.join(settings.shutdown_grace_seconds + settings.webhook_timeout_seconds)
    server.stop()
    if endpoint is not None:
        endpoint.close()
    return 0


def _supervise(args: argparse.Namespace, settings: Settings) -> int:
    """`serve --processes N`: migrate once, then run N children on shared ports."""
    from accrue.demo import ensure_demo_key, instructions
    from accrue.platform.db import migrate
    from accrue.platform.db.engine import build_engine
    from accrue.supervisor import Supervisor

    if settings.auto_migrate:
        engine = build_engine(settings.database_url)
        try:
            migrate.upgrade(engine)
        finally:
            engine.dispose()
    key = ""
    if args.demo:
        app = build_application(settings.model_copy(update={"auto_migrate": False}))
        try:
            key = ensure_demo_key(app)[1]
        finally:
            app.close()
    supervisor = Supervisor(settings, database_url=settings.database_url)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    signal.signal(signal.SIGINT, supervisor.request_stop)

    def on_ready(grpc_port: int, connect_port: int) -> None:
        if key:
            print(
                instructions(
                    api_key=key,
                    grpc_address=f"{settings.grpc_host}:{grpc_port}",
                    connect_url=f"http://{settings.connect_host}:{connect_port}",
                ),
                flush=True,
            )

    return supervisor.run(on_ready=on_ready)


def _start_webhook_dispatcher(app: Application, stop: threading.Event) -> threading.Thread:
    """Deliver webhooks in a thread of this process until `stop` is set."""
    dispatcher = app.webhook_dispatcher
    assert dispatcher is not None
    thread = threading.Thread(
        target=dispatcher.run,
        args=(stop,),
        kwargs={"poll_seconds": app.settings.webhook_poll_seconds},
        name="webhook-dispatcher",
        daemon=True,
    )
    thread.start()
    return thread


def _worker(args: argparse.Namespace) -> int:
    """Bill due subscriptions, collect due invoices and resolve unknown payment
    outcomes until stopped (or, with --once, until a pass finds nothing to do);
    a thread delivers webhooks meanwhile.

    On a terminal it prints a progress line per bill-run batch; otherwise the
    batches go to the (JSON) log only."""
    from accrue.metrics.endpoint import serve_metrics
    from accrue.platform.health import Readiness

    settings = _settings(args)
    configure_logging(settings.log_level, settings.log_format)
    app = build_application(settings, process="worker")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log = logging.getLogger("accrue.worker")
    app.start_background(listen=False)
    progress = BillRunProgress(sys.stdout) if sys.stdout.isatty() else None
    endpoint = serve_metrics(app, Readiness(app.engine).check)
    settle_after_start_up(settings.gc_young_threshold)
    print(f"READY worker{_metrics_port(endpoint)}", flush=True)
    total = collected = resolved = failed = 0
    webhooks = _start_webhook_dispatcher(app, stop)
    try:
        while not stop.is_set():
            began = time.perf_counter()
            result = app.bill_run.run_batch(limit=args.batch_size)
            total += result.steps
            failed += result.failed
            if result.claimed:
                seconds = time.perf_counter() - began
                log.info(
                    "bill-run batch",
                    extra={
                        "claimed": result.claimed,
                        "steps": result.steps,
                        "failed": result.failed,
                        "seconds": round(seconds, 3),
                    },
                )
                if progress is not None:
                    progress.batch(result.steps, result.failed, seconds)
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
        stop.set()
        webhooks.join(settings.webhook_timeout_seconds + 5)
        if app.sequencer is not None:
            try:  # leave nothing this worker committed unnumbered if it can help it
                app.sequencer.drain(timeout=10)
            except Exception:
                log.exception("final sequencing pass failed")
        if endpoint is not None:
            endpoint.close()
        app.close()
    print(
        f"DONE steps={total} collections={collected} resolved={resolved} failed={failed}",
        flush=True,
    )
    return 0


class BillRunProgress:
    """One line per bill-run batch for a person watching a terminal."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._began = time.perf_counter()
        self._billed = 0
        self._failed = 0

    def batch(self, steps: int, failed: int, seconds: float) -> None:
        self._billed += steps
        self._failed += failed
        elapsed = time.perf_counter() - self._began
        rate = self._billed / elapsed if elapsed > 0 else 0.0
        batch_rate = steps / seconds if seconds > 0 else 0.0
        self._out.write(
            f"bill run: {self._billed:,} renewals billed ({rate:,.0f}/s);"
            f" this batch {steps:,} in {seconds:.2f} s ({batch_rate:,.0f}/s);"
            f" failures {self._failed:,}" + (f" (+{failed})" if failed else "") + "\n"
        )
        self._out.flush()


def _relay(args: argparse.Namespace) -> int:
    from accrue.relay.main import run_relay

    settings = _settings(
        args, relay_nats_url=getattr(args, "nats_url", None), relay_stream=args.stream
    )
    configure_logging(settings.log_level, settings.log_format)
    return run_relay(settings, once=args.once)


def _migrate(args: argparse.Namespace) -> int:
    from accrue.platform.db import migrate
    from accrue.platform.db.engine import build_engine

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


def _reports_not_found(command: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    """An unknown tenant or key is a one-line error and exit status 1, not a traceback."""

    def run(args: argparse.Namespace) -> int:
        from accrue.kernel.errors import NotFound

        try:
            return command(args)
        except NotFound as error:
            print(f"error: {error.message}", file=sys.stderr)
            return 1

    return run


@_reports_not_found
def _tenant_keys(args: argparse.Namespace) -> int:
    """List a tenant's API keys by prefix and creation time; secrets are never kept."""
    app = build_application(_settings(args))
    try:
        tenant = app.tenants.resolve(args.tenant)
        keys = app.tenants.list_keys(tenant.id)
    finally:
        app.close()
    print(f"{'KEY ID':<32}  {'PREFIX':<15}  {'CREATED (UTC)':<20}  REVOKED (UTC)")
    for key in keys:
        prefix = f"{key.prefix}..." if key.prefix else "(unknown)"
        revoked = _utc(key.revoke_time) if key.revoke_time else "-"
        print(f"{key.key_id:<32}  {prefix:<15}  {_utc(key.create_time):<20}  {revoked}")
    return 0


@_reports_not_found
def _tenant_new_key(args: argparse.Namespace) -> int:
    app = build_application(_settings(args))
    try:
        tenant = app.tenants.resolve(args.tenant)
        key = app.tenants.new_key(tenant.id)
    finally:
        app.close()
    print(f"key id  {key.key_id}  (tenant {tenant.id})")
    print(f"api key {key.secret}")
    print("The key is shown only now; store it in your secret manager.")
    return 0


@_reports_not_found
def _tenant_revoke_key(args: argparse.Namespace) -> int:
    from accrue.tenancy.service import MAX_KEY_CACHE_SECONDS

    app = build_application(_settings(args))
    try:
        tenant = app.tenants.resolve(args.tenant)
        key = app.tenants.revoke_key(tenant.id, args.key_id)
    finally:
        app.close()
    assert key.revoke_time is not None
    print(f"revoked {key.key_id} at {_utc(key.revoke_time)}")
    print(f"Every server refuses it within {MAX_KEY_CACHE_SECONDS:g} s.")
    return 0


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


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
    from accrue.payments.psp import simulator_server

    return simulator_server.main(args.sim_args)


def _add_tenant_parser(commands: Any, database: Callable[[argparse.ArgumentParser], None]) -> None:
    """`accrue tenant create|keys|new-key|revoke-key`."""
    tenant = commands.add_parser("tenant", help="tenant administration")
    tenant_commands = tenant.add_subparsers(dest="tenant_command", required=True)
    create = tenant_commands.add_parser("create", help="create a tenant and print its API key")
    create.add_argument("name")
    database(create)
    create.set_defaults(run=_tenant_create)
    keys = tenant_commands.add_parser(
        "keys", help="list a tenant's API keys (prefix, creation, revocation; never the secret)"
    )
    keys.add_argument("tenant", help="tenant id or name")
    database(keys)
    keys.set_defaults(run=_tenant_keys)
    new_key = tenant_commands.add_parser("new-key", help="issue another API key and print it")
    new_key.add_argument("tenant", help="tenant id or name")
    database(new_key)
    new_key.set_defaults(run=_tenant_new_key)
    revoke = tenant_commands.add_parser(
        "revoke-key", help="revoke an API key (refused by every server within 1 s)"
    )
    revoke.add_argument("tenant", help="tenant id or name")
    revoke.add_argument("key_id", help="the key id shown by `accrue tenant keys`")
    database(revoke)
    revoke.set_defaults(run=_tenant_revoke_key)


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
    serve.add_argument(
        "--processes",
        type=int,
        help="server processes sharing both ports (env ACCRUE_PROCESSES; default 1)",
    )
    serve.add_argument("--supervised", action="store_true", help=argparse.SUPPRESS)
    serve.set_defaults(run=_serve)

    worker = commands.add_parser(
        "worker", help="bill, collect and resolve payments as work comes due; deliver webhooks"
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

    _add_tenant_parser(commands, database)

    demo = commands.add_parser("demo", help="ensure the demo tenant and print a key and examples")
    database(demo)
    demo.set_defaults(run=_demo)

    # "+" as the prefix lets every "-" flag through to the simulator's own parser.
    psp_sim = commands.add_parser(
        "psp-sim", help="run the simulated PSP over HTTP", add_help=False, prefix_chars="+"
    )
    psp_sim.add_argument("sim_args", nargs=argparse.REMAINDER)
    psp_sim.set_defaults(run=_psp_sim)

    relay = commands.add_parser(
        "relay", help="publish every event to NATS JetStream (accrue.<tenant>.<type>)"
    )
    database(relay)
    relay.add_argument("--nats-url", help="NATS server (env ACCRUE_RELAY_NATS_URL)")
    relay.add_argument("--stream", help="JetStream stream, created if missing")
    relay.add_argument("--once", action="store_true", help="exit when every event is relayed")
    relay.set_defaults(run=_relay)

    from accrue.reconciliation import cli as recon_cli

    recon_cli.add_parser(commands)
    from accrue.ledger import cli as ledger_cli

    ledger_cli.add_parser(commands, _settings)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    result: int = args.run(args)
    return result


def run() -> None:
    """The `accrue` program: `main`, then exit.

    The command is done and has released what it held when `main` returns. What
    is left is the interpreter's teardown, whose collections would walk every
    object of the application (0.7 s of each server's stop); frozen objects are
    skipped, and everything still referenced is freed as usual.
    """
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
