"""The composition root: the one place that builds engines and wires objects."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from google.protobuf.descriptor import ServiceDescriptor
from sqlalchemy import Engine

from accrue.billing.v1 import (
    catalog_pb2,
    customer_pb2,
    entitlement_pb2,
    event_pb2,
    invoice_pb2,
    ledger_pb2,
    payment_pb2,
    policy_pb2,
    reconciliation_pb2,
    subscription_pb2,
    test_clock_pb2,
    usage_pb2,
    webhook_pb2,
)
from accrue.catalog.handlers import CatalogHandler
from accrue.catalog.service import CatalogService
from accrue.catalog.use_cases import CatalogUseCases
from accrue.config import Settings
from accrue.customers.handlers import CustomerHandler
from accrue.customers.service import CustomerService
from accrue.customers.use_cases import CustomersUseCases
from accrue.entitlements.ports import MeterUsageReader
from accrue.entitlements.resolver import EntitlementResolver
from accrue.entitlements.thresholds import ThresholdWatcher
from accrue.event_log.handlers import EventHandler
from accrue.event_log.notifications import SequencedListener
from accrue.event_log.service import EventBell, EventReader, EventRecorder
from accrue.event_log.use_cases import EventLogUseCases
from accrue.invoicing.documents.renderer import DocumentRenderer
from accrue.invoicing.documents.service import DocumentService
from accrue.invoicing.handlers import InvoiceHandler
from accrue.invoicing.issuing import Invoicing
from accrue.invoicing.service import InvoiceService
from accrue.invoicing.tax import DEFAULT_TABLE, RateTableTaxProvider
from accrue.invoicing.use_cases import InvoicingUseCases
from accrue.kernel.clock import Clock
from accrue.kernel.ids import IdGenerator
from accrue.ledger.handlers import LedgerHandler
from accrue.ledger.sequencer import LedgerSequencer
from accrue.ledger.service import LedgerService
from accrue.ledger.use_cases import LedgerUseCases
from accrue.metrics.registry import AppMetrics
from accrue.metrics.rpc import RpcMetrics
from accrue.payloads import encode_payload
from accrue.payments.collections import Collections
from accrue.payments.dunning import DunningPolicy
from accrue.payments.engine import FaultPoints, PaymentEngine, PaymentPolicy
from accrue.payments.handlers import PaymentHandler
from accrue.payments.psp.port import PaymentGateway
from accrue.payments.psp_webhooks import PspWebhookService
from accrue.payments.resolver import PaymentResolver
from accrue.payments.service import PaymentService
from accrue.platform.clock import SystemClock
from accrue.platform.db import migrate
from accrue.platform.db.engine import build_engine
from accrue.platform.db.key_locks import KeyLocks
from accrue.platform.idempotency import MutationRunner
from accrue.platform.resilience.backoff import Backoff
from accrue.platform.resilience.circuit_breaker import CircuitBreakers
from accrue.platform.resilience.rate_limit import TokenBucketLimiter
from accrue.platform.resilience.rpc_limits import RateLimits
from accrue.platform.transport.handler_support import HandlerSupport
from accrue.platform.transport.page_tokens import PageTokenSeal
from accrue.platform.transport.pipeline import Invoker, current_trace_id
from accrue.platform.transport.routes import Route, build_routes
from accrue.reconciliation.handlers import ReconciliationHandler
from accrue.reconciliation.matching import FeeSchedule
from accrue.reconciliation.service import ReconciliationService
from accrue.reconciliation.use_cases import ReconciliationUseCases
from accrue.subscriptions.bill_run import BillRun
from accrue.subscriptions.billing import SubscriptionBilling
from accrue.subscriptions.first_charge import FirstCharge
from accrue.subscriptions.handlers import SubscriptionHandler
from accrue.subscriptions.payment_reactions import SubscriptionCollectionReactions
from accrue.subscriptions.service import SubscriptionService
from accrue.subscriptions.use_cases import SubscriptionUseCases
from accrue.tenancy.service import Authenticator
from accrue.tenancy.use_cases import TenancyUseCases
from accrue.test_clocks.handlers import TestClockHandler
from accrue.test_clocks.service import TestClockRunner, TestClockService
from accrue.test_clocks.use_cases import TestClockUseCases
from accrue.unit_of_work import SqlUnitOfWorkFactory
from accrue.usage.handlers import UsageHandler
from accrue.usage.service import UsageService
from accrue.usage.use_cases import UsageUseCases
from accrue.webhooks.dispatcher import WebhookDispatcher
from accrue.webhooks.handlers import WebhookHandler

SERVICES: tuple[ServiceDescriptor, ...] = (
    catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"],
    customer_pb2.DESCRIPTOR.services_by_name["CustomerService"],
    ledger_pb2.DESCRIPTOR.services_by_name["LedgerService"],
    event_pb2.DESCRIPTOR.services_by_name["EventService"],
    subscription_pb2.DESCRIPTOR.services_by_name["SubscriptionService"],
    invoice_pb2.DESCRIPTOR.services_by_name["InvoiceService"],
    test_clock_pb2.DESCRIPTOR.services_by_name["TestClockService"],
    payment_pb2.DESCRIPTOR.services_by_name["PaymentService"],
    reconciliation_pb2.DESCRIPTOR.services_by_name["ReconciliationService"],
    webhook_pb2.DESCRIPTOR.services_by_name["WebhookService"],
    usage_pb2.DESCRIPTOR.services_by_name["UsageService"],
    entitlement_pb2.DESCRIPTOR.services_by_name["EntitlementService"],
    policy_pb2.DESCRIPTOR.services_by_name["SubscriptionPolicyService"],
)
# The RPCs that move money, rate limited per tenant.
RATE_LIMITED_METHODS = (
    "accrue.billing.v1.PaymentService/CreatePayment",
    "accrue.billing.v1.PaymentService/RefundPayment",
)
SIMULATED_PSP = "simulated"


@dataclass
class Application:
    settings: Settings
    engine: Engine
    clock: Clock
    tenants: TenancyUseCases
    routes: list[Route]
    invoker: Invoker
    uow_factory: SqlUnitOfWorkFactory
    ledger: LedgerService
    # Set when the server starts shutting down; long-lived streams end on it.
    shutting_down: threading.Event
    event_bell: EventBell
    bill_run: BillRun
    payments: PaymentEngine
    collections: Collections
    resolver: PaymentResolver
    psp_webhooks: PspWebhookService
    reconciliation: ReconciliationService
    metrics: AppMetrics
    documents: DocumentService
    public_url: PublicUrl
    shared_state: Any = None  # the Redis client, when ACCRUE_REDIS_URL is set

    sequencer: LedgerSequencer | None = None
    # Wakes event streams when another process's sequencer numbers events.
    listener: SequencedListener | None = None
    webhook_dispatcher: WebhookDispatcher | None = None
    # Runs test-clock advances in the background (serve and worker).
    test_clock_runner: TestClockRunner | None = None
    # The UsageObserver usage ingestion calls to emit usage.threshold_crossed.
    threshold_watcher: ThresholdWatcher | None = None

    def start_background(self, *, listen: bool = True) -> None:
        """Start the sequencer (and, for servers, the NOTIFY listener)."""
        if self.sequencer is not None:
            self.sequencer.start()
        if listen and self.listener is not None:
            self.listener.start()
        if self.test_clock_runner is not None:
            self.test_clock_runner.start()

    def close(self) -> None:
        if self.test_clock_runner is not None:
            self.test_clock_runner.stop()
        if self.webhook_dispatcher is not None:
            self.webhook_dispatcher.close()
        if self.listener is not None:
            self.listener.stop()
        if self.sequencer is not None:
            self.sequencer.stop()
        self.engine.dispose()
        if self.shared_state is not None:
            self.shared_state.close()


def build_application(
    settings: Settings,
    *,
    clock: Clock | None = None,
    process: str = "serve",
    usage_reader: MeterUsageReader | None = None,
) -> Application:
    clock = clock or SystemClock()
    metrics = AppMetrics(process, enabled=settings.metrics_enabled)
    engine = build_engine(
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        pool_size=settings.db_pool_size,
    )
    if settings.auto_migrate:
        migrate.upgrade(engine)
    bell = EventBell()
    sequencer = _sequencer(settings, engine, clock)
    sequencer.after_batch = lambda tenant_id: bell.ring([tenant_id])
    # PostgreSQL numbers events after commit: a commit pokes this process's
    # sequencer, whose batch rings the bell (and NOTIFYs other processes).
    committed = sequencer.poke if sequencer.numbers_after_commit else bell.ring
    shared = _shared_state(settings)
    uow_factory = SqlUnitOfWorkFactory(
        engine,
        encode_event=encode_payload,
        on_events_committed=committed,
        in_flight=_in_flight(settings, shared),
    )
    ids = IdGenerator(clock)
    events = EventRecorder(clock, ids, current_trace_id)
    ledger = LedgerService(clock, ids, events, current_trace_id)
    shutting_down = threading.Event()
    runner = MutationRunner(uow_factory, clock)
    support = HandlerSupport()
    invoicing = Invoicing(clock, ids, events, ledger, RateTableTaxProvider(DEFAULT_TABLE))
    billing = SubscriptionBilling(invoicing, events, _usage_arrears(uow_factory, ids))
    resolver = EntitlementResolver()
    # Usage ingestion calls it (a UsageObserver) inside its transaction.
    threshold_watcher = ThresholdWatcher(clock, events, resolver)
    usage = UsageService(clock, ids, events=events, observers=[threshold_watcher])
    usage_reader = usage_reader or usage
    subscriptions = SubscriptionService(ids, billing, _guard(ids, resolver, usage_reader))
    breakers = CircuitBreakers(
        failure_threshold=settings.psp_breaker_failures,
        reset_after_seconds=settings.psp_breaker_reset_seconds,
    )
    payment_engine = PaymentEngine(
        uow_factory=uow_factory,
        clock=clock,
        ids=ids,
        events=events,
        ledger=ledger,
        invoicing=invoicing,
        listener=SubscriptionCollectionReactions(billing),
        gateways={SIMULATED_PSP: metrics.meter_gateway(_gateway(settings, clock))},
        breakers=breakers,
        policy=_payment_policy(settings),
        faults=_faults(settings),
    )
    collections = Collections(uow_factory, clock, payment_engine)
    reconciliation = ReconciliationService(
        uow_factory=uow_factory,
        clock=clock,
        ids=ids,
        events=events,
        ledger=ledger,
        fee_schedule=FeeSchedule(),
    )
    public_url = PublicUrl(settings)
    documents = DocumentService(
        uow_factory=uow_factory,
        clock=clock,
        renderer=DocumentRenderer(),
        link_key=_link_key(settings, engine, clock),
        base_url=public_url.get,
    )
    test_clocks = TestClockService(
        uow_factory=uow_factory,
        clock=clock,
        ids=ids,
        events=events,
        billing=billing,
        collections=collections,
        batch_steps=settings.test_clock_batch_steps,
    )
    handlers = {
        "accrue.billing.v1.CatalogService": CatalogHandler(
            support, CatalogUseCases(uow_factory, runner, CatalogService(clock, ids, events))
        ),
        "accrue.billing.v1.CustomerService": CustomerHandler(
            support, CustomersUseCases(uow_factory, runner, CustomerService(clock, ids, events))
        ),
        "accrue.billing.v1.LedgerService": LedgerHandler(
            support, LedgerUseCases(uow_factory, runner, ledger)
        ),
        "accrue.billing.v1.EventService": EventHandler(
            EventLogUseCases(uow_factory, EventReader(), bell=bell, shutting_down=shutting_down)
        ),
        "accrue.billing.v1.SubscriptionService": SubscriptionHandler(
            support,
            SubscriptionUseCases(
                uow_factory, runner, subscriptions, FirstCharge(uow_factory, collections)
            ),
        ),
        "accrue.billing.v1.InvoiceService": InvoiceHandler(
            support,
            InvoicingUseCases(uow_factory, runner, InvoiceService(invoicing), subscriptions),
            documents,
        ),
        "accrue.billing.v1.TestClockService": TestClockHandler(
            support, TestClockUseCases(uow_factory, runner, test_clocks)
        ),
        "accrue.billing.v1.PaymentService": PaymentHandler(
            PaymentService(uow_factory, payment_engine)
        ),
        "accrue.billing.v1.ReconciliationService": ReconciliationHandler(
            support, ReconciliationUseCases(uow_factory, runner, reconciliation)
        ),
    }
    webhook_handler, webhook_dispatcher = _webhooks(
        settings, clock, ids, uow_factory, support=support, runner=runner
    )
    handlers["accrue.billing.v1.WebhookService"] = webhook_handler
    bell.subscribe(webhook_dispatcher.wake)
    handlers["accrue.billing.v1.UsageService"] = UsageHandler(
        support, UsageUseCases(uow_factory, runner, usage)
    )
    handlers.update(
        _entitlements(
            clock,
            ids,
            events=events,
            uow_factory=uow_factory,
            runner=runner,
            support=support,
            resolver=resolver,
            usage=usage_reader,
        )
    )
    routes = build_routes((service, handlers[service.full_name]) for service in SERVICES)
    return Application(
        settings=settings,
        engine=engine,
        clock=clock,
        tenants=TenancyUseCases(uow_factory, clock, ids),
        routes=routes,
        invoker=Invoker(
            Authenticator(uow_factory),
            _rate_limits(settings, shared),
            page_tokens=_page_tokens(settings, engine, clock),
            **_observer(metrics, routes),
        ),
        uow_factory=uow_factory,
        ledger=ledger,
        shutting_down=shutting_down,
        event_bell=bell,
        bill_run=BillRun(uow_factory, clock, billing),
        payments=payment_engine,
        collections=collections,
        resolver=PaymentResolver(uow_factory, clock, payment_engine),
        psp_webhooks=PspWebhookService(uow_factory, clock, payment_engine),
        reconciliation=reconciliation,
        sequencer=sequencer,
        listener=(
            SequencedListener(engine.url, bell.ring) if sequencer.numbers_after_commit else None
        ),
        shared_state=shared,
        webhook_dispatcher=webhook_dispatcher,
        test_clock_runner=TestClockRunner(test_clocks, poll_seconds=1.0),
        threshold_watcher=threshold_watcher,
        metrics=_watch(metrics, settings, engine, clock, breakers),
        documents=documents,
        public_url=public_url,
    )


def _gateway(settings: Settings, clock: Clock) -> PaymentGateway:
    """The PSP: a remote one (such as `accrue psp-sim`) or the simulator in-process."""
    if settings.psp_url:
        from accrue.payments.psp.http_gateway import HttpPaymentGateway

        return HttpPaymentGateway(
            settings.psp_url, timeout_seconds=settings.psp_timeout_seconds, name=SIMULATED_PSP
        )
    from accrue.payments.psp.in_process import InProcessGateway
    from accrue.payments.psp.simulator import SimulatedPsp

    return InProcessGateway(SimulatedPsp(clock), name=SIMULATED_PSP)


def _payment_policy(settings: Settings) -> PaymentPolicy:
    return PaymentPolicy(
        backoff=Backoff(
            settings.psp_retry_base_seconds,
            max(settings.psp_retry_cap_seconds, settings.psp_retry_base_seconds),
            settings.psp_retry_attempts,
        ),
        first_inquiry_after=timedelta(seconds=settings.payment_first_inquiry_seconds),
        inquiry_interval=timedelta(seconds=settings.payment_inquiry_interval_seconds),
        dunning=DunningPolicy.parse(settings.dunning_retry_days, settings.dunning_final_action),
    )


def _faults(settings: Settings) -> FaultPoints | None:
    if not settings.fault_crash_at:
        return None
    from accrue.platform.faults import CrashAt

    return CrashAt(settings.fault_crash_at)


def _rate_limits(settings: Settings, shared: Any = None) -> RateLimits:
    # This process's share of the limit: with N processes and nothing shared
    # (no Redis, or Redis unreachable) the machine still never grants more.
    share = settings.processes
    local = TokenBucketLimiter(
        rate_per_second=settings.payment_rate_per_second / share,
        burst=max(1, settings.payment_rate_burst // share),
    )
    if shared is None:
        return RateLimits(local, RATE_LIMITED_METHODS)
    from accrue.platform.shared_state import RedisTokenBuckets

    limiter = RedisTokenBuckets(
        shared,
        prefix=settings.redis_key_prefix,
        fallback=local,
        rate_per_second=settings.payment_rate_per_second,
        burst=settings.payment_rate_burst,
    )
    return RateLimits(limiter, RATE_LIMITED_METHODS)


def _page_tokens(settings: Settings, engine: Engine, clock: Clock) -> PageTokenSeal:
    """Page tokens sealed with the configured secret, or the deployment's own one."""
    from accrue.platform.db.server_secrets import shared_secret

    if settings.page_token_secret:
        secret = settings.page_token_secret.encode()
    else:
        secret = shared_secret(engine, "page_token", clock=clock)
    return PageTokenSeal(secret, clock)


def _sequencer(settings: Settings, engine: Engine, clock: Clock) -> LedgerSequencer:
    from accrue.ledger.checkpoint_keys import load_keys
    from accrue.ledger.sequencer import SequencerCrash

    keys = load_keys(
        signing_key_file=settings.ledger_signing_key_file,
        verify_key_files=[f for f in settings.ledger_verify_key_files.split(",") if f.strip()],
        database_url=settings.database_url,
    )
    seed = settings.fault_sequencer_crash_seed
    return LedgerSequencer(
        engine,
        clock,
        keys,
        batch_size=settings.sequencer_batch_size,
        poll_seconds=settings.sequencer_poll_seconds,
        linger_seconds=settings.sequencer_linger_seconds,
        checkpoint_seconds=settings.ledger_checkpoint_seconds,
        crash=SequencerCrash(seed) if seed >= 0 else None,
    )


def _shared_state(settings: Settings) -> Any:
    """The Redis client for state shared between processes, or None (in-process)."""
    if not settings.redis_url:
        return None
    from accrue.platform.shared_state import connect

    return connect(settings.redis_url, timeout_seconds=settings.redis_timeout_seconds)


def _in_flight(settings: Settings, shared: Any) -> KeyLocks | None:
    if shared is None:
        return None
    from accrue.platform.shared_state import RedisKeyLocks

    return RedisKeyLocks(shared, prefix=settings.redis_key_prefix)


def _webhooks(
    settings: Settings,
    clock: Clock,
    ids: IdGenerator,
    uow_factory: SqlUnitOfWorkFactory,
    *,
    support: HandlerSupport,
    runner: MutationRunner,
) -> tuple[WebhookHandler, WebhookDispatcher]:
    """The webhook area: its RPC handler and its dispatcher, sharing one URL policy."""
    from accrue.webhooks.convert import event_json
    from accrue.webhooks.dispatcher import DispatchLimits
    from accrue.webhooks.http import HttpSender, SocketResolver
    from accrue.webhooks.model import AddressPolicy, RetryPolicy
    from accrue.webhooks.service import UrlVetter, WebhookService
    from accrue.webhooks.use_cases import WebhookUseCases

    vetter = UrlVetter(SocketResolver(), AddressPolicy.parse(settings.webhook_allowed_networks))
    dispatcher = WebhookDispatcher(
        uow_factory=uow_factory,
        clock=clock,
        ids=ids,
        vetter=vetter,
        sender=HttpSender(),
        encode_event=event_json,
        policy=RetryPolicy(
            base=timedelta(seconds=settings.webhook_retry_base_seconds),
            cap=timedelta(
                seconds=max(settings.webhook_retry_cap_seconds, settings.webhook_retry_base_seconds)
            ),
            window=timedelta(seconds=settings.webhook_retry_window_seconds),
        ),
        limits=DispatchLimits(
            workers=settings.webhook_workers,
            per_endpoint_concurrency=settings.webhook_endpoint_concurrency,
            timeout_seconds=settings.webhook_timeout_seconds,
        ),
    )
    use_cases = WebhookUseCases(uow_factory, runner, WebhookService(clock, ids, vetter))
    return WebhookHandler(support, use_cases), dispatcher


def _usage_arrears(uow_factory: SqlUnitOfWorkFactory, ids: IdGenerator) -> Any:
    """Metered items' lines at renewal, read from the usage area's running aggregates."""
    from accrue.usage.billing import UsageArrears

    return UsageArrears(uow_factory, ids)


def _guard(ids: IdGenerator, resolver: EntitlementResolver, usage: MeterUsageReader) -> Any:
    """The subscription-policy hook SubscriptionService calls on change, preview and cancel."""
    from accrue.policies.guard import PolicyGuard

    return PolicyGuard(ids, resolver, usage)


def _entitlements(
    clock: Clock,
    ids: IdGenerator,
    *,
    events: EventRecorder,
    uow_factory: SqlUnitOfWorkFactory,
    runner: MutationRunner,
    support: HandlerSupport,
    resolver: EntitlementResolver,
    usage: MeterUsageReader,
) -> dict[str, Any]:
    """The entitlement and policy areas' handlers; `usage` None refuses metered features."""
    from accrue.entitlements.handlers import EntitlementHandler
    from accrue.entitlements.service import EntitlementService
    from accrue.entitlements.use_cases import EntitlementUseCases
    from accrue.policies.handlers import PolicyHandler
    from accrue.policies.service import PolicyService
    from accrue.policies.use_cases import PolicyUseCases

    service = EntitlementService(clock, ids, events, resolver, usage)
    return {
        "accrue.billing.v1.EntitlementService": EntitlementHandler(
            support, EntitlementUseCases(uow_factory, runner, service)
        ),
        "accrue.billing.v1.SubscriptionPolicyService": PolicyHandler(
            support, PolicyUseCases(uow_factory, runner, PolicyService(clock, events))
        ),
    }


def _observer(metrics: AppMetrics, routes: list[Route]) -> dict[str, RpcMetrics]:
    """The invoker's call observer: RED metrics per RPC, or none when metrics are off."""
    if not metrics.enabled:
        return {}
    metrics.rpc.prepare((route.full_name for route in routes), ("grpc", "connect"))
    return {"observer": metrics.rpc}


def _watch(
    metrics: AppMetrics,
    settings: Settings,
    engine: Engine,
    clock: Clock,
    breakers: CircuitBreakers,
) -> AppMetrics:
    """Scrape-time sources: pool use, breaker state, money-path gauges."""
    if metrics.enabled:
        from accrue.operational_state import SqlOperationalState, SqlWebhookBacklog

        metrics.watch_pool(engine)
        metrics.watch_breaker(SIMULATED_PSP, lambda: breakers.get(SIMULATED_PSP).state.value)
        metrics.watch_state(
            SqlOperationalState(engine),
            clock.now,
            refresh_seconds=settings.metrics_state_refresh_seconds,
        )
        metrics.add_backlog("webhooks", SqlWebhookBacklog(engine))
    return metrics


class PublicUrl:
    """Where customers reach the Connect port; the server fills in the bound port."""

    def __init__(self, settings: Settings) -> None:
        self._configured = settings.public_url
        self._value = settings.public_url or (
            f"http://{settings.connect_host}:{settings.connect_port}"
        )

    def bound(self, host: str, port: int) -> None:
        if not self._configured:
            self._value = f"http://{host}:{port}"

    def get(self) -> str:
        return self._value


def _link_key(settings: Settings, engine: Engine, clock: Clock) -> Callable[[], bytes]:
    """The page-link signing key: configured, else generated once and kept in the database."""
    if settings.invoice_link_secret:
        key = settings.invoice_link_secret.encode()
        if len(key) < 32:
            raise ValueError("ACCRUE_INVOICE_LINK_SECRET must be at least 32 characters")
        return lambda: key
    from accrue.platform.db.server_secrets import shared_secret

    loaded: list[bytes] = []
    lock = threading.Lock()

    def get() -> bytes:
        with lock:
            if not loaded:
                loaded.append(shared_secret(engine, "invoice_link", clock=clock))
            return loaded[0]

    return get
