"""WebhookService over gRPC and Connect, against a server whose dispatcher is
running and which allows 127.0.0.1 endpoints (a short retry window, so the
dead-letter path runs in seconds)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from google.protobuf import field_mask_pb2
from standardwebhooks import Webhook, WebhookVerificationError

from accrue.billing.v1 import customer_pb2 as cus
from accrue.billing.v1 import webhook_pb2 as pb
from tests.conftest import Transport
from tests.support import RunningServer, running_server
from tests.webhook_support import Receiver

SERVICE = "accrue.billing.v1.WebhookService"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    path = tmp_path_factory.mktemp("webhooks") / "accrue.db"
    with running_server(
        f"sqlite:///{path}",
        webhook_allowed_networks="127.0.0.1/32",
        webhook_retry_base_seconds=0.05,
        webhook_retry_cap_seconds=0.2,
        webhook_retry_window_seconds=1.5,
        webhook_timeout_seconds=1.0,
    ) as running:
        stop = threading.Event()
        dispatcher = running.app.webhook_dispatcher
        assert dispatcher is not None
        thread = threading.Thread(
            target=dispatcher.run, args=(stop,), kwargs={"poll_seconds": 0.02}, daemon=True
        )
        thread.start()
        yield running
        stop.set()
        thread.join(10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.stop()


def _create(rpc: Transport, url: str, **fields: object) -> pb.WebhookEndpoint:
    request = pb.CreateWebhookEndpointRequest(endpoint=pb.WebhookEndpoint(url=url, **fields))
    return rpc.call(SERVICE, "CreateWebhookEndpoint", request)  # type: ignore[return-value]


def _customer(rpc: Transport, name: str = "Hooked") -> str:
    created = rpc.call(
        "CustomerService",
        "CreateCustomer",
        cus.CreateCustomerRequest(customer=cus.Customer(display_name=name, currency_code="USD")),
    )
    return created.id  # type: ignore[attr-defined,no-any-return]


def _wait(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_endpoint_lifecycle_create_get_list_update_delete(rpc: Transport) -> None:
    created = _create(rpc, "http://127.0.0.1:9/hooks", event_types=["invoice.paid"])
    assert created.secret.startswith("whsec_") and created.enabled
    assert created.ordering == pb.WEBHOOK_ORDERING_SEQUENCE
    got = rpc.call(SERVICE, "GetWebhookEndpoint", pb.GetWebhookEndpointRequest(id=created.id))
    assert got.secret == ""  # shown only on create and rotate
    listed = rpc.call(SERVICE, "ListWebhookEndpoints", pb.ListWebhookEndpointsRequest())
    assert [e.id for e in listed.endpoints] == [created.id]
    updated = rpc.call(
        SERVICE,
        "UpdateWebhookEndpoint",
        pb.UpdateWebhookEndpointRequest(
            endpoint=pb.WebhookEndpoint(id=created.id, event_types=["a.b", "c.d"]),
            update_mask=field_mask_pb2.FieldMask(paths=["event_types", "enabled"]),
            enabled=False,
        ),
    )
    assert list(updated.event_types) == ["a.b", "c.d"]
    assert not updated.enabled and updated.disabled_reason == "DISABLED_BY_USER"
    deleted = rpc.call(
        SERVICE, "DeleteWebhookEndpoint", pb.DeleteWebhookEndpointRequest(id=created.id)
    )
    assert deleted.id == created.id
    failure = rpc.fail(SERVICE, "GetWebhookEndpoint", pb.GetWebhookEndpointRequest(id=created.id))
    assert (failure.code, failure.reason) == ("NOT_FOUND", "RESOURCE_NOT_FOUND")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.2/hooks",  # loopback outside the allowed network
        "http://10.0.0.1/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hooks",
        "ftp://127.0.0.1/hooks",
        "",
    ],
)
def test_urls_to_private_addresses_are_refused_and_nothing_is_created(
    rpc: Transport, url: str
) -> None:
    request = pb.CreateWebhookEndpointRequest(endpoint=pb.WebhookEndpoint(url=url))
    failure = rpc.fail(SERVICE, "CreateWebhookEndpoint", request)
    assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")
    listed = rpc.call(SERVICE, "ListWebhookEndpoints", pb.ListWebhookEndpointsRequest())
    assert list(listed.endpoints) == []


def test_create_is_idempotent_by_request_id(rpc: Transport) -> None:
    request = pb.CreateWebhookEndpointRequest(
        endpoint=pb.WebhookEndpoint(url="http://127.0.0.1:9/a"), request_id="create-hook-1"
    )
    first = rpc.call(SERVICE, "CreateWebhookEndpoint", request)
    again = rpc.call(SERVICE, "CreateWebhookEndpoint", request)
    assert again == first  # same id and the same secret, byte for byte
    request.endpoint.url = "http://127.0.0.1:9/b"
    failure = rpc.fail(SERVICE, "CreateWebhookEndpoint", request)
    assert failure.reason == "IDEMPOTENCY_KEY_REUSED"


def test_events_arrive_signed_as_proto_json_and_deliveries_are_listed(
    rpc: Transport, receiver: Receiver
) -> None:
    endpoint = _create(rpc, receiver.url + "/in", event_types=["customer.created"])
    customer_id = _customer(rpc)
    _wait(lambda: len(receiver.accepted) == 1)
    item = next(iter(receiver.accepted.values()))
    body = Webhook(endpoint.secret).verify(item.body, item.headers)
    assert body["type"] == "customer.created"
    assert body["id"] == item.webhook_id
    assert body["payload"]["@type"] == "type.googleapis.com/accrue.events.v1.CustomerChanged"
    assert body["payload"]["customer"]["id"] == customer_id
    listed = rpc.call(
        SERVICE,
        "ListWebhookDeliveries",
        pb.ListWebhookDeliveriesRequest(endpoint_id=endpoint.id),
    )
    _wait(
        lambda: (
            rpc.call(
                SERVICE,
                "ListWebhookDeliveries",
                pb.ListWebhookDeliveriesRequest(
                    endpoint_id=endpoint.id, status=pb.WEBHOOK_DELIVERY_STATUS_SUCCEEDED
                ),
            ).deliveries
        )  # type: ignore[attr-defined]
    )
    listed = rpc.call(
        SERVICE,
        "ListWebhookDeliveries",
        pb.ListWebhookDeliveriesRequest(endpoint_id=endpoint.id),
    )
    (delivery,) = listed.deliveries
    assert delivery.event_id == item.webhook_id
    assert delivery.status == pb.WEBHOOK_DELIVERY_STATUS_SUCCEEDED
    assert (delivery.attempts, delivery.last_response_code) == (1, 204)
    assert not delivery.HasField("next_attempt_time")


def test_during_a_rotation_both_secrets_verify_and_afterwards_only_the_new_one(
    rpc: Transport, receiver: Receiver
) -> None:
    old = _create(rpc, receiver.url + "/rot")
    rotated = rpc.call(
        SERVICE,
        "RotateWebhookSecret",
        pb.RotateWebhookSecretRequest(id=old.id, overlap_seconds=2),
    )
    assert rotated.secret != old.secret and rotated.HasField("previous_secret_expire_time")
    _customer(rpc, "during")
    _wait(lambda: len(receiver.accepted) == 1)
    during = next(iter(receiver.accepted.values()))
    Webhook(rotated.secret).verify(during.body, during.headers)
    Webhook(old.secret).verify(during.body, during.headers)
    expire = rotated.previous_secret_expire_time.ToDatetime().timestamp()
    time.sleep(max(0.0, expire - time.time()) + 0.1)
    _customer(rpc, "after")
    _wait(lambda: len(receiver.accepted) == 2)
    after = next(r for r in receiver.accepted.values() if r is not during)
    Webhook(rotated.secret).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old.secret).verify(after.body, after.headers)


def test_a_dead_endpoint_is_disabled_its_deliveries_listed_redelivered_and_replayed(
    rpc: Transport, receiver: Receiver
) -> None:
    endpoint = _create(rpc, receiver.url + "/dead")
    receiver.stop()  # down: connections refused
    for n in range(3):
        _customer(rpc, f"dead {n}")

    def disabled() -> bool:
        got = rpc.call(SERVICE, "GetWebhookEndpoint", pb.GetWebhookEndpointRequest(id=endpoint.id))
        return not got.enabled  # type: ignore[attr-defined,no-any-return]

    _wait(disabled)
    got = rpc.call(SERVICE, "GetWebhookEndpoint", pb.GetWebhookEndpointRequest(id=endpoint.id))
    assert got.disabled_reason == "FAILING" and got.HasField("failing_since_time")
    failed = rpc.call(
        SERVICE,
        "ListWebhookDeliveries",
        pb.ListWebhookDeliveriesRequest(
            endpoint_id=endpoint.id, status=pb.WEBHOOK_DELIVERY_STATUS_FAILED
        ),
    ).deliveries
    assert len(failed) == 3
    oldest = failed[-1]
    assert oldest.attempts >= 2 and oldest.last_response_code == 0 and oldest.last_error
    receiver.start()  # back on the same port
    redelivered = rpc.call(
        SERVICE, "RedeliverWebhook", pb.RedeliverWebhookRequest(delivery_id=failed[0].id)
    )
    assert redelivered.status == pb.WEBHOOK_DELIVERY_STATUS_PENDING and redelivered.manual
    _wait(lambda: failed[0].event_id in receiver.accepted)
    assert set(receiver.accepted) == {failed[0].event_id}  # disabled: nothing else is sent
    # Replay exactly the two older events' range.
    first, last = oldest.event_sequence, failed[1].event_sequence
    replayed = rpc.call(
        SERVICE,
        "ReplayWebhookEvents",
        pb.ReplayWebhookEventsRequest(
            endpoint_id=endpoint.id, from_sequence=first, to_sequence=last
        ),
    )
    assert replayed.delivery_count == last - first + 1
    _wait(lambda: len(receiver.requests) == 1 + replayed.delivery_count)
    time.sleep(0.3)  # nothing beyond the range follows
    assert [r.webhook_id for r in receiver.requests[1:]] == [oldest.event_id, failed[1].event_id]


def test_replay_refuses_a_reversed_or_too_long_range(rpc: Transport) -> None:
    endpoint = _create(rpc, "http://127.0.0.1:9/r")
    for first, last in [(5, 4), (1, 10_001)]:
        failure = rpc.fail(
            SERVICE,
            "ReplayWebhookEvents",
            pb.ReplayWebhookEventsRequest(
                endpoint_id=endpoint.id, from_sequence=first, to_sequence=last
            ),
        )
        assert (failure.code, failure.reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")
