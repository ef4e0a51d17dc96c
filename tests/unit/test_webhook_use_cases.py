"""The webhook use cases on in-memory fakes of their narrow port: no SQL, no network.

What a caller relies on: an endpoint's URL is vetted before anything is
written (a host that does not resolve, or resolves into a private network,
is refused and nothing changes); a retried request is answered from its
stored response without resolving the host again; a new endpoint receives
only events after it was created; the secret shows on creation and rotation,
the old one kept for the overlap; replays and redeliveries queue deliveries
by the endpoint's event types; unknown endpoints and deliveries are NotFound.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accrue.kernel.errors import NotFound, ValidationFailed
from accrue.kernel.events import DomainEvent
from accrue.kernel.ids import IdGenerator
from accrue.kernel.paging import PageRequest
from accrue.platform.clock import FixedClock
from accrue.platform.idempotency import MutationRunner
from accrue.webhooks.model import AddressPolicy, DeliveryStatus, Ordering
from accrue.webhooks.service import EndpointChanges, NewEndpoint, UrlVetter, WebhookService
from accrue.webhooks.use_cases import WebhookUseCases
from tests.fakes.transactions import FakeDatabase, FakeUnitOfWorkFactory, replay
from tests.fakes.webhooks import FakeResolver, FakeWebhookUnitOfWork, endpoint_start

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TENANT = "ten_a"
DNS = {"hooks.example.com": ["93.184.216.34"], "intranet.example.com": ["10.0.0.7"]}


class World:
    def __init__(self) -> None:
        self.db = FakeDatabase()
        self.clock = FixedClock(NOW)
        self.resolver = FakeResolver(DNS)
        self.factory = FakeUnitOfWorkFactory(self.db, FakeWebhookUnitOfWork)
        service = WebhookService(
            self.clock, IdGenerator(self.clock), UrlVetter(self.resolver, AddressPolicy())
        )
        self.webhooks = WebhookUseCases(
            self.factory, MutationRunner(self.factory, self.clock), service
        )

    def record(self, *types: str) -> None:
        """Commit events to the tenant's outbox, as other areas' use cases do."""
        with self.factory(write=True) as uow:
            for n, type_ in enumerate(types):
                uow.events.record(
                    TENANT,
                    DomainEvent(f"evt_{type_}_{n}", type_, "customer", "cus_1", NOW, "", None),
                )
            uow.commit()


def new_endpoint(url: str = "https://hooks.example.com/in", *types: str) -> NewEndpoint:
    return NewEndpoint(url=url, event_types=types, description="", ordering=Ordering.NONE)


@pytest.fixture
def world() -> World:
    return World()


def test_a_created_endpoint_reads_back_and_receives_only_later_events(world: World) -> None:
    world.record("customer.created", "customer.updated")

    created = world.webhooks.create_endpoint(TENANT, new_endpoint(), replay(TENANT)).value

    assert created is not None and created.secret
    assert world.webhooks.get_endpoint(TENANT, created.id) == created
    assert endpoint_start(world.db, created.id) == 2
    assert world.resolver.lookups == ["hooks.example.com"]


def test_a_retry_is_answered_from_the_stored_response_without_resolving_again(
    world: World,
) -> None:
    first = world.webhooks.create_endpoint(TENANT, new_endpoint(), replay(TENANT, "req-1"))
    again = world.webhooks.create_endpoint(TENANT, new_endpoint(), replay(TENANT, "req-1"))

    assert again.value is None and again.replayed == repr(first.value).encode()
    assert world.resolver.lookups == ["hooks.example.com"]
    assert len(world.db.rows("webhook_endpoints")) == 1


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://intranet.example.com/in", "non-public address"),
        ("https://nowhere.example.com/in", "does not resolve"),
        ("ftp://hooks.example.com/in", "http or https"),
    ],
)
def test_a_url_that_is_not_acceptable_is_refused_and_nothing_is_written(
    world: World, url: str, why: str
) -> None:
    with pytest.raises(ValidationFailed) as raised:
        world.webhooks.create_endpoint(TENANT, new_endpoint(url), replay(TENANT, "req-1"))

    assert why in raised.value.field_violations[0].description
    assert raised.value.field_violations[0].field == "endpoint.url"
    assert world.db.rows("webhook_endpoints") == {}
    assert world.db.idempotency.rows == {}


def test_an_update_vets_a_new_url_and_only_a_new_url(world: World) -> None:
    created = world.webhooks.create_endpoint(TENANT, new_endpoint(), replay(TENANT)).value
    assert created is not None

    described = world.webhooks.update_endpoint(
        TENANT, created.id, EndpointChanges(description="billing"), replay(TENANT)
    ).value
    assert described is not None and described.description == "billing"
    assert world.resolver.lookups == ["hooks.example.com"]

    with pytest.raises(ValidationFailed):
        world.webhooks.update_endpoint(
            TENANT,
            created.id,
            EndpointChanges(url="https://intranet.example.com/x"),
            replay(TENANT),
        )
    assert world.webhooks.get_endpoint(TENANT, created.id).url == created.url


def test_a_rotated_secret_keeps_the_old_one_for_the_overlap(world: World) -> None:
    created = world.webhooks.create_endpoint(TENANT, new_endpoint(), replay(TENANT)).value
    assert created is not None

    rotated = world.webhooks.rotate_secret(
        TENANT, created.id, replay(TENANT), overlap=timedelta(hours=1)
    ).value

    assert rotated is not None and rotated.secret != created.secret
    assert rotated.signing_secrets(NOW) == (rotated.secret, created.secret)
    assert rotated.signing_secrets(NOW + timedelta(hours=1)) == (rotated.secret,)


def test_a_deleted_endpoint_is_gone_and_its_id_is_the_answer(world: World) -> None:
    created = world.webhooks.create_endpoint(TENANT, new_endpoint(), replay(TENANT)).value
    assert created is not None

    deleted = world.webhooks.delete_endpoint(TENANT, created.id, replay(TENANT))

    assert deleted.value == created.id
    with pytest.raises(NotFound):
        world.webhooks.get_endpoint(TENANT, created.id)
    with pytest.raises(NotFound):
        world.webhooks.delete_endpoint(TENANT, created.id, replay(TENANT))


def test_a_replay_queues_deliveries_for_the_endpoints_types_in_range(world: World) -> None:
    created = world.webhooks.create_endpoint(
        TENANT, new_endpoint("https://hooks.example.com/in", "invoice.paid"), replay(TENANT)
    ).value
    assert created is not None
    world.record("invoice.paid", "customer.created", "invoice.paid", "invoice.paid")

    queued = world.webhooks.replay_events(
        TENANT, created.id, replay(TENANT), from_sequence=1, to_sequence=3
    )

    assert queued.value == 2
    page = world.webhooks.list_deliveries(
        TENANT, created.id, PageRequest(10, "", "q"), status=DeliveryStatus.PENDING
    )
    assert [d.event_sequence for d in page.items] == [1, 3]
    assert all(d.manual for d in page.items)
    with pytest.raises(ValidationFailed):
        world.webhooks.replay_events(
            TENANT, created.id, replay(TENANT), from_sequence=3, to_sequence=2
        )


def test_a_redelivery_is_pending_again_and_manual(world: World) -> None:
    created = world.webhooks.create_endpoint(TENANT, new_endpoint(), replay(TENANT)).value
    assert created is not None
    world.record("invoice.paid")
    world.webhooks.replay_events(TENANT, created.id, replay(TENANT), from_sequence=1, to_sequence=1)
    (delivery,) = world.webhooks.list_deliveries(
        TENANT, created.id, PageRequest(10, "", "q"), status=None
    ).items

    again = world.webhooks.redeliver(TENANT, delivery.id, replay(TENANT)).value

    assert again is not None and again.status is DeliveryStatus.PENDING and again.manual
    assert again.next_attempt_time == NOW


def test_unknown_endpoints_and_deliveries_are_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        world.webhooks.get_endpoint(TENANT, "whe_missing")
    with pytest.raises(NotFound):
        world.webhooks.list_deliveries(TENANT, "whe_missing", PageRequest(10, "", "q"), status=None)
    with pytest.raises(NotFound):
        world.webhooks.redeliver(TENANT, "whd_missing", replay(TENANT))
