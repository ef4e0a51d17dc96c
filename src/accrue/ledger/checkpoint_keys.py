"""Ed25519 keys of ledger checkpoints, kept outside the database.

One key signs (`ACCRUE_LEDGER_SIGNING_KEY_FILE`, a PKCS#8 PEM private key);
any number of public keys verify (`ACCRUE_LEDGER_VERIFY_KEY_FILES`, PEM files,
comma-separated), so a key can be rotated: sign with the new key, keep
accepting the old one's checkpoints. A key is named by its id, the first 16
hex digits of the SHA-256 of its raw public key, which each checkpoint records.

The embedded default (a SQLite file and no key configured) generates a key
file beside the database (`<database>.ledger-key.pem`, mode 0600) and logs
where: checkpoints then work out of the box, and an operator who wants them to
mean something moves that file off the machine that holds the database. With
PostgreSQL and no key configured nothing is signed (a warning says so).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy.engine import make_url

from accrue.ledger.checkpoints import Checkpoint, signed_bytes

log = logging.getLogger("accrue.ledger.checkpoints")


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class CheckpointKeys:
    signing: Ed25519PrivateKey | None
    verifying: dict[str, Ed25519PublicKey]

    @property
    def can_sign(self) -> bool:
        return self.signing is not None

    def sign(self, checkpoint: Checkpoint) -> Checkpoint:
        if self.signing is None:
            raise RuntimeError("no ledger signing key is configured")
        named = replace(checkpoint, key_id=key_id(self.signing.public_key()), signature="")
        return replace(named, signature=self.signing.sign(signed_bytes(named)).hex())

    def check(self, checkpoint: Checkpoint) -> str:
        """Empty when the signature is valid under an accepted key, else why not."""
        public = self.verifying.get(checkpoint.key_id)
        if public is None:
            return f"checkpoint signed with unknown key {checkpoint.key_id!r}"
        try:
            public.verify(bytes.fromhex(checkpoint.signature), signed_bytes(checkpoint))
        except (InvalidSignature, ValueError):
            return "checkpoint signature is invalid"
        return ""


def load_keys(
    *, signing_key_file: str, verify_key_files: Iterable[str], database_url: str
) -> CheckpointKeys:
    path = signing_key_file or _default_key_file(database_url)
    signing: Ed25519PrivateKey | None = None
    if path:
        signing = _private_key(Path(path), create=not signing_key_file)
    elif make_url(database_url).get_backend_name() == "postgresql":
        log.warning("no ledger signing key configured: checkpoints are not signed")
    verifying: dict[str, Ed25519PublicKey] = {}
    if signing is not None:
        verifying[key_id(signing.public_key())] = signing.public_key()
    for name in verify_key_files:
        public = serialization.load_pem_public_key(Path(name).read_bytes())
        if not isinstance(public, Ed25519PublicKey):
            raise ValueError(f"{name} is not an Ed25519 public key")
        verifying[key_id(public)] = public
    return CheckpointKeys(signing, verifying)


def _default_key_file(database_url: str) -> str:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return ""
    return f"{url.database}.ledger-key.pem"


def _private_key(path: Path, *, create: bool) -> Ed25519PrivateKey:
    if not path.exists() and create:
        generated = Ed25519PrivateKey.generate()
        pem = generated.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # Written whole under a private name, then linked into place: `accrue serve
        # --processes N` starts N processes at once, and whichever links first wins;
        # the others read its complete key (never a half-written file).
        staging = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as out:
                out.write(pem)
            os.link(staging, path)
            log.warning(
                "generated a ledger checkpoint signing key beside the database; keep a copy "
                "of it (or of its public key) away from the database",
                extra={"path": str(path)},
            )
        except FileExistsError:
            pass  # another process of this deployment created it first: use that one
        finally:
            staging.unlink(missing_ok=True)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def public_pem(keys: CheckpointKeys) -> bytes:
    """The signing key's public half, for handing to whoever verifies."""
    if keys.signing is None:
        raise RuntimeError("no ledger signing key is configured")
    return keys.signing.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
