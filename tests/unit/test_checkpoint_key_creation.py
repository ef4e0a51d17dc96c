"""`accrue serve --processes N` starts N processes that may all find no signing key
beside the database: exactly one key is created and every process loads it."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from accrue.ledger.checkpoint_keys import _private_key


def test_racing_creators_all_load_the_one_key_created(tmp_path: Path) -> None:
    path = tmp_path / "accrue.db.ledger-key.pem"
    start = threading.Barrier(8)
    found: list[bytes] = []
    errors: list[BaseException] = []

    def create() -> None:
        start.wait()
        try:
            key = _private_key(path, create=True)
        except BaseException as error:
            errors.append(error)
            return
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        found.append(raw)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(found) == 8 and len(set(found)) == 1
    assert os.listdir(tmp_path) == [path.name]  # no staging file left behind
    assert path.stat().st_mode & 0o777 == 0o600
