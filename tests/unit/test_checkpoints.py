"""Sealing after commit and signed checkpoints, without a database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from accrue.ledger.checkpoint_keys import load_keys
from accrue.ledger.checkpoints import Checkpoint
from accrue.ledger.model import (
    GENESIS_HASH,
    AccountRef,
    Direction,
    Entry,
    PostingRequest,
    unsequenced,
    verify_chain,
)
from accrue.ledger.model import seal_next as seal_after

WHEN = datetime(2026, 12, 2, 12, 0, 0, 123456, tzinfo=UTC)


def _unsequenced(n: int) -> list:
    request = PostingRequest(
        entries=(
            Entry(AccountRef("bank", "USD"), Direction.DEBIT, 5),
            Entry(AccountRef("revenue", "USD"), Direction.CREDIT, 5),
        ),
        source_type="test",
        source_id="x",
    )
    return [
        unsequenced(
            replace(request, source_id=f"s{i}"),
            transaction_id=f"ltx_{i}",
            tenant_id="ten_1",
            post_time=WHEN,
        )
        for i in range(n)
    ]


def test_batches_sealed_one_after_another_form_one_verifiable_chain() -> None:
    pending = _unsequenced(7)
    assert {tx.sequence for tx in pending} == {0} and {tx.hash for tx in pending} == {""}
    first = seal_after(pending[:3], after_sequence=0, after_hash=GENESIS_HASH)
    second = seal_after(pending[3:], after_sequence=3, after_hash=first[-1].hash)
    chain = first + second
    assert [tx.sequence for tx in chain] == list(range(1, 8))
    assert verify_chain(chain, head_hash=chain[-1].hash) is None
    swapped = seal_after([pending[1], pending[0]], after_sequence=0, after_hash=GENESIS_HASH)
    assert swapped[-1].hash != first[1].hash  # order is part of the chain


def test_a_checkpoint_survives_export_and_any_edit_breaks_its_signature(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    keys = load_keys(signing_key_file="", verify_key_files=[], database_url=url)
    assert (tmp_path / "a.db.ledger-key.pem").exists()  # the embedded default made one
    signed = keys.sign(
        Checkpoint(tenant_id="ten_1", sequence=9, head_hash="ab" * 32, sign_time=WHEN)
    )
    assert keys.check(signed) == ""
    assert Checkpoint.from_json(signed.as_json()) == signed
    for edit in (
        {"sequence": 8},
        {"head_hash": "cd" * 32},
        {"tenant_id": "ten_2"},
        {"sign_time": WHEN.replace(microsecond=0)},
    ):
        assert keys.check(replace(signed, **edit)) == "checkpoint signature is invalid"


def test_a_key_file_that_is_not_ed25519_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    with pytest.raises(ValueError):
        load_keys(signing_key_file=str(bad), verify_key_files=[], database_url="sqlite://")
