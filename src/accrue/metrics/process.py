"""The registry every Accrue process starts from (light: no API or database imports)."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    Info,
    PlatformCollector,
    ProcessCollector,
)


def new_registry(process: str) -> CollectorRegistry:
    """A registry with the process, platform and GC collectors and the process role."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    Info("accrue_process", "Which Accrue process this is", registry=registry).info(
        {"role": process}
    )
    return registry
