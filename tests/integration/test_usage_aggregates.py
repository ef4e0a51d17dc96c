"""The running aggregates always equal a recomputation from the raw events.

Hypothesis drives the real use case and SQL store with random events, resends
(same and other bodies) and corrections, then compares the live read of random
periods (including periods that start and end inside an hour, where the edges
come from the raw events) with the answer recomputed from `usage_events`.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accrue.bootstrap import Application, build_application
from accrue.config import Settings
from accrue.customers.model import Customer
from accrue.kernel.calendar import Period
from accrue.kernel.errors import AccrueError
from accrue.kernel.ids import IdGenerator
from accrue.kernel.lifecycle import LifecycleState
from accrue.platform.clock import FixedClock
from accrue.usage.model import Aggregate, Aggregation, EventInput
from accrue.usage.service import NewMeter, UsageService, period_total_micros
from tests.conftest import _skip_or_fail_without_postgres
from tests.support import fresh_postgres_database

NOW = datetime(2026, 5, 31, 23, 0, tzinfo=UTC)
START = datetime(2026, 5, 1, tzinfo=UTC)
_ids = itertools.count()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Application]:
    """One application per database kind for the module (hypothesis reuses it)."""
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('usage') / 'accrue.db'}"
        else:
            _skip_or_fail_without_postgres()
            url = stack.enter_context(fresh_postgres_database())
        settings = Settings(database_url=url, sqlite_synchronous="OFF")
        built = build_application(settings, clock=FixedClock(NOW))
        stack.callback(built.close)
        yield built


def _customer(app: Application, tenant_id: str) -> str:
    customer_id = f"cus_{next(_ids)}"
    with app.uow_factory(write=True) as uow:
        uow.customers.add(
            Customer(
                id=customer_id,
                tenant_id=tenant_id,
                display_name="P",
                email="",
                currency_code="USD",
                billing_address=None,
                tax_location=None,
                time_zone="UTC",
                metadata={},
                payment_methods=(),
                default_payment_method_id="",
                state=LifecycleState.ACTIVE,
                create_time=NOW,
                update_time=NOW,
            )
        )
        uow.commit()
    return customer_id


# (minute offset into May, value, group, id slot): ids repeat, so resends happen.
events_strategy = st.lists(
    st.tuples(
        st.integers(0, 30 * 24 * 60),
        st.integers(-5, 50),
        st.sampled_from(["a", "b"]),
        st.integers(0, 40),
    ),
    min_size=1,
    max_size=60,
)


def _compare(store: object, tenant: str, customer: str, meter: object, period: Period) -> None:
    live = store.period_aggregates(tenant, customer, meter, period)  # type: ignore[attr-defined]
    raw = store.raw_aggregates(tenant, customer, meter, period)  # type: ignore[attr-defined]
    aggregation = meter.aggregation  # type: ignore[attr-defined]
    keys = set(live) | set(raw)
    assert {k: live.get(k, Aggregate()).quantity_micros(aggregation) for k in keys} == {
        k: raw.get(k, Aggregate()).quantity_micros(aggregation) for k in keys
    }
    assert {k: live.get(k, Aggregate()).count for k in keys} == {
        k: raw.get(k, Aggregate()).count for k in keys
    }


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    aggregation=st.sampled_from(list(Aggregation)),
    events=events_strategy,
    corrections=st.lists(
        st.tuples(st.integers(0, 40), st.booleans(), st.integers(0, 50)), max_size=8
    ),
    cuts=st.tuples(st.integers(0, 30 * 24 * 3600), st.integers(0, 30 * 24 * 3600)),
)
def test_live_aggregates_equal_the_raw_recomputation(
    app: Application,
    aggregation: Aggregation,
    events: list[tuple[int, int, str, int]],
    corrections: list[tuple[int, bool, int]],
    cuts: tuple[int, int],
) -> None:
    tenant = app.tenants.create_tenant(f"prop-{next(_ids)}").tenant.id
    customer = _customer(app, tenant)
    service = UsageService(app.clock, IdGenerator(app.clock))
    with app.uow_factory(write=True) as uow:
        meter = service.create_meter(
            uow,
            tenant,
            NewMeter(
                display_name="m",
                aggregation=aggregation,
                value_property="v",
                dimension_keys=("g",),
                grace=None,
                allow_negative=aggregation is Aggregation.SUM,
            ),
        )
        uow.commit()
    for start in range(0, len(events), 7):
        batch = [
            EventInput(
                id=f"e{slot}",
                meter_id=meter.id,
                customer_id=customer,
                timestamp=START + timedelta(minutes=minute),
                properties={
                    "v": str(abs(value) if aggregation is not Aggregation.SUM else value),
                    "g": group,
                },
            )
            for minute, value, group, slot in events[start : start + 7]
        ]
        with app.uow_factory(write=True) as uow:
            service.ingest(uow, tenant, batch)
            uow.commit()
    for slot, cancel, value in corrections:
        with app.uow_factory(write=True) as uow:
            try:
                if cancel:
                    service.cancel_event(uow, tenant, f"e{slot}", reason="t", actor="t")
                else:
                    service.amend_event(
                        uow, tenant, f"e{slot}", {"v": str(value), "g": "b"}, reason="t", actor="t"
                    )
                uow.commit()
            except AccrueError as error:  # unknown or already canceled ids
                assert getattr(error, "reason", "") in {
                    "RESOURCE_NOT_FOUND",
                    "USAGE_EVENT_CANCELED",
                }
    lo, hi = sorted(cuts)
    periods = [
        Period(START, START + timedelta(days=31)),
        Period(START + timedelta(seconds=lo), START + timedelta(seconds=max(hi, lo + 1))),
    ]
    with app.uow_factory(write=False) as uow:
        for period in periods:
            _compare(uow.usage, tenant, customer, meter, period)
            total = period_total_micros(uow, tenant, customer, meter, period)
            raw = uow.usage.raw_aggregates(tenant, customer, meter, period)
            if aggregation is Aggregation.UNIQUE_COUNT:
                # Distinct over all groups: recount the raw distinct values.
                assert total >= max(
                    (a.quantity_micros(aggregation) for a in raw.values()), default=0
                )
            else:
                combined = Aggregate()
                for aggregate in raw.values():
                    combined.merge(aggregate)
                assert total == combined.quantity_micros(aggregation)


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[tuple[str, str, str, str]]]] = []
        self.meters: set[str] = set()

    def watched_meters(self, uow: object, *, tenant_id: str) -> set[str]:
        return self.meters

    def usage_changed(self, uow: object, *, tenant_id: str, changes: object) -> None:
        assert uow is not None
        self.calls.append(
            (
                tenant_id,
                [(c.customer_id, c.meter_id, str(c.before), str(c.after)) for c in changes],  # type: ignore[attr-defined]
            )
        )


def test_observers_see_each_changed_total_inside_the_ingestion_transaction(
    app: Application,
) -> None:
    tenant = app.tenants.create_tenant(f"obs-{next(_ids)}").tenant.id
    customer = _customer(app, tenant)
    recorder = _Recorder()
    service = UsageService(app.clock, IdGenerator(app.clock), observers=[recorder])
    with app.uow_factory(write=True) as uow:
        meter = service.create_meter(
            uow, tenant, NewMeter("m", Aggregation.SUM, "v", ("g",), None, False)
        )
        uow.commit()
    recorder.meters = {meter.id}

    def send(*events: tuple[str, str]) -> None:
        batch = [
            EventInput(i, meter.id, customer, NOW - timedelta(hours=1), {"v": v, "g": i})
            for i, v in events
        ]
        with app.uow_factory(write=True) as uow:
            service.ingest(uow, tenant, batch)
            uow.commit()

    send(("a", "2"), ("b", "3.5"))
    send(("a", "2"))  # a duplicate changes nothing: no call
    send(("c", "0"))  # accepted, but the total stays: no call
    send(("d", "1"))
    assert recorder.calls == [
        (tenant, [(customer, meter.id, "0", "5.5")]),
        (tenant, [(customer, meter.id, "5.5", "6.5")]),
    ]
    with app.uow_factory(write=False) as uow:
        total = service.current_period_usage(
            uow, tenant_id=tenant, customer_id=customer, meter_id=meter.id
        )
    assert str(total) == "6.5"
