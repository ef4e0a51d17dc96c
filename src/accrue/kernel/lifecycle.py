"""The active/archived lifecycle shared by catalog and customer resources."""

from __future__ import annotations

import enum


class LifecycleState(enum.Enum):
    ACTIVE = "active"
    ARCHIVED = "archived"
