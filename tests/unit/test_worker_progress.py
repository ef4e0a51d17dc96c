"""`accrue worker` on a terminal: one progress line per bill-run batch; otherwise none."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

from accrue.cli import BillRunProgress


def test_a_line_per_batch_with_totals_rate_and_failures() -> None:
    out = io.StringIO()
    progress = BillRunProgress(out)
    progress.batch(100, 0, 0.5)
    progress.batch(99, 1, 0.25)
    first, second = out.getvalue().splitlines()
    assert re.fullmatch(
        r"bill run: 100 renewals billed \([\d,]+/s\); this batch 100 in 0\.50 s \(200/s\);"
        r" failures 0",
        first,
    ), first
    assert re.fullmatch(
        r"bill run: 199 renewals billed \([\d,]+/s\); this batch 99 in 0\.25 s \(396/s\);"
        r" failures 1 \(\+1\)",
        second,
    ), second


def test_without_a_terminal_the_worker_prints_only_ready_and_done(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'accrue.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "accrue.cli", "worker", "--once", "--database-url", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    ready, *rest = done.stdout.splitlines()
    assert re.fullmatch(r"READY worker( metrics=\d+)?", ready), ready
    assert rest == ["DONE steps=0 collections=0 resolved=0 failed=0"]
