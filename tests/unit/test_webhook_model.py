"""Webhook rules: Standard Webhooks signatures (checked by the reference
library), secret rotation, full-jitter retry timing, the address policy."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from accrue.kernel.errors import ValidationFailed
from accrue.webhooks.model import (
    AddressPolicy,
    Endpoint,
    Ordering,
    RetryPolicy,
    check_url,
    new_secret,
    signed_headers,
)

NOW = datetime.now(UTC)


def _wall() -> datetime:
    """The reference verifier checks the timestamp against the wall clock (5 min)."""
    return datetime.now(UTC)


def _endpoint(secret: str) -> Endpoint:
    return Endpoint(
        tenant_id="ten_1",
        id="whe_1",
        url="https://example.com/hook",
        event_types=(),
        description="",
        ordering=Ordering.SEQUENCE,
        enabled=True,
        disabled_reason="",
        secret=secret,
        previous_secret="",
        previous_secret_expire_time=None,
        failing_since=None,
        create_time=NOW,
        update_time=NOW,
    )


def test_signature_verifies_with_the_reference_library() -> None:
    secret = new_secret()
    body = b'{"id":"evt_1","type":"customer.created"}'
    headers = signed_headers(secrets_=[secret], message_id="evt_1", now=_wall(), body=body)
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers) == {"id": "evt_1", "type": "customer.created"}


def test_a_changed_body_id_or_secret_does_not_verify() -> None:
    secret = new_secret()
    body = b'{"id":"evt_1"}'
    headers = signed_headers(secrets_=[secret], message_id="evt_1", now=_wall(), body=body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"id":"evt_2"}', headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, {**headers, "webhook-id": "evt_2"})
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)


def test_during_the_overlap_both_secrets_sign_and_afterwards_only_the_new_one() -> None:
    old = _endpoint(new_secret())
    rotated = old.rotated(new_secret(), now=NOW, overlap=timedelta(hours=1))
    body = b"{}"
    during = signed_headers(
        secrets_=rotated.signing_secrets(NOW + timedelta(minutes=59)),
        message_id="evt_1",
        now=_wall(),
        body=body,
    )
    Webhook(rotated.secret).verify(body, during)
    Webhook(old.secret).verify(body, during)
    after = signed_headers(
        secrets_=rotated.signing_secrets(NOW + timedelta(hours=1)),
        message_id="evt_1",
        now=_wall(),
        body=body,
    )
    Webhook(rotated.secret).verify(body, after)
    with pytest.raises(WebhookVerificationError):
        Webhook(old.secret).verify(body, after)


def test_retry_delays_are_full_jitter_under_a_doubling_ceiling_and_a_cap() -> None:
    policy = RetryPolicy(
        base=timedelta(seconds=5), cap=timedelta(minutes=10), window=timedelta(days=3)
    )
    rng = random.Random(7)
    for attempts, ceiling in [(1, 5), (2, 10), (3, 20), (8, 600), (40, 600)]:
        delays = [
            (policy.next_attempt(attempts=attempts, now=NOW, rng=rng) - NOW).total_seconds()
            for _ in range(200)
        ]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # spread over the whole window, not clustered
        assert min(delays) < ceiling * 0.2


def test_retrying_gives_up_only_after_the_whole_window() -> None:
    policy = RetryPolicy(window=timedelta(days=3))
    assert not policy.given_up(since=NOW, now=NOW + timedelta(days=3) - timedelta(seconds=1))
    assert policy.given_up(since=NOW, now=NOW + timedelta(days=3))
    assert not policy.given_up(since=None, now=NOW)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "fc00::1",
        "0.0.0.0",
        "100.64.0.1",
        "224.0.0.1",
    ],
)
def test_non_public_addresses_are_refused_by_default(address: str) -> None:
    assert AddressPolicy.parse("").refusal([address])


def test_public_addresses_pass_and_configured_networks_are_allowed() -> None:
    assert AddressPolicy.parse("").refusal(["93.184.215.14", "2606:2800:21f:cb07::1"]) == ""
    policy = AddressPolicy.parse("127.0.0.1/32")
    assert policy.refusal(["127.0.0.1"]) == ""
    assert policy.refusal(["127.0.0.2"])
    # One refused address among several refuses the host (it could be picked).
    assert policy.refusal(["93.184.215.14", "10.0.0.1"])


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "example.com/hook", "http://", "https://user:pw@example.com/"]
)
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(ValidationFailed):
        check_url(url)
