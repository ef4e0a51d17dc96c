"""Entitlement resolution, checks, the cached resolver and the feature use cases (no SQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import pytest

from accrue.entitlements.model import (
    FeatureKeyTaken,
    FeatureType,
    ItemFact,
    SubscriptionFact,
    TargetKind,
    amount_text,
    parse_amount,
)
from accrue.entitlements.resolver import EntitlementResolver
from accrue.entitlements.service import EntitlementService, NewFeature, Target
from accrue.event_log.service import EventRecorder
from accrue.kernel.errors import NotFound, ResourceArchived, ValidationFailed
from accrue.kernel.ids import IdGenerator
from accrue.subscriptions.model import SubscriptionStatus
from tests.fakes.entitlements import FakeStores, FakeUsage
from tests.fakes.transactions import FakeClock

T = "ten_1"
START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)
S = SubscriptionStatus


def sub(
    sid: str, *items: tuple[str, str, int], status: S = S.ACTIVE, start: datetime = START
) -> SubscriptionFact:
    return SubscriptionFact(
        id=sid,
        status=status,
        period_start=start,
        period_end=END,
        items=tuple(ItemFact(price, product, qty) for price, product, qty in items),
    )


class World:
    """One tenant's entitlement service over fakes, with helpers that read as the story."""

    def __init__(self, *, usage: FakeUsage | None = None) -> None:
        usage = usage or FakeUsage()
        self.clock = FakeClock(START)
        self.uow = FakeStores()
        self.store = self.uow.entitlements
        ids = IdGenerator(self.clock)
        self.service = EntitlementService(
            self.clock,
            ids,
            EventRecorder(self.clock, ids, lambda: ""),
            EntitlementResolver(),
            usage,
        )
        self.u = cast(Any, self.uow)

    def feature(self, key: str, kind: FeatureType = FeatureType.BOOLEAN, **options: Any) -> str:
        new = NewFeature(
            key=key,
            display_name=key,
            type=kind,
            unit=options.get("unit", ""),
            per_unit=options.get("per_unit", False),
            meter_id=options.get("meter_id", ""),
            threshold_percents=tuple(options.get("thresholds", ())),
        )
        return self.service.create_feature(self.u, T, new).id

    def attach(self, feature_id: str, *, product: str = "", price: str = "", **value: Any) -> None:
        self.service.attach(
            self.u,
            T,
            feature_id,
            Target.of(product_id=product, price_id=price),
            enabled=value.get("enabled", False),
            limit=value.get("limit", ""),
        )

    def entitled(self, customer: str) -> dict[str, Any]:
        found = self.service.entitlements(self.u, T, customer)
        return {
            u.entitlement.feature.key: (
                u.entitlement.enabled
                if u.entitlement.limit is None
                else amount_text(u.entitlement.limit)
            )
            for u in found
        }


def test_a_price_attachment_wins_over_its_products() -> None:
    w = World()
    sso = w.feature("sso")
    contacts = w.feature("contacts", FeatureType.NUMERIC)
    w.store.subscribe("cus_a", sub("sub_a", ("price_basic", "prod_crm", 1)))
    w.store.subscribe("cus_b", sub("sub_b", ("price_pro", "prod_crm", 1)))
    w.attach(sso, product="prod_crm", enabled=True)
    w.attach(contacts, product="prod_crm", limit="1000")
    w.attach(sso, price="price_basic", enabled=False)  # Basic withdraws SSO
    w.attach(contacts, price="price_pro", limit="10000")

    assert w.entitled("cus_a") == {"contacts": "1000"}
    assert w.entitled("cus_b") == {"sso": True, "contacts": "10000"}


def test_per_unit_limits_multiply_by_quantity_and_add_up_across_subscriptions() -> None:
    w = World()
    seats = w.feature("seats", FeatureType.NUMERIC, per_unit=True)
    w.attach(seats, product="prod_team", limit="2.5")
    w.store.subscribe("cus_a", sub("sub_1", ("price_m", "prod_team", 4)))
    w.store.subscribe("cus_a", sub("sub_2", ("price_y", "prod_team", 2)))

    assert w.entitled("cus_a") == {"seats": "15"}


def test_other_limits_take_the_largest_item_instead_of_adding_up() -> None:
    w = World()
    contacts = w.feature("contacts", FeatureType.NUMERIC)
    w.attach(contacts, price="price_small", limit="1000")
    w.attach(contacts, price="price_big", limit="10000")
    w.store.subscribe("cus_a", sub("sub_1", ("price_small", "prod", 3), ("price_big", "prod", 1)))

    assert w.entitled("cus_a") == {"contacts": "10000"}


@pytest.mark.parametrize(
    ("status", "granted"),
    [
        (S.ACTIVE, True),
        (S.TRIALING, True),
        (S.PAST_DUE, True),
        (S.INCOMPLETE, False),
        (S.PAUSED, False),
        (S.CANCELED, False),
        (S.UNPAID, False),
    ],
)
def test_only_active_trialing_and_past_due_subscriptions_grant(status: S, granted: bool) -> None:
    w = World()
    w.attach(w.feature("sso"), product="prod", enabled=True)
    w.store.subscribe("cus_a", sub("sub_1", ("price", "prod", 1), status=status))

    assert w.entitled("cus_a") == ({"sso": True} if granted else {})


def test_an_archived_feature_is_granted_to_no_one_and_takes_no_attachment() -> None:
    w = World()
    sso = w.feature("sso")
    w.attach(sso, product="prod", enabled=True)
    w.store.subscribe("cus_a", sub("sub_1", ("price", "prod", 1)))
    assert w.entitled("cus_a") == {"sso": True}

    w.service.archive_feature(w.u, T, sso)

    assert w.entitled("cus_a") == {}
    with pytest.raises(ResourceArchived):
        w.attach(sso, price="price", enabled=True)


def test_check_answers_boolean_and_numeric_features_with_usage() -> None:
    usage = FakeUsage()
    w = World(usage=usage)
    sso = w.feature("sso")
    api = w.feature("api-calls", FeatureType.NUMERIC, meter_id="mtr_api")
    w.feature("audit-log")
    w.attach(sso, product="prod", enabled=True)
    w.attach(api, product="prod", limit="100")
    w.store.subscribe("cus_a", sub("sub_1", ("price", "prod", 1)))
    usage.values[("cus_a", "mtr_api")] = Decimal(60)

    def check(key: str, quantity: str = "") -> tuple[Any, ...]:
        r = w.service.check(w.u, T, "cus_a", key, quantity=quantity)
        return (r.allowed, r.limit, r.usage, r.remaining)

    assert check("sso") == (True, None, None, None)
    assert check("audit-log") == (False, None, None, None)
    assert check("api-calls") == (True, Decimal(100), Decimal(60), Decimal(40))
    assert check("api-calls", "40")[0] is True
    assert check("api-calls", "40.5")[0] is False
    usage.values[("cus_a", "mtr_api")] = Decimal(130)
    assert check("api-calls") == (False, Decimal(100), Decimal(130), Decimal(0))
    with pytest.raises(NotFound):
        check("no-such-feature")
    with pytest.raises(NotFound):
        w.service.check(w.u, T, "cus_nobody", "sso", quantity="")


def test_a_numeric_feature_without_meter_reports_its_limit_as_remaining() -> None:
    w = World()
    projects = w.feature("projects", FeatureType.NUMERIC)
    w.attach(projects, product="prod", limit="10")
    w.store.subscribe("cus_a", sub("sub_1", ("price", "prod", 1)))

    result = w.service.check(w.u, T, "cus_a", "projects", quantity="")

    assert (result.allowed, result.limit, result.usage, result.remaining) == (
        True,
        Decimal(10),
        None,
        Decimal(10),
    )


def test_feature_keys_are_never_reused_and_values_must_match_the_type() -> None:
    w = World()
    sso = w.feature("sso")
    seats = w.feature("seats", FeatureType.NUMERIC, per_unit=True)
    w.service.archive_feature(w.u, T, sso)
    with pytest.raises(FeatureKeyTaken):
        w.feature("sso")
    with pytest.raises(ValidationFailed):
        w.attach(seats, product="prod", enabled=True)
    with pytest.raises(ValidationFailed):
        w.attach(seats, product="prod", limit="-1")
    with pytest.raises(ValidationFailed):
        w.attach(w.feature("export"), product="prod", limit="5")
    with pytest.raises(ValidationFailed):
        w.feature("bad", FeatureType.BOOLEAN, per_unit=True)
    with pytest.raises(ValidationFailed):
        Target.of(product_id="prod", price_id="price")
    with pytest.raises(NotFound):
        w.attach(seats, price="missing_price", limit="5")


def test_feature_changes_are_recorded_as_events() -> None:
    w = World()
    sso = w.feature("sso")
    w.attach(sso, product="prod", enabled=True)
    w.service.detach(w.u, T, sso, Target(TargetKind.PRODUCT, "prod"))
    w.service.archive_feature(w.u, T, sso)

    types = [e.type for e in w.uow.events.recorded]
    assert types == ["feature.created", "feature.attached", "feature.detached", "feature.archived"]


def test_the_resolver_reuses_a_resolution_until_a_subscription_or_the_catalog_changes() -> None:
    w = World()
    w.attach(w.feature("sso"), product="prod", enabled=True)
    w.store.subscribe("cus_a", sub("sub_1", ("price", "prod", 1)))
    w.entitled("cus_a")
    facts = w.store.reads["facts"]

    for _ in range(5):
        assert w.entitled("cus_a") == {"sso": True}
    assert w.store.reads["facts"] == facts  # answered from the cache
    assert w.store.reads["stamp"] >= 6  # yet checked against the database every time

    w.store.subscribe("cus_a", sub("sub_1", ("price", "prod", 1), status=S.CANCELED))
    assert w.entitled("cus_a") == {}
    w.store.subscribe("cus_a", sub("sub_1", ("price", "prod", 1)))
    assert w.entitled("cus_a") == {"sso": True}
    w.attach(w.feature("export"), price="price", enabled=True)
    assert w.entitled("cus_a") == {"sso": True, "export": True}


@pytest.mark.parametrize("text", ["", "-1", "1e3", "1.1234567", "1" * 19, "1,5", " 1"])
def test_amounts_must_be_plain_non_negative_decimals(text: str) -> None:
    with pytest.raises(ValidationFailed):
        parse_amount(text, "limit")


def test_amounts_round_trip_as_plain_decimal_text() -> None:
    assert amount_text(parse_amount("10000", "limit")) == "10000"
    assert amount_text(parse_amount("2.500000", "limit")) == "2.5"
    assert amount_text(parse_amount("0", "limit")) == "0"
