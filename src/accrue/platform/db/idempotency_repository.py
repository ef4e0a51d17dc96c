"""Stored responses of idempotent mutations, and the per-key lock around them."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, text

from accrue.platform.db import tables as t
from accrue.platform.db.json_rows import JsonInsert
from accrue.platform.db.key_locks import KeyLocks
from accrue.platform.ports import StoredResponse

_ik = t.idempotency_keys.c
_STORED_RESPONSE = select(_ik.method, _ik.fingerprint, _ik.response).where(
    _ik.tenant_id == bindparam("tenant_id"), _ik.request_id == bindparam("request_id")
)
_INSERT_KEY = insert(t.idempotency_keys)
_KEY_COLUMNS = ("tenant_id", "request_id", "method", "fingerprint", "response", "create_time")
_INSERT_KEYS = JsonInsert(t.idempotency_keys, _KEY_COLUMNS)


_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(:id)")


class SqlIdempotencyRepository:
    """Stored responses, plus a per-key lock that spans processes on PostgreSQL."""

    def __init__(self, conn: Connection, locks: KeyLocks) -> None:
        self._conn = conn
        self._locks = locks
        self.held: list[tuple[str, str]] = []
        self._pending: list[tuple[Any, ...]] = []

    def lock(self, tenant_id: str, request_id: str) -> bool:
        key = (tenant_id, request_id)
        if not self._locks.try_acquire(key):
            return False
        self.held.append(key)
        if self._conn.dialect.name == "postgresql" and not self._locks.spans_processes(key):
            digest = hashlib.sha256(f"{tenant_id}\0{request_id}".encode()).digest()
            lock_id = int.from_bytes(digest[:8], "big", signed=True)
            acquired = self._conn.execute(_TRY_LOCK, {"id": lock_id}).scalar_one()
            return bool(acquired)
        return True

    def release_all(self) -> None:
        for key in self.held:
            self._locks.release(key)
        self.held.clear()

    def get(self, tenant_id: str, request_id: str) -> StoredResponse | None:
        params = {"tenant_id": tenant_id, "request_id": request_id}
        row = self._conn.execute(_STORED_RESPONSE, params).first()
        if row is None:
            return None
        return StoredResponse(
            method=row.method, fingerprint=row.fingerprint, response=bytes(row.response)
        )

    def add(
        self, tenant_id: str, request_id: str, stored: StoredResponse, *, create_time: datetime
    ) -> None:
        """Store the response with the change. On PostgreSQL the row is written at
        commit, in the statement that queues the unit of work's events (see
        `pending_inserts`): the response is the last thing a mutation makes, often
        while it holds the tenant's invoice counter, and a round trip fewer there
        is a shorter wait for every other finaliser. A key already stored then
        fails the commit, as it failed this call before: the whole unit of work
        rolls back and the caller answers from the stored response."""
        row = (
            tenant_id,
            request_id,
            stored.method,
            stored.fingerprint,
            stored.response,
            create_time,
        )
        if self._conn.dialect.name == "postgresql":
            self._pending.append(row)
            return
        self._conn.execute(_INSERT_KEY, dict(zip(_KEY_COLUMNS, row, strict=True)))

    def pending_inserts(self) -> list[tuple[JsonInsert, Sequence[Sequence[Any]]]]:
        """The stored responses not yet written, as inserts for the commit's
        statement; taking them clears them."""
        rows, self._pending = self._pending, []
        return [(_INSERT_KEYS, rows)] if rows else []
