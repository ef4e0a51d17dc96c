"""The relay's cursors in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from accrue.relay.tables import relay_cursors
from accrue.tenancy.tables import tenants

_r = relay_cursors.c


class SqlRelayCursors:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def tenant_ids(self) -> Sequence[str]:
        return list(self._conn.execute(select(tenants.c.id).order_by(tenants.c.id)).scalars())

    def get(self, stream: str, tenant_id: str) -> int:
        value = self._conn.execute(
            select(_r.last_sequence).where(_r.tenant_id == tenant_id, _r.stream == stream)
        ).scalar_one_or_none()
        return 0 if value is None else int(value)

    def set(self, stream: str, tenant_id: str, last_sequence: int, *, now: datetime) -> None:
        where = (_r.tenant_id == tenant_id, _r.stream == stream)
        changed = self._conn.execute(
            update(relay_cursors).where(*where).values(last_sequence=last_sequence, update_time=now)
        ).rowcount
        if changed == 0:
            self._conn.execute(
                insert(relay_cursors).values(
                    tenant_id=tenant_id,
                    stream=stream,
                    last_sequence=last_sequence,
                    update_time=now,
                )
            )
