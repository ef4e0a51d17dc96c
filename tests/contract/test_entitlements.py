"""Entitlements and subscription policies through the generated clients and the real server.

A team plan story on a test clock: Basic grants 1 seat per seat bought and
no SSO; Pro (same product) grants 2 seats per seat and SSO. Entitlements
follow each ChangeSubscription and the cancellation at the period end.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from google.protobuf import field_mask_pb2

from accrue.billing.v1 import entitlement_pb2 as ent
from accrue.billing.v1 import event_pb2 as ev
from accrue.billing.v1 import policy_pb2 as pol
from accrue.billing.v1 import subscription_pb2 as sub
from accrue.events.v1 import events_pb2
from tests.conftest import Transport
from tests.contract.billing_steps import (
    NO_PRORATION,
    SUBSCRIPTIONS,
    Scenario,
    grpc_transport,
    rid,
    utc,
)
from tests.support import RunningServer

ENTITLEMENTS = "accrue.billing.v1.EntitlementService"
POLICIES = "accrue.billing.v1.SubscriptionPolicyService"
BOOLEAN, NUMERIC = ent.FEATURE_TYPE_BOOLEAN, ent.FEATURE_TYPE_NUMERIC


@pytest.fixture
def grpc(server: RunningServer, api_key: str) -> Iterator[Transport]:
    yield from grpc_transport(server, api_key)


class Plans(Scenario):
    """A scenario with entitlement calls and the Basic/Pro catalog."""

    def feature(self, key: str, kind: int = BOOLEAN, **options: Any) -> ent.Feature:
        request = ent.CreateFeatureRequest(
            feature=ent.Feature(key=key, display_name=key.title(), type=kind, **options),
            request_id=rid(),
        )
        return self.call(ENTITLEMENTS, "CreateFeature", request)

    def attach(self, feature_id: str, **target_and_value: Any) -> ent.FeatureAttachment:
        request = ent.AttachFeatureRequest(
            feature_id=feature_id, request_id=rid(), **target_and_value
        )
        return self.call(ENTITLEMENTS, "AttachFeature", request)

    def entitlements(self, customer_id: str) -> dict[str, Any]:
        response = self.call(
            ENTITLEMENTS, "GetEntitlements", ent.GetEntitlementsRequest(customer_id=customer_id)
        )
        return {e.feature_key: e.limit or e.enabled for e in response.entitlements}

    def check(self, customer_id: str, key: str, quantity: str = "") -> ent.CheckEntitlementResponse:
        request = ent.CheckEntitlementRequest(
            customer_id=customer_id, feature_key=key, quantity=quantity
        )
        return self.call(ENTITLEMENTS, "CheckEntitlement", request)

    def policy(self, **rules: Any) -> pol.SubscriptionPolicy:
        request = pol.UpdateSubscriptionPolicyRequest(
            policy=pol.SubscriptionPolicy(**rules),
            update_mask=field_mask_pb2.FieldMask(paths=sorted(rules)),
            request_id=rid(),
        )
        return self.call(POLICIES, "UpdateSubscriptionPolicy", request)

    def team_catalog(self) -> tuple[str, str]:
        """Basic (10.00 per seat) and Pro (25.00 per seat) prices with their features."""
        basic, pro = self.price(1000).id, self.price(2500).id
        seats = self.feature("seats", NUMERIC, unit="seats", per_unit=True)
        sso = self.feature("sso")
        self.attach(seats.id, product_id=self.product.id, limit="1")
        self.attach(seats.id, price_id=pro, limit="2")
        self.attach(sso.id, price_id=pro, enabled=True)
        return basic, pro


def test_entitlements_follow_a_plan_change_and_the_cancellation_on_a_test_clock(
    rpc: Transport,
) -> None:
    s = Plans(rpc, utc(2026, 4, 1))
    basic, pro = s.team_catalog()
    customer = s.customer()
    assert s.entitlements(customer.id) == {}

    team = s.subscribe(customer.id, basic, quantity=5)
    assert s.entitlements(customer.id) == {"seats": "5"}
    assert not s.check(customer.id, "sso").allowed
    seats = s.check(customer.id, "seats", "5")
    assert (seats.allowed, seats.limit, seats.usage, seats.remaining) == (True, "5", "", "5")
    assert not s.check(customer.id, "seats", "6").allowed

    s.advance(utc(2026, 4, 10))
    s.change(team.id, pro, quantity=5)

    assert s.entitlements(customer.id) == {"seats": "10", "sso": True}
    assert s.check(customer.id, "sso").allowed
    assert s.check(customer.id, "seats", "10").allowed

    s.cancel(team.id, at_period_end=True)
    s.advance(utc(2026, 4, 30))
    assert s.entitlements(customer.id) == {"seats": "10", "sso": True}  # paid until May 1
    s.advance(utc(2026, 5, 2))
    assert s.entitlements(customer.id) == {}
    assert not s.check(customer.id, "sso").allowed


def test_a_preview_lists_the_policy_violations_the_change_would_be_refused_for(
    grpc: Transport,
) -> None:
    s = Plans(grpc, utc(2026, 4, 1))
    basic, pro = s.team_catalog()
    customer = s.customer()
    team = s.subscribe(customer.id, pro, quantity=5)
    s.advance(utc(2026, 4, 11))
    s.policy(downgrade_at_period_end=True)

    preview = s.preview(team.id, basic, quantity=5)
    allowed = s.preview(team.id, basic, quantity=5, behavior=NO_PRORATION)
    refused = s.fail(SUBSCRIPTIONS, "ChangeSubscription", s.change_request(team.id, basic))

    assert [v.rule for v in preview.policy_violations] == [pol.POLICY_RULE_DOWNGRADE_AT_PERIOD_END]
    assert "proration behavior NONE" in preview.policy_violations[0].description
    assert list(allowed.policy_violations) == []
    assert (refused.code, refused.reason) == ("FAILED_PRECONDITION", "POLICY_VIOLATION")
    assert refused.metadata["policy"] == "DOWNGRADE_AT_PERIOD_END"
    assert s.subscription(team.id).items[0].price_id == pro  # nothing changed
    changed = s.change(team.id, basic, quantity=5, behavior=NO_PRORATION)
    assert list(changed.policy_violations) == []
    assert s.entitlements(customer.id) == {"seats": "5"}


def test_policy_violation_names_the_policy_on_change_and_cancel(grpc: Transport) -> None:
    s = Plans(grpc, utc(2026, 4, 1))
    basic, pro = s.team_catalog()
    customer = s.customer()
    team = s.subscribe(customer.id, basic, quantity=2)
    s.policy(max_changes_per_period=1, cancel_at_period_end=True)

    s.change(team.id, basic, quantity=3)
    too_many = s.fail(SUBSCRIPTIONS, "ChangeSubscription", s.change_request(team.id, pro))
    cancel_now = s.fail(
        SUBSCRIPTIONS,
        "CancelSubscription",
        sub.CancelSubscriptionRequest(subscription_id=team.id, request_id=rid()),
    )

    assert (too_many.code, too_many.reason) == ("FAILED_PRECONDITION", "POLICY_VIOLATION")
    assert too_many.metadata["policy"] == "MAX_CHANGES_PER_PERIOD"
    assert (cancel_now.code, cancel_now.reason) == ("FAILED_PRECONDITION", "POLICY_VIOLATION")
    assert cancel_now.metadata["policy"] == "CANCEL_AT_PERIOD_END"
    assert s.cancel(team.id, at_period_end=True).cancel_at_period_end


def test_a_feature_key_is_taken_for_good(grpc: Transport) -> None:
    s = Plans(grpc, utc(2026, 4, 1))
    sso = s.feature("sso")
    s.call(ENTITLEMENTS, "ArchiveFeature", ent.ArchiveFeatureRequest(id=sso.id, request_id=rid()))

    again = s.fail(
        ENTITLEMENTS,
        "CreateFeature",
        ent.CreateFeatureRequest(
            feature=ent.Feature(key="sso", display_name="SSO", type=BOOLEAN), request_id=rid()
        ),
    )

    assert (again.code, again.reason) == ("FAILED_PRECONDITION", "FEATURE_KEY_TAKEN")
    assert again.metadata["key"] == "sso"


def test_a_metered_feature_must_name_a_meter_that_exists(grpc: Transport) -> None:
    s = Plans(grpc, utc(2026, 4, 1))
    refused = s.fail(
        ENTITLEMENTS,
        "CreateFeature",
        ent.CreateFeatureRequest(
            feature=ent.Feature(
                key="api-calls", display_name="API calls", type=NUMERIC, meter_id="mtr_api"
            ),
            request_id=rid(),
        ),
    )
    listed = s.call(ENTITLEMENTS, "ListFeatures", ent.ListFeaturesRequest())

    assert (refused.code, refused.reason) == ("NOT_FOUND", "RESOURCE_NOT_FOUND")
    assert list(listed.features) == []


def test_feature_and_policy_changes_are_events_naming_who_and_when(grpc: Transport) -> None:
    s = Plans(grpc, utc(2026, 4, 1))
    sso = s.feature("sso")
    s.attach(sso.id, product_id=s.product.id, enabled=True)
    s.call(
        ENTITLEMENTS,
        "DetachFeature",
        ent.DetachFeatureRequest(feature_id=sso.id, product_id=s.product.id, request_id=rid()),
    )
    updated = s.policy(no_limit_below_usage=True)

    events = s.call(
        "accrue.billing.v1.EventService",
        "ListEvents",
        ev.ListEventsRequest(
            types=[
                "feature.created",
                "feature.attached",
                "feature.detached",
                "subscription_policy.updated",
            ]
        ),
    ).events
    assert [e.type for e in events] == [
        "feature.created",
        "feature.attached",
        "feature.detached",
        "subscription_policy.updated",
    ]
    audit = events_pb2.SubscriptionPolicyChanged()
    assert events[3].payload.Unpack(audit)
    assert audit.policy.no_limit_below_usage
    assert audit.policy.update_actor.startswith("api_key:acc_")
    assert audit.policy.update_actor == updated.update_actor
    got = s.call(POLICIES, "GetSubscriptionPolicy", pol.GetSubscriptionPolicyRequest())
    assert got == updated


def test_checking_an_unknown_customer_or_feature_is_not_found(grpc: Transport) -> None:
    s = Plans(grpc, utc(2026, 4, 1))
    customer = s.customer()
    no_feature = s.fail(
        ENTITLEMENTS,
        "CheckEntitlement",
        ent.CheckEntitlementRequest(customer_id=customer.id, feature_key="nope"),
    )
    no_customer = s.fail(
        ENTITLEMENTS,
        "CheckEntitlement",
        ent.CheckEntitlementRequest(customer_id="cus_nope", feature_key="nope"),
    )
    assert (no_feature.code, no_feature.reason) == ("NOT_FOUND", "RESOURCE_NOT_FOUND")
    assert (no_customer.code, no_customer.reason) == ("NOT_FOUND", "RESOURCE_NOT_FOUND")
