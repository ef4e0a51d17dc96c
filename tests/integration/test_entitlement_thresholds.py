"""Metered entitlements on SQLite and PostgreSQL: a usage reader wired in, the
ThresholdWatcher called inside a usage transaction, events committed with it."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from google.protobuf import field_mask_pb2

from accrue.billing.v1 import entitlement_pb2 as ent
from accrue.billing.v1 import event_pb2 as ev
from accrue.billing.v1 import policy_pb2 as pol
from accrue.billing.v1 import subscription_pb2 as sub
from accrue.entitlements.resolver import EntitlementResolver
from accrue.entitlements.service import EntitlementService
from accrue.event_log.service import EventRecorder
from accrue.events.v1 import events_pb2
from accrue.kernel.ids import IdGenerator
from accrue.platform.clock import SystemClock
from accrue.usage.ports import UsageChange
from tests.conftest import Transport
from tests.contract.billing_steps import Scenario, rid, utc
from tests.fakes.entitlements import FakeUsage
from tests.support import GrpcClients, RunningServer, running_server, settle

ENTITLEMENTS = "accrue.billing.v1.EntitlementService"


@pytest.fixture
def usage() -> FakeUsage:
    return FakeUsage()


@pytest.fixture
def metered(database_url: str, usage: FakeUsage) -> Iterator[tuple[RunningServer, Transport]]:
    with running_server(database_url, usage_reader=usage) as server:
        key = server.new_tenant("metered")
        clients = GrpcClients(server.grpc_target, key)
        try:
            yield server, Transport("grpc", clients)
        finally:
            clients.close()


def _arrange(s: Scenario, *, seats: int) -> tuple[str, str, str]:
    """A customer with `seats` seats; each seat allows 100 API calls, thresholds 80 and 100 %."""
    price = s.price(1000).id
    feature = s.call(
        ENTITLEMENTS,
        "CreateFeature",
        ent.CreateFeatureRequest(
            feature=ent.Feature(
                key="api-calls",
                display_name="API calls",
                type=ent.FEATURE_TYPE_NUMERIC,
                per_unit=True,
                meter_id="mtr_api",
                threshold_percents=[100, 80],
            ),
            request_id=rid(),
        ),
    )
    s.call(
        ENTITLEMENTS,
        "AttachFeature",
        ent.AttachFeatureRequest(
            feature_id=feature.id, product_id=s.product.id, limit="100", request_id=rid()
        ),
    )
    customer = s.customer()
    team = s.subscribe(customer.id, price, quantity=seats)
    return customer.id, team.id, price


def test_thresholds_are_announced_once_in_the_usage_transaction(
    metered: tuple[RunningServer, Transport], usage: FakeUsage
) -> None:
    server, rpc = metered
    s = Scenario(rpc, utc(2026, 4, 1))
    customer_id, _, _ = _arrange(s, seats=2)
    tenant_id = server.tenant_of(rpc.clients.metadata[0][1].split(" ", 1)[1])  # type: ignore[union-attr]
    watcher = server.app.threshold_watcher
    assert watcher is not None

    def ingest(before: str, after: str) -> None:
        usage.values[(customer_id, "mtr_api")] = Decimal(after)
        with server.app.uow_factory(write=True) as uow:
            change = UsageChange(customer_id, "mtr_api", Decimal(before), Decimal(after))
            watcher.usage_changed(uow, tenant_id=tenant_id, changes=[change])
            uow.commit()

    ingest("0", "150")
    ingest("150", "170")  # 85 %: announced already
    ingest("170", "200")
    ingest("200", "260")

    check = s.call(
        ENTITLEMENTS,
        "CheckEntitlement",
        ent.CheckEntitlementRequest(customer_id=customer_id, feature_key="api-calls"),
    )
    assert (check.allowed, check.limit, check.usage, check.remaining) == (False, "200", "260", "0")
    settle(server.app)  # PostgreSQL numbers events after commit; only numbered ones are listed
    events = s.call(
        "accrue.billing.v1.EventService",
        "ListEvents",
        ev.ListEventsRequest(types=["usage.threshold_crossed"]),
    ).events
    crossed = []
    for event in events:
        payload = events_pb2.UsageThresholdCrossed()
        assert event.payload.Unpack(payload)
        crossed.append((payload.threshold_percent, payload.usage, payload.limit))
    assert crossed == [(80, "170", "200"), (100, "200", "200")]
    assert {e.resource_id for e in events} == {customer_id}


def test_fewer_seats_than_the_metered_usage_needs_is_refused(
    metered: tuple[RunningServer, Transport], usage: FakeUsage
) -> None:
    _, rpc = metered
    s = Scenario(rpc, utc(2026, 4, 1))
    customer_id, team_id, price = _arrange(s, seats=3)
    usage.values[(customer_id, "mtr_api")] = Decimal(250)
    s.call(
        "accrue.billing.v1.SubscriptionPolicyService",
        "UpdateSubscriptionPolicy",
        pol.UpdateSubscriptionPolicyRequest(
            policy=pol.SubscriptionPolicy(no_limit_below_usage=True),
            update_mask=field_mask_pb2.FieldMask(paths=["no_limit_below_usage"]),
            request_id=rid(),
        ),
    )

    refused = s.fail(
        "accrue.billing.v1.SubscriptionService",
        "ChangeSubscription",
        s.change_request(team_id, price, quantity=2),
    )
    previewed = s.preview(team_id, price, quantity=2)
    fine = s.change(team_id, price, quantity=4)

    assert (refused.code, refused.reason) == ("FAILED_PRECONDITION", "POLICY_VIOLATION")
    assert refused.metadata["policy"] == "NO_LIMIT_BELOW_USAGE"
    assert [v.rule for v in previewed.policy_violations] == [pol.POLICY_RULE_NO_LIMIT_BELOW_USAGE]
    assert fine.subscription.items[0].quantity == 4
    assert isinstance(fine, sub.ChangeSubscriptionResponse)


def test_a_cache_in_another_process_sees_a_change_on_its_next_check(
    metered: tuple[RunningServer, Transport],
) -> None:
    """Another process's resolver (here: a second one on the same database) is never stale."""
    server, rpc = metered
    s = Scenario(rpc, utc(2026, 4, 1))
    customer_id, team_id, price = _arrange(s, seats=2)
    tenant_id = server.tenant_of(rpc.clients.metadata[0][1].split(" ", 1)[1])  # type: ignore[union-attr]
    clock = SystemClock()
    ids = IdGenerator(clock)
    elsewhere = EntitlementService(
        clock, ids, EventRecorder(clock, ids, lambda: ""), EntitlementResolver(), FakeUsage()
    )

    def limit() -> Decimal | None:
        with server.app.uow_factory(write=False) as uow:
            return elsewhere.check(uow, tenant_id, customer_id, "api-calls", quantity="").limit

    assert limit() == Decimal(200)
    s.change(team_id, price, quantity=3)
    assert limit() == Decimal(300)
    feature_id = s.call(ENTITLEMENTS, "ListFeatures", ent.ListFeaturesRequest()).features[0].id
    s.call(
        ENTITLEMENTS,
        "AttachFeature",
        ent.AttachFeatureRequest(
            feature_id=feature_id, price_id=price, limit="1000", request_id=rid()
        ),
    )
    assert limit() == Decimal(3000)
    s.cancel(team_id)
    assert limit() == Decimal(0)
