"""Finding Debian's `prometheus` and `promtool` for the alerting tests.

scripts/test installs the package when it is missing and it can (as root);
here a test skips with the reason when the binaries are absent, except in CI
(CI=true), where their absence is a failure.
"""

from __future__ import annotations

import os
import shutil

import pytest


def binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        reason = f"{name} not installed (Debian package `prometheus`; scripts/test installs it)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return found
