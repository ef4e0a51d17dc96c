"""The entitlement use cases on in-memory fakes of their narrow ports.

Each use case owns its transaction: a catalog change commits with its event,
the catalog version bump and its idempotency record, or not at all; checks
read in a read-only transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from accrue.entitlements.model import FeatureType, ItemFact, SubscriptionFact
from accrue.entitlements.service import NewFeature, Target
from accrue.kernel.errors import NotFound
from accrue.subscriptions.model import SubscriptionStatus
from tests.fakes.entitlements import FakeUsage, entitlement_database, entitlement_use_cases
from tests.fakes.transactions import TENANT, FakeClock, replay

START = datetime(2026, 3, 1, tzinfo=UTC)


def _feature(key: str, kind: FeatureType = FeatureType.NUMERIC, meter_id: str = "") -> NewFeature:
    return NewFeature(
        key=key,
        display_name=key,
        type=kind,
        unit="",
        per_unit=False,
        meter_id=meter_id,
        threshold_percents=(),
    )


def _subscribed(product_id: str) -> SubscriptionFact:
    return SubscriptionFact(
        id="sub_1",
        status=SubscriptionStatus.ACTIVE,
        period_start=START,
        period_end=datetime(2026, 4, 1, tzinfo=UTC),
        items=(ItemFact("price_1", product_id, 1),),
    )


def test_a_limit_attached_to_a_product_is_checked_against_live_usage() -> None:
    db, usage = entitlement_database(), FakeUsage()
    use_cases = entitlement_use_cases(db, FakeClock(START), usage)
    created = use_cases.create_feature(
        TENANT, _feature("api_calls", meter_id="mtr_1"), replay(TENANT)
    )
    assert created.value is not None
    feature = created.value
    use_cases.attach_feature(
        TENANT,
        feature.id,
        Target.of(product_id="prod_1", price_id=""),
        enabled=False,
        limit="100",
        replay=replay(TENANT),
    )
    db.entitlements.subscribe("cus_1", _subscribed("prod_1"))
    usage.values[("cus_1", "mtr_1")] = Decimal(95)

    assert use_cases.check(TENANT, "cus_1", "api_calls", quantity="5").allowed
    assert not use_cases.check(TENANT, "cus_1", "api_calls", quantity="6").allowed
    assert db.events.types() == ["feature.created", "feature.attached"]
    assert db.commits == 2  # the checks wrote nothing


def test_attaching_to_a_missing_product_changes_nothing() -> None:
    db = entitlement_database()
    use_cases = entitlement_use_cases(db, FakeClock(START))
    feature = use_cases.create_feature(TENANT, _feature("seats"), replay(TENANT)).value
    assert feature is not None
    version, events = db.entitlements.version, list(db.events.recorded)
    with pytest.raises(NotFound):
        use_cases.attach_feature(
            TENANT,
            feature.id,
            Target.of(product_id="missing_prod", price_id=""),
            enabled=False,
            limit="3",
            replay=replay(TENANT, "r-attach"),
        )
    assert db.entitlements.attachments == {}
    assert (db.entitlements.version, db.events.recorded) == (version, events)
    assert db.idempotency.rows == {}


def test_a_retried_detach_answers_the_first_response_although_the_attachment_is_gone() -> None:
    db = entitlement_database()
    use_cases = entitlement_use_cases(db, FakeClock(START))
    feature = use_cases.create_feature(TENANT, _feature("seats"), replay(TENANT)).value
    assert feature is not None
    target = Target.of(product_id="prod_1", price_id="")
    use_cases.attach_feature(
        TENANT, feature.id, target, enabled=False, limit="3", replay=replay(TENANT)
    )

    first = use_cases.detach_feature(TENANT, feature.id, target, replay(TENANT, "r-detach"))
    again = use_cases.detach_feature(TENANT, feature.id, target, replay(TENANT, "r-detach"))

    assert first.value == feature.id
    assert again.replayed == repr(feature.id).encode()
    assert db.events.types().count("feature.detached") == 1
    with pytest.raises(NotFound):  # without the key, a second detach is refused
        use_cases.detach_feature(TENANT, feature.id, target, replay(TENANT))
