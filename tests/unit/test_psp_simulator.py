"""The simulated PSP's rules, its deterministic failures, the in-process gateway
and webhook signatures: all without I/O."""

from __future__ import annotations

import csv
import io
import json
import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from accrue.payments.psp.in_process import InProcessGateway
from accrue.payments.psp.port import PspCharge, PspOutcomeUnknown, PspRefund, PspRejected, PspStatus
from accrue.payments.psp.simulator import (
    SETTLEMENT_HEADER,
    ChargeOutcome,
    Disposition,
    Faults,
    RefundOutcome,
    SimCharge,
    SimulatedPsp,
)
from accrue.payments.psp.webhook_signing import (
    BAD_SIGNATURE,
    MALFORMED_HEADER,
    TIMESTAMP_OUTSIDE_TOLERANCE,
    WebhookSignatureInvalid,
    sign,
    verify,
    webhook_event_json,
)
from accrue.platform.clock import FixedClock

pytestmark = pytest.mark.timeout(60)

START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def sim(clock: FixedClock) -> SimulatedPsp:
    return SimulatedPsp(clock, seed=1)


def charge(
    sim: SimulatedPsp,
    key: str,
    token: str = "tok_visa",
    amount: int = 1000,
    currency: str = "USD",
    metadata: dict[str, str] | None = None,
) -> ChargeOutcome:
    return sim.charge(
        idempotency_key=key,
        token=token,
        amount_minor=amount,
        currency_code=currency,
        metadata=metadata or {},
    )


def succeeded(sim: SimulatedPsp, key: str, amount: int = 1000, currency: str = "USD") -> SimCharge:
    record = charge(sim, key, amount=amount, currency=currency).charge
    assert record is not None and record.charge.status is PspStatus.SUCCEEDED
    return record


def refund(
    sim: SimulatedPsp, key: str, charge_id: str, amount: int, currency: str = "USD"
) -> RefundOutcome:
    return sim.refund(
        idempotency_key=key, charge_psp_id=charge_id, amount_minor=amount, currency_code=currency
    )


# --- tokens -----------------------------------------------------------------


@pytest.mark.parametrize("token", ["tok_visa", "tok_mastercard", "tok_anything_else"])
def test_ordinary_tokens_succeed_and_are_answered(sim: SimulatedPsp, token: str) -> None:
    outcome = charge(sim, "k1", token=token, metadata={"invoice": "INV-1"})
    assert outcome.disposition is Disposition.RESPOND and not outcome.replayed
    assert outcome.delay_seconds == 0
    assert outcome.charge is not None
    recorded = outcome.charge.charge
    assert recorded.status is PspStatus.SUCCEEDED
    assert recorded.decline_code == ""
    assert recorded.psp_id.startswith("ch_")
    assert recorded.idempotency_key == "k1"
    assert recorded.create_time == START
    assert dict(outcome.charge.metadata) == {"invoice": "INV-1"}
    assert sim.charges() == [outcome.charge]


@pytest.mark.parametrize(
    ("token", "decline"),
    [
        ("tok_insufficient_funds", "insufficient_funds"),
        ("tok_do_not_honor", "do_not_honor"),
        ("tok_expired_card", "expired_card"),
        ("tok_fraud", "fraudulent"),
    ],
)
def test_decline_tokens_record_failed_charges_without_fee(
    sim: SimulatedPsp, token: str, decline: str
) -> None:
    outcome = charge(sim, "k1", token=token)
    assert outcome.disposition is Disposition.RESPOND
    assert outcome.charge is not None
    assert outcome.charge.charge.status is PspStatus.FAILED
    assert outcome.charge.charge.decline_code == decline
    assert outcome.charge.charge.fee_minor == 0
    assert sim.retrieve_charge("k1") == outcome.charge


def test_lost_response_token_records_success_and_loses_every_answer(sim: SimulatedPsp) -> None:
    first = charge(sim, "k1", token="tok_lost_response")
    replay = charge(sim, "k1", token="tok_lost_response")
    assert first.disposition is Disposition.LOSE_RESPONSE
    assert replay.disposition is Disposition.LOSE_RESPONSE and replay.replayed
    stored = sim.retrieve_charge("k1")
    assert stored is not None and stored.charge.status is PspStatus.SUCCEEDED
    assert len(sim.charges()) == 1


def test_slow_token_is_delayed_by_slow_seconds_plus_latency(clock: FixedClock) -> None:
    sim = SimulatedPsp(clock, faults=Faults(slow_seconds=2.5, latency_ms=40))
    slow = charge(sim, "k1", token="tok_slow")
    quick = charge(sim, "k2")
    assert slow.delay_seconds == pytest.approx(2.54)
    assert slow.disposition is Disposition.RESPOND
    assert quick.delay_seconds == pytest.approx(0.04)
    assert slow.charge is not None and slow.charge.charge.status is PspStatus.SUCCEEDED


def test_5xx_token_is_unavailable_and_records_nothing(sim: SimulatedPsp) -> None:
    outcome = charge(sim, "k1", token="tok_5xx")
    assert outcome.disposition is Disposition.UNAVAILABLE and outcome.charge is None
    assert sim.retrieve_charge("k1") is None and sim.charges() == []


@pytest.mark.parametrize("token", ["pm_card_visa", "4242424242424242", "", "TOK_visa"])
def test_tokens_without_tok_prefix_are_rejected(sim: SimulatedPsp, token: str) -> None:
    with pytest.raises(PspRejected) as caught:
        charge(sim, "k1", token=token)
    assert caught.value.code == "invalid_token"
    assert sim.charges() == []


@pytest.mark.parametrize(
    ("amount", "currency", "code"),
    [(0, "USD", "invalid_amount"), (-5, "USD", "invalid_amount"), (100, "XXX", "invalid_currency")],
)
def test_invalid_money_is_rejected(
    sim: SimulatedPsp, amount: int, currency: str, code: str
) -> None:
    with pytest.raises(PspRejected) as caught:
        charge(sim, "k1", amount=amount, currency=currency)
    assert caught.value.code == code


# --- idempotency ------------------------------------------------------------


def test_same_key_and_parameters_replay_the_recorded_charge(sim: SimulatedPsp) -> None:
    first = charge(sim, "k1", metadata={"a": "1"})
    second = charge(sim, "k1", metadata={"a": "1"})
    assert second.replayed and not first.replayed
    assert second.charge is first.charge
    assert len(sim.charges()) == 1


@pytest.mark.parametrize(
    "changed",
    [
        {"token": "tok_mastercard"},
        {"amount": 1001},
        {"currency": "EUR"},
        {"metadata": {"a": "2"}},
    ],
)
def test_same_key_with_other_parameters_is_a_conflict(
    sim: SimulatedPsp, changed: dict[str, object]
) -> None:
    charge(sim, "k1", metadata={"a": "1"})
    with pytest.raises(PspRejected) as caught:
        charge(sim, "k1", **{"metadata": {"a": "1"}, **changed})  # type: ignore[arg-type]
    assert caught.value.code == "idempotency_key_reused"
    assert len(sim.charges()) == 1


def test_refund_key_reuse_replays_or_conflicts(sim: SimulatedPsp) -> None:
    ch = succeeded(sim, "c1")
    first = refund(sim, "r1", ch.charge.psp_id, 300)
    again = refund(sim, "r1", ch.charge.psp_id, 300)
    assert again.replayed and again.refund is first.refund
    with pytest.raises(PspRejected) as caught:
        refund(sim, "r1", ch.charge.psp_id, 301)
    assert caught.value.code == "idempotency_key_reused"
    assert len(sim.refunds()) == 1


# --- fees -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "fee"),
    [
        (1000, "USD", 29 + 30),  # 2.9 % + 30 cents
        (50, "USD", 1 + 30),  # 1.45 rounds half up to 1
        (500, "EUR", 15 + 30),  # 14.5 rounds half up to 15
        (1000, "JPY", 29),  # no fixed part without decimals
        (12345, "JPY", 358),  # 358.005
        (1000, "KWD", 29),  # nor with three
        (1_000_000, "KWD", 29_000),
    ],
)
def test_fee_is_integer_percentage_plus_fixed_for_two_decimal_currencies(
    sim: SimulatedPsp, amount: int, currency: str, fee: int
) -> None:
    assert succeeded(sim, "k", amount=amount, currency=currency).charge.fee_minor == fee


# --- refunds ----------------------------------------------------------------


def test_refunds_succeed_until_the_charge_is_used_up(sim: SimulatedPsp) -> None:
    ch = succeeded(sim, "c1").charge
    first = refund(sim, "r1", ch.psp_id, 600).refund
    assert first is not None and first.status is PspStatus.SUCCEEDED
    assert first.psp_id.startswith("re_") and first.charge_psp_id == ch.psp_id
    with pytest.raises(PspRejected) as caught:
        refund(sim, "r2", ch.psp_id, 401)
    assert caught.value.code == "amount_too_large"
    assert refund(sim, "r3", ch.psp_id, 400).refund is not None
    with pytest.raises(PspRejected):
        refund(sim, "r4", ch.psp_id, 1)
    assert [r.idempotency_key for r in sim.refunds()] == ["r1", "r3"]


def test_refund_rejections(sim: SimulatedPsp) -> None:
    ok = succeeded(sim, "c1").charge
    declined = charge(sim, "c2", token="tok_fraud").charge
    assert declined is not None
    cases = [
        (("r1", "ch_missing", 100, "USD"), "no_such_charge"),
        (("r2", declined.charge.psp_id, 100, "USD"), "charge_not_refundable"),
        (("r3", ok.psp_id, 100, "EUR"), "currency_mismatch"),
        (("r4", ok.psp_id, 0, "USD"), "invalid_amount"),
    ]
    for (key, charge_id, amount, currency), code in cases:
        with pytest.raises(PspRejected) as caught:
            refund(sim, key, charge_id, amount, currency)
        assert caught.value.code == code
    assert sim.refunds() == []


def test_refunds_of_a_refund_fails_charge_are_recorded_failed_and_free_nothing(
    sim: SimulatedPsp,
) -> None:
    ch = charge(sim, "c1", token="tok_refund_fails").charge
    assert ch is not None and ch.charge.status is PspStatus.SUCCEEDED
    failed = refund(sim, "r1", ch.charge.psp_id, 1000).refund
    assert failed is not None
    assert failed.status is PspStatus.FAILED and failed.failure_code == "expired_or_canceled_card"
    # A failed refund moved no money, so the whole amount is still refundable (and fails again).
    again = refund(sim, "r2", ch.charge.psp_id, 1000).refund
    assert again is not None and again.status is PspStatus.FAILED


def test_concurrent_refunds_never_exceed_the_charge(sim: SimulatedPsp) -> None:
    ch = succeeded(sim, "c1", amount=1000).charge
    barrier = threading.Barrier(8)
    results: list[PspRefund | str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        barrier.wait()
        for i in range(10):
            try:
                got = refund(sim, f"r-{n}-{i}", ch.psp_id, 13).refund
                assert got is not None
                outcome: PspRefund | str = got
            except PspRejected as exc:
                outcome = exc.code
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    done = [r for r in results if isinstance(r, PspRefund)]
    assert len(results) == 80
    assert sum(r.amount_minor for r in done) == 988  # 76 * 13: the most that fits in 1000
    assert len(done) == 76
    assert [r for r in results if isinstance(r, str)] == ["amount_too_large"] * 4
    assert sum(r.amount_minor for r in sim.refunds()) == 988


# --- settlement -------------------------------------------------------------


def test_settlement_csv_lists_money_movements_and_ties_out(
    sim: SimulatedPsp, clock: FixedClock
) -> None:
    usd = succeeded(sim, "inv-1", amount=1234, currency="USD").charge
    jpy = succeeded(sim, "inv-2", amount=1234, currency="JPY").charge
    succeeded(sim, "inv-3", amount=1234, currency="KWD")
    charge(sim, "inv-4", token="tok_do_not_honor")
    charge(sim, "inv-5", token="tok_5xx")
    clock.advance(timedelta(days=1))
    refund(sim, "ref-1", usd.psp_id, 500)
    refund(sim, "ref-2", jpy.psp_id, 1234, "JPY")

    text = sim.settlement_csv()
    assert text.splitlines()[0] == ",".join(SETTLEMENT_HEADER)
    assert text.splitlines()[0] == "type,psp_id,reference,currency,gross,fee,net,payout_id,created"
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["type"], r["reference"]) for r in rows] == [
        ("charge", "inv-1"),
        ("charge", "inv-2"),
        ("charge", "inv-3"),
        ("refund", "ref-1"),
        ("refund", "ref-2"),
    ]
    assert rows[0] == {
        "type": "charge",
        "psp_id": usd.psp_id,
        "reference": "inv-1",
        "currency": "USD",
        "gross": "12.34",
        "fee": "0.66",  # 36 (2.9 % of 1234, half up) + 30
        "net": "11.68",
        "payout_id": "po_20261122_USD",
        "created": "2026-11-22T10:00:00Z",
    }
    assert (rows[1]["gross"], rows[1]["fee"], rows[1]["net"]) == ("1234", "36", "1198")
    assert (rows[2]["gross"], rows[2]["fee"], rows[2]["net"]) == ("1.234", "0.036", "1.198")
    assert rows[3]["gross"] == "-5.00" and rows[3]["fee"] == "0.00" and rows[3]["net"] == "-5.00"
    assert rows[3]["payout_id"] == "po_20261123_USD"
    assert rows[3]["created"] == "2026-11-23T10:00:00Z"
    assert rows[4]["gross"] == "-1234" and rows[4]["payout_id"] == "po_20261123_JPY"

    # Each row's net is gross - fee, and per currency the nets equal what the
    # PSP's own log says it owes us.
    exponents = {"USD": 2, "JPY": 0, "KWD": 3}
    net_minor: dict[str, int] = defaultdict(int)
    for r in rows:
        exponent = exponents[r["currency"]]
        gross, fee, net = (_minor(r[f], exponent) for f in ("gross", "fee", "net"))
        assert net == gross - fee
        net_minor[r["currency"]] += net
    expected: dict[str, int] = defaultdict(int)
    for c in sim.charges():
        if c.charge.status is PspStatus.SUCCEEDED:
            expected[c.charge.currency_code] += c.charge.amount_minor - c.charge.fee_minor
    for rf in sim.refunds():
        expected[rf.currency_code] -= rf.amount_minor
    assert (
        dict(net_minor)
        == dict(expected)
        == {
            "USD": 1168 - 500,
            "JPY": 1198 - 1234,  # the fee is not given back
            "KWD": 1198,
        }
    )


def _minor(major: str, exponent: int) -> int:
    # The report must carry exactly the currency's decimals: no more, no fewer.
    assert len(major.partition(".")[2]) == exponent, major
    return int(Decimal(major).scaleb(exponent))


def test_settlement_csv_filters_by_creation_time(sim: SimulatedPsp, clock: FixedClock) -> None:
    succeeded(sim, "day-1")
    clock.advance(timedelta(days=1))
    succeeded(sim, "day-2")
    clock.advance(timedelta(days=1))
    succeeded(sim, "day-3")

    def references(**bounds: datetime) -> list[str]:
        return [r["reference"] for r in csv.DictReader(io.StringIO(sim.settlement_csv(**bounds)))]

    day2 = START + timedelta(days=1)
    assert references() == ["day-1", "day-2", "day-3"]
    assert references(created_from=day2) == ["day-2", "day-3"]
    assert references(created_to=day2) == ["day-1"]
    assert references(created_from=day2, created_to=day2 + timedelta(days=1)) == ["day-2"]


# --- faults -----------------------------------------------------------------


def _run(seed: int) -> list[tuple[Disposition, str | None]]:
    faults = Faults(drop_success_rate=0.3, error_rate=0.2, seed=seed)
    sim = SimulatedPsp(FixedClock(START), seed=seed, faults=faults)
    out = []
    for i in range(200):
        outcome = charge(sim, f"k{i}", token="tok_fraud" if i % 5 == 0 else "tok_visa")
        out.append((outcome.disposition, outcome.charge and outcome.charge.charge.psp_id))
    return out


def test_seeded_faults_are_reproducible_and_seed_dependent() -> None:
    first, again, other = _run(7), _run(7), _run(8)
    assert first == again
    assert first != other
    dispositions = [d for d, _ in first]
    assert 20 <= dispositions.count(Disposition.UNAVAILABLE) <= 60  # ~20 % of 200
    assert 20 <= dispositions.count(Disposition.LOSE_RESPONSE) <= 70  # ~30 % of ~128 successes


def test_fault_dispositions_decide_what_is_recorded(clock: FixedClock) -> None:
    sim = SimulatedPsp(clock, faults=Faults(drop_success_rate=0.5, error_rate=0.3, seed=3))
    for i in range(100):
        outcome = charge(sim, f"k{i}", token="tok_fraud" if i % 4 == 0 else "tok_visa")
        stored = sim.retrieve_charge(f"k{i}")
        if outcome.disposition is Disposition.UNAVAILABLE:
            assert stored is None
        else:
            assert stored is not None and stored is outcome.charge
        if outcome.disposition is Disposition.LOSE_RESPONSE:
            # Only successes are lost: a decline is always answered.
            assert stored is not None and stored.charge.status is PspStatus.SUCCEEDED


def test_faults_changed_at_run_time_apply_to_the_next_request(sim: SimulatedPsp) -> None:
    sim.set_faults(Faults(error_rate=1.0))
    assert charge(sim, "k1").disposition is Disposition.UNAVAILABLE
    # A 503 comes before any processing, even of a refund that would be refused.
    assert refund(sim, "r1", "ch_missing", 1).disposition is Disposition.UNAVAILABLE
    assert sim.charges() == [] and sim.refunds() == []
    sim.set_faults(Faults(drop_success_rate=1.0))
    assert charge(sim, "k1").disposition is Disposition.LOSE_RESPONSE
    sim.set_faults(Faults())
    assert charge(sim, "k1").disposition is Disposition.RESPOND
    with pytest.raises(ValueError, match="between 0 and 1"):
        Faults(error_rate=1.5)


def test_listeners_hear_every_record_in_order(sim: SimulatedPsp) -> None:
    heard: list[tuple[str, str]] = []

    def listen(kind: str, rec: SimCharge | PspRefund) -> None:
        key = rec.charge.idempotency_key if isinstance(rec, SimCharge) else rec.idempotency_key
        heard.append((kind, key))

    sim.add_listener(listen)
    ch = succeeded(sim, "c1").charge
    charge(sim, "c1")  # a replay records nothing new
    charge(sim, "c2", token="tok_expired_card")
    charge(sim, "c3", token="tok_5xx")
    refund(sim, "r1", ch.psp_id, 10)
    fails = charge(sim, "c4", token="tok_refund_fails").charge
    assert fails is not None
    refund(sim, "r2", fails.charge.psp_id, 10)
    assert heard == [
        ("charge.succeeded", "c1"),
        ("charge.failed", "c2"),
        ("refund.succeeded", "r1"),
        ("charge.succeeded", "c4"),
        ("refund.failed", "r2"),
    ]


def test_ids_are_reproducible_by_seed(clock: FixedClock) -> None:
    def ids(seed: int) -> list[str]:
        sim = SimulatedPsp(clock, seed=seed)
        return [succeeded(sim, f"k{i}").charge.psp_id for i in range(5)]

    assert ids(4) == ids(4) != ids(5)
    assert len(set(ids(4))) == 5


# --- in-process gateway -----------------------------------------------------


class FakeSleep:
    def __init__(self) -> None:
        self.slept: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


def pay(gw: InProcessGateway, key: str, token: str, amount: int = 500) -> PspCharge:
    return gw.charge(
        idempotency_key=key, token=token, amount_minor=amount, currency_code="EUR", metadata={}
    )


def test_in_process_gateway_maps_outcomes_like_the_wire(clock: FixedClock) -> None:
    sleep = FakeSleep()
    sim = SimulatedPsp(clock, faults=Faults(slow_seconds=30))
    gw = InProcessGateway(sim, timeout_seconds=5, sleep=sleep)
    assert gw.name == "simulated"

    ok = pay(gw, "k1", "tok_visa", 500)
    assert ok.status is PspStatus.SUCCEEDED and ok.fee_minor == 45
    declined = pay(gw, "k2", "tok_fraud", 500)
    assert declined.status is PspStatus.FAILED and declined.decline_code == "fraudulent"

    with pytest.raises(PspOutcomeUnknown):
        pay(gw, "k3", "tok_lost_response", 500)
    found = gw.retrieve_charge("k3")
    assert found is not None and found.status is PspStatus.SUCCEEDED

    with pytest.raises(PspOutcomeUnknown):
        pay(gw, "k4", "tok_5xx", 500)
    assert gw.retrieve_charge("k4") is None

    with pytest.raises(PspOutcomeUnknown):
        pay(gw, "k5", "tok_slow", 500)
    assert sleep.slept == [5]  # waited its timeout, not the 30 s
    slow = gw.retrieve_charge("k5")
    assert slow is not None and slow.status is PspStatus.SUCCEEDED

    with pytest.raises(PspRejected) as caught:
        pay(gw, "k1", "tok_visa", 501)
    assert caught.value.code == "idempotency_key_reused"

    refunded = gw.refund(
        idempotency_key="r1", charge_psp_id=ok.psp_id, amount_minor=500, currency_code="EUR"
    )
    assert refunded.status is PspStatus.SUCCEEDED and gw.retrieve_refund("r1") == refunded
    assert gw.retrieve_refund("r2") is None


# --- webhook signatures -----------------------------------------------------

SECRET = b"whsec_test"
BODY = b'{"id":"evt_1","type":"charge.succeeded"}'
NOW = 1_795_000_000


def test_signature_verifies_for_the_signed_body() -> None:
    header = sign(SECRET, BODY, NOW)
    assert header.startswith(f"t={NOW},v1=")
    verify(SECRET, BODY, header, now=NOW + 299)  # no exception


def _reason(secret: bytes, body: bytes, header: str, now: int = NOW) -> str:
    with pytest.raises(WebhookSignatureInvalid) as caught:
        verify(secret, body, header, now=now)
    return caught.value.reason


def test_tampered_body_fails_verification() -> None:
    header = sign(SECRET, BODY, NOW)
    assert _reason(SECRET, BODY.replace(b"succeeded", b"failed"), header) == BAD_SIGNATURE


def test_wrong_secret_fails_verification() -> None:
    assert _reason(b"other", BODY, sign(SECRET, BODY, NOW)) == BAD_SIGNATURE


def test_signed_timestamp_cannot_be_swapped() -> None:
    digest = sign(SECRET, BODY, NOW).split("v1=")[1]
    assert _reason(SECRET, BODY, f"t={NOW + 1},v1={digest}") == BAD_SIGNATURE


@pytest.mark.parametrize("offset", [-301, 301, -86_400, 86_400])
def test_stale_and_future_timestamps_are_refused(offset: int) -> None:
    header = sign(SECRET, BODY, NOW + offset)
    assert _reason(SECRET, BODY, header) == TIMESTAMP_OUTSIDE_TOLERANCE


def test_any_matching_v1_is_enough_during_secret_rotation() -> None:
    old = sign(b"old-secret", BODY, NOW).split("v1=")[1]
    new = sign(SECRET, BODY, NOW).split("v1=")[1]
    verify(SECRET, BODY, f"t={NOW},v1={old},v1={new},v0=ignored", now=NOW)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        f"t={NOW}",
        "v1=abcdef",
        f"t=soon,v1={'0' * 64}",
        f"t=-{NOW},v1={'0' * 64}",
        f"t={NOW},t={NOW},v1={'0' * 64}",
        f"t={NOW};v1={'0' * 64}",
        f"t=１２３,v1={'0' * 64}",  # noqa: RUF001 - full-width digits are still digits to isdigit
    ],
)
def test_malformed_headers_are_refused(header: str) -> None:
    assert _reason(SECRET, BODY, header) == MALFORMED_HEADER


def test_event_envelope_is_compact_json_with_the_object_as_data() -> None:
    body = webhook_event_json("evt_ch_1", "charge.failed", NOW, {"id": "ch_1", "status": "failed"})
    assert json.loads(body) == {
        "id": "evt_ch_1",
        "type": "charge.failed",
        "created": NOW,
        "data": {"id": "ch_1", "status": "failed"},
    }
    assert b" " not in body
    with pytest.raises(ValueError, match="unknown event type"):
        webhook_event_json("evt_1", "charge.exploded", NOW, {})
