"""`accrue relay`: the relay as a process, stopped cleanly by SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal

from accrue.bootstrap import Application, build_application
from accrue.config import Settings
from accrue.event_log.convert import event_to_pb
from accrue.kernel.events import StoredEvent
from accrue.platform.heap import settle_after_start_up
from accrue.relay.jetstream import JetStreamBroker
from accrue.relay.relay import EventRelay, RelayTarget

log = logging.getLogger("accrue.relay")


def event_bytes(event: StoredEvent) -> bytes:
    """The message body: the event as binary protobuf (`accrue.billing.v1.Event`)."""
    return event_to_pb(event).SerializeToString(deterministic=True)


def run_relay(settings: Settings, *, once: bool = False) -> int:
    from accrue.metrics.endpoint import serve_metrics
    from accrue.platform.health import Readiness

    app = build_application(settings)
    endpoint = serve_metrics(app, Readiness(app.engine).check)
    settle_after_start_up(settings.gc_young_threshold)
    try:
        return asyncio.run(_main(app, settings, once=once))
    finally:
        if endpoint is not None:
            endpoint.close()
        app.close()


async def _main(app: Application, settings: Settings, *, once: bool) -> int:

    subjects = [s.strip() for s in settings.relay_stream_subjects.split(",") if s.strip()]
    broker = await JetStreamBroker.connect(
        settings.relay_nats_url, stream=settings.relay_stream, subjects=subjects
    )
    relay = EventRelay(
        uow_factory=app.uow_factory,
        broker=broker,
        clock=app.clock,
        encode_event=event_bytes,
        target=RelayTarget(
            stream=settings.relay_stream,
            subject_prefix=settings.relay_subject_prefix,
            batch=settings.relay_batch,
            window=settings.relay_window,
        ),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"READY relay stream={settings.relay_stream}", flush=True)
    total = 0
    try:
        if once:
            while moved := await relay.pass_once():
                total += moved
        else:
            await relay.run(stop, poll_seconds=settings.relay_poll_seconds)
    finally:
        await broker.close()
    print(f"DONE relayed={total}", flush=True)
    return 0
