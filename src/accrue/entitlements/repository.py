"""The entitlement area's SQL (Core, runs on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, literal, select, union_all, update

from accrue.catalog import tables as catalog_tables
from accrue.customers.tables import customers as customer_rows
from accrue.entitlements.model import (
    Attachment,
    Feature,
    FeatureType,
    ItemFact,
    SubscriptionFact,
    TargetKind,
)
from accrue.entitlements.ports import Stamp
from accrue.entitlements.tables import (
    entitlement_catalog_versions,
    feature_attachments,
    features,
    usage_threshold_crossings,
)
from accrue.kernel.paging import PageRequest
from accrue.subscriptions import tables as subscription_tables
from accrue.subscriptions.model import SubscriptionStatus

_f = features.c
_a = feature_attachments.c
_v = entitlement_catalog_versions.c
_x = usage_threshold_crossings.c
_s = subscription_tables.subscriptions.c

# The hot path's one read: does the customer exist, its subscriptions'
# versions, the tenant's catalog version (all on primary keys or indexes).
_STAMP = union_all(
    select(
        literal("c").label("kind"),
        customer_rows.c.id.label("id"),
        literal(0).label("version"),
    )
    .where(customer_rows.c.tenant_id == bindparam("tenant_id"))
    .where(customer_rows.c.id == bindparam("customer_id")),
    select(literal("s"), _s.id, _s.version).where(
        _s.tenant_id == bindparam("tenant_id"), _s.customer_id == bindparam("customer_id")
    ),
    select(literal("v"), _v.tenant_id, _v.version).where(_v.tenant_id == bindparam("tenant_id")),
)
_ITEMS = subscription_tables.subscriptions.c["items"]  # `.items` is ColumnCollection's own method
_FACTS = select(_s.id, _s.status, _s.period_start, _s.period_end, _ITEMS).where(
    _s.tenant_id == bindparam("tenant_id"), _s.customer_id == bindparam("customer_id")
)


class SqlEntitlementStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._pg = conn.dialect.name == "postgresql"

    # Features

    def add_feature(self, feature: Feature) -> None:
        self._conn.execute(insert(features).values(**_feature_row(feature)))

    def get_feature(
        self, tenant_id: str, feature_id: str, *, for_update: bool = False
    ) -> Feature | None:
        query = select(features).where(_f.tenant_id == tenant_id, _f.id == feature_id)
        if for_update and self._pg:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return None if row is None else _feature(row)

    def key_taken(self, tenant_id: str, key: str) -> bool:
        query = select(_f.id).where(_f.tenant_id == tenant_id, _f.key == key)
        return self._conn.execute(query).first() is not None

    def update_feature(self, feature: Feature) -> None:
        self._conn.execute(
            update(features)
            .where(_f.tenant_id == feature.tenant_id, _f.id == feature.id)
            .values(**_feature_row(feature))
        )

    def list_features(self, tenant_id: str, page: PageRequest) -> Sequence[Feature]:
        query = select(features).where(_f.tenant_id == tenant_id)
        if page.after_id:
            query = query.where(_f.id > page.after_id)
        rows = self._conn.execute(query.order_by(_f.id).limit(page.size + 1))
        return [_feature(row) for row in rows]

    # Attachments

    def target_exists(self, tenant_id: str, target: TargetKind, target_id: str) -> bool:
        table = catalog_tables.products if target is TargetKind.PRODUCT else catalog_tables.prices
        query = select(table.c.id).where(table.c.tenant_id == tenant_id, table.c.id == target_id)
        return self._conn.execute(query).first() is not None

    def get_attachment(
        self, tenant_id: str, feature_id: str, target: TargetKind, target_id: str
    ) -> Attachment | None:
        row = self._conn.execute(
            select(feature_attachments).where(
                *_attachment_key(tenant_id, feature_id, target, target_id)
            )
        ).first()
        return None if row is None else _attachment(row)

    def put_attachment(self, attachment: Attachment) -> None:
        key = (attachment.tenant_id, attachment.feature_id, attachment.target, attachment.target_id)
        row = _attachment_row(attachment)
        if self.get_attachment(*key) is None:
            self._conn.execute(insert(feature_attachments).values(**row))
        else:
            self._conn.execute(
                update(feature_attachments).where(*_attachment_key(*key)).values(**row)
            )

    def delete_attachment(
        self, tenant_id: str, feature_id: str, target: TargetKind, target_id: str
    ) -> None:
        self._conn.execute(
            delete(feature_attachments).where(
                *_attachment_key(tenant_id, feature_id, target, target_id)
            )
        )

    def list_attachments(self, tenant_id: str, feature_id: str) -> Sequence[Attachment]:
        rows = self._conn.execute(
            select(feature_attachments)
            .where(_a.tenant_id == tenant_id, _a.feature_id == feature_id)
            .order_by(_a.target_kind.desc(), _a.target_id)
        )
        return [_attachment(row) for row in rows]

    # Resolution

    def bump_catalog_version(self, tenant_id: str) -> None:
        if self._pg:
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            upsert = pg_insert(entitlement_catalog_versions).values(tenant_id=tenant_id, version=1)
            self._conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=[_v.tenant_id], set_={"version": _v.version + 1}
                )
            )
            return
        done = self._conn.execute(
            update(entitlement_catalog_versions)
            .where(_v.tenant_id == tenant_id)
            .values(version=_v.version + 1)
        )
        if done.rowcount == 0:
            self._conn.execute(
                insert(entitlement_catalog_versions).values(tenant_id=tenant_id, version=1)
            )

    def catalog_version(self, tenant_id: str) -> int:
        query = select(_v.version).where(_v.tenant_id == tenant_id)
        return int(self._conn.execute(query).scalar_one_or_none() or 0)

    def catalog(self, tenant_id: str) -> tuple[int, Sequence[Feature], Sequence[Attachment]]:
        version = self._conn.execute(
            select(_v.version).where(_v.tenant_id == tenant_id)
        ).scalar_one_or_none()
        found = [
            _feature(r)
            for r in self._conn.execute(select(features).where(_f.tenant_id == tenant_id))
        ]
        attached = [
            _attachment(r)
            for r in self._conn.execute(
                select(feature_attachments).where(_a.tenant_id == tenant_id)
            )
        ]
        return int(version or 0), found, attached

    def stamp(self, tenant_id: str, customer_id: str) -> Stamp | None:
        rows = self._conn.execute(_STAMP, {"tenant_id": tenant_id, "customer_id": customer_id})
        exists = False
        catalog_version = 0
        subs = []
        for kind, row_id, version in rows:
            if kind == "c":
                exists = True
            elif kind == "s":
                subs.append((row_id, int(version)))
            else:
                catalog_version = int(version)
        if not exists:
            return None
        return Stamp(catalog_version, tuple(sorted(subs)))

    def subscription_facts(self, tenant_id: str, customer_id: str) -> Sequence[SubscriptionFact]:
        rows = self._conn.execute(
            _FACTS, {"tenant_id": tenant_id, "customer_id": customer_id}
        ).all()
        price_ids = sorted({item["price_id"] for row in rows for item in row[4]})
        products = self.product_ids(tenant_id, price_ids)
        return [
            SubscriptionFact(
                id=row.id,
                status=SubscriptionStatus(row.status),
                period_start=row.period_start,
                period_end=row.period_end,
                items=tuple(
                    ItemFact(
                        price_id=item["price_id"],
                        product_id=products.get(item["price_id"], ""),
                        quantity=int(item["quantity"]),
                    )
                    for item in row[4]
                ),
            )
            for row in rows
        ]

    def product_ids(self, tenant_id: str, price_ids: Sequence[str]) -> Mapping[str, str]:
        if not price_ids:
            return {}
        p = catalog_tables.prices.c
        rows = self._conn.execute(
            select(p.id, p.product_id).where(p.tenant_id == tenant_id, p.id.in_(list(price_ids)))
        )
        return {price_id: product_id for price_id, product_id in rows}

    # Thresholds

    def record_crossing(
        self,
        tenant_id: str,
        *,
        customer_id: str,
        feature_id: str,
        percent: int,
        period_start: datetime,
        usage: Decimal,
        now: datetime,
    ) -> bool:
        values = {
            "tenant_id": tenant_id,
            "customer_id": customer_id,
            "feature_id": feature_id,
            "percent": percent,
            "period_start": period_start,
            "usage": str(usage),
            "create_time": now,
        }
        if self._pg:
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            # RETURNING, not rowcount: the driver may report -1 for this statement.
            inserted = self._conn.execute(
                pg_insert(usage_threshold_crossings)
                .values(**values)
                .on_conflict_do_nothing()
                .returning(_x.percent)
            ).first()
            return inserted is not None
        exists = self._conn.execute(
            select(_x.percent).where(
                _x.tenant_id == tenant_id,
                _x.customer_id == customer_id,
                _x.feature_id == feature_id,
                _x.percent == percent,
                _x.period_start == period_start,
            )
        ).first()
        if exists is not None:
            return False
        # SQLite has one writer at a time, so nothing can insert in between.
        self._conn.execute(insert(usage_threshold_crossings).values(**values))
        return True


def _attachment_key(
    tenant_id: str, feature_id: str, target: TargetKind, target_id: str
) -> tuple[Any, ...]:
    return (
        _a.tenant_id == tenant_id,
        _a.feature_id == feature_id,
        _a.target_kind == target.value,
        _a.target_id == target_id,
    )


def _feature_row(feature: Feature) -> dict[str, Any]:
    return {
        "tenant_id": feature.tenant_id,
        "id": feature.id,
        "key": feature.key,
        "display_name": feature.display_name,
        "type": feature.type.value,
        "unit": feature.unit,
        "per_unit": feature.per_unit,
        "meter_id": feature.meter_id,
        "threshold_percents": list(feature.threshold_percents),
        "archived": feature.archived,
        "create_time": feature.create_time,
        "update_time": feature.update_time,
    }


def _feature(row: Any) -> Feature:
    return Feature(
        tenant_id=row.tenant_id,
        id=row.id,
        key=row.key,
        display_name=row.display_name,
        type=FeatureType(row.type),
        unit=row.unit,
        per_unit=row.per_unit,
        meter_id=row.meter_id,
        threshold_percents=tuple(int(p) for p in row.threshold_percents),
        archived=row.archived,
        create_time=row.create_time,
        update_time=row.update_time,
    )


def _attachment_row(attachment: Attachment) -> dict[str, Any]:
    return {
        "tenant_id": attachment.tenant_id,
        "feature_id": attachment.feature_id,
        "target_kind": attachment.target.value,
        "target_id": attachment.target_id,
        "enabled": attachment.enabled,
        "limit_value": None if attachment.limit is None else str(attachment.limit),
        "update_time": attachment.update_time,
    }


def _attachment(row: Any) -> Attachment:
    return Attachment(
        tenant_id=row.tenant_id,
        feature_id=row.feature_id,
        target=TargetKind(row.target_kind),
        target_id=row.target_id,
        enabled=row.enabled,
        limit=None if row.limit_value is None else Decimal(row.limit_value),
        update_time=row.update_time,
    )
