"""Features, their attachments to products and prices, and what a customer gets.

Resolution rules (documented in entitlement.proto too): per subscription
item, a feature attached to the item's price wins over the same feature
attached to the price's product. A boolean feature is enabled when any item
enables it. A numeric limit per item is the attached value, times the item's
quantity when the feature is `per_unit`; over several items and
subscriptions `per_unit` limits add up (seats bought on two subscriptions
are all usable) and other limits take the largest (two plans that each
allow 10,000 contacts do not make 20,000).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation

from accrue.kernel.errors import AccrueError, PreconditionViolation, ValidationFailed
from accrue.subscriptions.model import SubscriptionStatus

# The statuses whose items grant features: the customer has (or is trying
# out, or is late paying for) the plan. INCOMPLETE never started; PAUSED,
# CANCELED and UNPAID do not give access.
GRANTING = frozenset(
    {SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING, SubscriptionStatus.PAST_DUE}
)
_DECIMAL = re.compile(r"^\d{1,18}(\.\d{1,6})?$")
ZERO = Decimal(0)


class FeatureType(enum.Enum):
    BOOLEAN = "boolean"
    NUMERIC = "numeric"


class TargetKind(enum.Enum):
    PRODUCT = "product"
    PRICE = "price"


class FeatureKeyTaken(AccrueError):
    reason = "FEATURE_KEY_TAKEN"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"a feature with key {key!r} exists; keys are never reused",
            metadata={"key": key},
            precondition_violations=[
                PreconditionViolation("FEATURE_KEY", f"features/{key}", "key taken")
            ],
        )


def parse_amount(text: str, where: str) -> Decimal:
    """A non-negative decimal of at most 18 digits before and 6 after the point."""
    if not _DECIMAL.match(text):
        raise ValidationFailed.on(
            where, "must be a non-negative decimal (at most 18 digits, 6 after the point)"
        )
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid text
        raise ValidationFailed.on(where, "must be a decimal number") from None


def amount_text(value: Decimal) -> str:
    """Plain decimal text without exponent or trailing zeros (`2.5`, `10000`)."""
    return format(value.normalize(), "f")


@dataclass(frozen=True, slots=True)
class Feature:
    tenant_id: str
    id: str
    key: str
    display_name: str
    type: FeatureType
    unit: str
    per_unit: bool
    meter_id: str
    threshold_percents: tuple[int, ...]
    archived: bool
    create_time: datetime
    update_time: datetime

    @property
    def metered(self) -> bool:
        return self.type is FeatureType.NUMERIC and bool(self.meter_id)


def new_feature_checked(feature: Feature) -> Feature:
    """The feature with its numeric-only fields emptied for booleans; refuses nonsense."""
    if feature.type is FeatureType.BOOLEAN:
        if feature.per_unit or feature.meter_id or feature.threshold_percents or feature.unit:
            raise ValidationFailed.on(
                "feature.type",
                "unit, per_unit, meter_id and threshold_percents are for numeric features",
            )
    elif feature.threshold_percents and not feature.meter_id:
        raise ValidationFailed.on(
            "feature.threshold_percents", "thresholds need a meter_id to measure usage"
        )
    return replace(feature, threshold_percents=tuple(sorted(set(feature.threshold_percents))))


@dataclass(frozen=True, slots=True)
class Attachment:
    """A feature's value on a product or price: `enabled` (boolean) or `limit` (numeric)."""

    tenant_id: str
    feature_id: str
    target: TargetKind
    target_id: str
    enabled: bool
    limit: Decimal | None
    update_time: datetime


@dataclass(frozen=True, slots=True)
class ItemFact:
    price_id: str
    product_id: str
    quantity: int


@dataclass(frozen=True, slots=True)
class SubscriptionFact:
    """What resolution needs of a subscription, read through a port."""

    id: str
    status: SubscriptionStatus
    period_start: datetime
    period_end: datetime
    items: tuple[ItemFact, ...]


@dataclass(frozen=True, slots=True)
class Entitlement:
    feature: Feature
    enabled: bool
    limit: Decimal | None
    subscription_ids: tuple[str, ...]
    # The billing period of the granting subscription that started last:
    # the period usage thresholds are counted in.
    period_start: datetime
    period_end: datetime


@dataclass
class _Acc:
    enabled: bool = False
    limit: Decimal | None = None
    subs: list[str] = field(default_factory=list)
    period: tuple[datetime, datetime] | None = None


@dataclass(frozen=True, slots=True)
class Catalog:
    """A tenant's features and attachments, indexed for resolution."""

    features: Mapping[str, Feature]
    by_target: Mapping[tuple[TargetKind, str], tuple[Attachment, ...]]
    by_key: Mapping[str, Feature]

    @classmethod
    def of(cls, features: Iterable[Feature], attachments: Iterable[Attachment]) -> Catalog:
        index: dict[tuple[TargetKind, str], list[Attachment]] = {}
        for attachment in attachments:
            index.setdefault((attachment.target, attachment.target_id), []).append(attachment)
        found = list(features)
        return cls(
            features={f.id: f for f in found},
            by_target={key: tuple(values) for key, values in index.items()},
            by_key={f.key: f for f in found},
        )

    def feature_by_key(self, key: str) -> Feature | None:
        return self.by_key.get(key)

    def item_values(self, item: ItemFact) -> dict[str, Attachment]:
        """The item's attachments by feature id: its price's win over its product's."""
        values = {
            a.feature_id: a for a in self.by_target.get((TargetKind.PRODUCT, item.product_id), ())
        }
        for a in self.by_target.get((TargetKind.PRICE, item.price_id), ()):
            values[a.feature_id] = a
        return values


def resolve(catalog: Catalog, subscriptions: Sequence[SubscriptionFact]) -> dict[str, Entitlement]:
    """The customer's entitlements by feature key (see the module docstring for the rules)."""
    acc: dict[str, _Acc] = {}
    for sub in subscriptions:
        if sub.status not in GRANTING:
            continue
        for item in sub.items:
            for feature_id, attachment in catalog.item_values(item).items():
                feature = catalog.features.get(feature_id)
                if feature is None or feature.archived:
                    continue
                _add(acc.setdefault(feature_id, _Acc()), feature, attachment, item, sub)
    result = {}
    for feature_id, a in acc.items():
        feature = catalog.features[feature_id]
        if feature.type is FeatureType.BOOLEAN and not a.enabled:
            continue
        assert a.period is not None
        enabled = a.enabled if feature.type is FeatureType.BOOLEAN else (a.limit or ZERO) > 0
        result[feature.key] = Entitlement(
            feature=feature,
            enabled=enabled,
            limit=a.limit if feature.type is FeatureType.NUMERIC else None,
            subscription_ids=tuple(dict.fromkeys(a.subs)),
            period_start=a.period[0],
            period_end=a.period[1],
        )
    return result


def _add(
    acc: _Acc, feature: Feature, attachment: Attachment, item: ItemFact, sub: SubscriptionFact
) -> None:
    if feature.type is FeatureType.BOOLEAN:
        if not attachment.enabled:
            return
        acc.enabled = True
    else:
        value = attachment.limit or ZERO
        if feature.per_unit:
            acc.limit = (acc.limit or ZERO) + value * item.quantity
        else:
            acc.limit = value if acc.limit is None else max(acc.limit, value)
    acc.subs.append(sub.id)
    if acc.period is None or sub.period_start > acc.period[0]:
        acc.period = (sub.period_start, sub.period_end)


@dataclass(frozen=True, slots=True)
class CheckResult:
    allowed: bool
    type: FeatureType | None
    limit: Decimal | None
    usage: Decimal | None
    remaining: Decimal | None


def check(
    feature: Feature,
    entitlement: Entitlement | None,
    *,
    usage: Decimal | None,
    quantity: Decimal | None,
) -> CheckResult:
    """Whether the customer may use the feature now, and how much is left.

    Without `quantity` a numeric feature is allowed while anything remains;
    with one, when that much fits in what remains.
    """
    if feature.type is FeatureType.BOOLEAN:
        allowed = entitlement is not None and entitlement.enabled
        return CheckResult(allowed, FeatureType.BOOLEAN if entitlement else None, None, None, None)
    limit = entitlement.limit if entitlement is not None and entitlement.limit is not None else ZERO
    remaining = max(limit - (usage or ZERO), ZERO)
    allowed = remaining > 0 if quantity is None else quantity <= remaining
    return CheckResult(
        allowed, FeatureType.NUMERIC if entitlement else None, limit, usage, remaining
    )


def thresholds_reached(limit: Decimal, usage: Decimal, percents: Iterable[int]) -> list[int]:
    """The percentages of `limit` that `usage` has reached (some usage is needed)."""
    if usage <= 0:
        return []
    return [p for p in percents if usage * 100 >= limit * p]


@dataclass(frozen=True, slots=True)
class ThresholdCrossing:
    """A customer's usage reached `percent` of a metered feature's limit in a period."""

    customer_id: str
    feature: Feature
    percent: int
    limit: Decimal
    usage: Decimal
    period_start: datetime
    period_end: datetime
