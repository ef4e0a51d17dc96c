"""Secrets every server process of one deployment shares, kept in its database.

The first process that needs a secret generates it (256 random bits) and
stores it; every later one, and every restart, reads the same value, so what
one process sealed another can open. A race between two first processes is
settled by the primary key: the loser reads the winner's secret.
"""

from __future__ import annotations

import secrets

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from accrue.kernel.clock import Clock
from accrue.platform.db import tables as t

SECRET_BYTES = 32


def shared_secret(engine: Engine, name: str, *, clock: Clock) -> bytes:
    """The deployment's secret called `name`, generated and stored on first use."""
    found = _read(engine, name)
    if found is not None:
        return found
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(t.server_secrets).values(
                    name=name,
                    secret=secrets.token_hex(SECRET_BYTES),
                    create_time=clock.now(),
                )
            )
    except IntegrityError:
        pass  # another process stored it first
    stored = _read(engine, name)
    assert stored is not None
    return stored


def _read(engine: Engine, name: str) -> bytes | None:
    query = select(t.server_secrets.c.secret).where(t.server_secrets.c.name == name)
    with engine.connect() as conn:
        value = conn.execute(query).scalar_one_or_none()
    return None if value is None else bytes.fromhex(value)
