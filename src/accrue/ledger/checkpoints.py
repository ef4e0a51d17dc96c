"""Signed checkpoints of a tenant's ledger chain.

A checkpoint says "the chain of tenant T had head hash H at sequence N, at
time W", signed with a key the database never holds. Someone able to write to
the database can rewrite the chain (delete the newest transactions, rewind the
head, fix the balances) so that it verifies internally; they cannot make it
agree with a checkpoint exported before the rewrite, nor forge a new one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

CHECKPOINT_FORMAT = "accrue.ledger.checkpoint.v1"


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    tenant_id: str
    sequence: int
    head_hash: str
    sign_time: datetime
    key_id: str = ""
    signature: str = ""  # hex of the Ed25519 signature over `signed_bytes`

    def as_json(self) -> dict[str, object]:
        return {
            "format": CHECKPOINT_FORMAT,
            "tenant_id": self.tenant_id,
            "sequence": self.sequence,
            "head_hash": self.head_hash,
            "sign_time": _time(self.sign_time),
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, document: dict[str, object]) -> Checkpoint:
        if document.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"not a checkpoint of format {CHECKPOINT_FORMAT}")
        text = str(document["sign_time"]).removesuffix("Z") + "+00:00"
        sign_time = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
        return cls(
            tenant_id=str(document["tenant_id"]),
            sequence=int(str(document["sequence"])),
            head_hash=str(document["head_hash"]),
            sign_time=sign_time.astimezone(UTC),
            key_id=str(document["key_id"]),
            signature=str(document["signature"]),
        )


def signed_bytes(checkpoint: Checkpoint) -> bytes:
    """What the signature covers: compact sorted JSON of format, tenant, sequence,
    head hash and time (microseconds, UTC), so no field can be swapped unseen."""
    document = {
        "format": CHECKPOINT_FORMAT,
        "tenant_id": checkpoint.tenant_id,
        "sequence": checkpoint.sequence,
        "head_hash": checkpoint.head_hash,
        "sign_time": _time(checkpoint.sign_time),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
