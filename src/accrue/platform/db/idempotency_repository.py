"""Stored responses of idempotent mutations, and the per-key lock around them."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, text

from accrue.platform.db import tables as t
from accrue.platform.db.key_locks import KeyLocks
from accrue.platform.ports import StoredResponse

_ik = t.idempotency_keys.c
_STORED_RESPONSE = select(_ik.method, _ik.fingerprint, _ik.response).where(
    _ik.tenant_id == bindparam("tenant_id"), _ik.request_id == bindparam("request_id")
)
_INSERT_KEY = insert(t.idempotency_keys)


_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(:id)")


class SqlIdempotencyRepository:
    """Stored responses, plus a per-key lock that spans processes on PostgreSQL."""

    def __init__(self, conn: Connection, locks: KeyLocks) -> None:
        self._conn = conn
        self._locks = locks
        self.held: list[tuple[str, str]] = []

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
        self._conn.execute(
            _INSERT_KEY,
            {
                "tenant_id": tenant_id,
                "request_id": request_id,
                "method": stored.method,
                "fingerprint": stored.fingerprint,
                "response": stored.response,
                "create_time": create_time,
            },
        )
