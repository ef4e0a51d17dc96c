"""A retried mutation is answered with the first response, byte for byte, even where
running it again would now fail or answer differently (the use case owns the
transaction; the stored response is written in it)."""

from __future__ import annotations

from google.protobuf import field_mask_pb2
from google.protobuf.message import Message

from accrue.billing.v1 import entitlement_pb2 as ent
from accrue.billing.v1 import invoice_pb2 as inv
from accrue.billing.v1 import policy_pb2 as pol
from accrue.billing.v1 import subscription_pb2 as sub
from accrue.billing.v1 import usage_pb2 as use
from tests.conftest import Transport
from tests.contract.billing_steps import INVOICES, SUBSCRIPTIONS, Scenario, money, rid, utc

ENTITLEMENTS = "accrue.billing.v1.EntitlementService"
POLICIES = "accrue.billing.v1.SubscriptionPolicyService"
USAGE = "accrue.billing.v1.UsageService"


def _same_bytes(first: Message, again: Message) -> bool:
    return first.SerializeToString(deterministic=True) == again.SerializeToString(
        deterministic=True
    )


def test_a_retried_finalisation_is_answered_as_first_although_the_invoice_is_open(
    rpc: Transport,
) -> None:
    s = Scenario(rpc, utc(2026, 4, 1))
    customer = s.customer()
    draft = s.call(
        INVOICES,
        "CreateInvoice",
        inv.CreateInvoiceRequest(
            customer_id=customer.id,
            lines=[inv.InvoiceLineInput(unit_amount=money(1200, "USD"), description="x")],
            request_id=rid(),
        ),
    )
    request = inv.FinalizeInvoiceRequest(id=draft.id, request_id=rid())
    first = s.call(INVOICES, "FinalizeInvoice", request)
    again = s.call(INVOICES, "FinalizeInvoice", request)

    assert first.status == inv.INVOICE_STATUS_OPEN and _same_bytes(first, again)
    fresh = s.fail(INVOICES, "FinalizeInvoice", inv.FinalizeInvoiceRequest(id=draft.id))
    assert fresh.reason == "INVALID_STATE"


def test_a_retried_cancellation_replays_and_does_not_undo_a_later_reactivation(
    rpc: Transport,
) -> None:
    s = Scenario(rpc, utc(2026, 4, 1))
    created = s.subscribe(s.customer().id, s.price(1500).id)
    request = sub.CancelSubscriptionRequest(
        subscription_id=created.id, at_period_end=True, request_id=rid()
    )
    first = s.call(SUBSCRIPTIONS, "CancelSubscription", request)
    s.reactivate(created.id)
    again = s.call(SUBSCRIPTIONS, "CancelSubscription", request)

    assert first.cancel_at_period_end and _same_bytes(first, again)
    assert not s.subscription(created.id).cancel_at_period_end


def test_retried_policy_feature_and_meter_changes_replay_their_first_response(
    rpc: Transport,
) -> None:
    s = Scenario(rpc, utc(2026, 4, 1))
    update = pol.UpdateSubscriptionPolicyRequest(
        policy=pol.SubscriptionPolicy(max_changes_per_period=3),
        update_mask=field_mask_pb2.FieldMask(paths=["max_changes_per_period"]),
        request_id=rid(),
    )
    first_policy = s.call(POLICIES, "UpdateSubscriptionPolicy", update)
    assert _same_bytes(first_policy, s.call(POLICIES, "UpdateSubscriptionPolicy", update))

    feature = s.call(
        ENTITLEMENTS,
        "CreateFeature",
        ent.CreateFeatureRequest(
            feature=ent.Feature(key="sso", display_name="SSO", type=ent.FEATURE_TYPE_BOOLEAN),
            request_id=rid(),
        ),
    )
    s.call(
        ENTITLEMENTS,
        "AttachFeature",
        ent.AttachFeatureRequest(
            feature_id=feature.id, product_id=s.product.id, enabled=True, request_id=rid()
        ),
    )
    detach = ent.DetachFeatureRequest(
        feature_id=feature.id, product_id=s.product.id, request_id=rid()
    )
    first_detach = s.call(ENTITLEMENTS, "DetachFeature", detach)
    assert _same_bytes(first_detach, s.call(ENTITLEMENTS, "DetachFeature", detach))

    create = use.CreateMeterRequest(
        meter=use.Meter(
            display_name="Calls", aggregation=use.METER_AGGREGATION_SUM, value_property="n"
        ),
        request_id=rid(),
    )
    first_meter = s.call(USAGE, "CreateMeter", create)
    assert _same_bytes(first_meter, s.call(USAGE, "CreateMeter", create))
    meters = s.call(USAGE, "ListMeters", use.ListMetersRequest(page_size=100)).meters
    assert [m.id for m in meters] == [first_meter.id]
