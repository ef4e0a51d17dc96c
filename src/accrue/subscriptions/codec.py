"""Exact JSON forms of subscription values the subscriptions table stores whole."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

# The line fields that are instants: columns in `invoice_lines`, text in JSON.
from accrue.invoicing.codec import terms_json, terms_of
from accrue.kernel.calendar import BillingAnchor
from accrue.subscriptions.model import SubscriptionItem


def items_json(items: Iterable[SubscriptionItem]) -> list[dict[str, Any]]:
    return [
        {
            "price_id": item.price_id,
            "quantity": item.quantity,
            "terms": terms_json(item.terms),
            "label": item.label,
            **(
                {"metered_since": item.metered_since.isoformat()}
                if item.metered_since is not None
                else {}
            ),
        }
        for item in items
    ]


def items_of(data: Iterable[Mapping[str, Any]]) -> tuple[SubscriptionItem, ...]:
    return tuple(
        SubscriptionItem(
            price_id=item["price_id"],
            terms=terms_of(item["terms"]),
            quantity=item["quantity"],
            label=item.get("label", ""),
            metered_since=(
                datetime.fromisoformat(item["metered_since"]) if "metered_since" in item else None
            ),
        )
        for item in data
    )


def anchor_json(anchor: BillingAnchor) -> dict[str, Any]:
    return {
        "year": anchor.year,
        "month": anchor.month,
        "day_of_month": anchor.day_of_month,
        "hour": anchor.hour,
        "minute": anchor.minute,
        "second": anchor.second,
        "time_zone": anchor.time_zone,
    }


def anchor_of(data: Mapping[str, Any]) -> BillingAnchor:
    return BillingAnchor(
        year=data["year"],
        month=data["month"],
        day_of_month=data["day_of_month"],
        hour=data["hour"],
        minute=data["minute"],
        second=data["second"],
        time_zone=data["time_zone"],
    )
