"""bench/requests_cpu.py still runs (its figures are measured by the script, never asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_it_reports_cpu_per_request_for_each_hot_route(backend: str) -> None:
    if backend == "postgres":
        pytest.skip("the script measures the application on SQLite")
    done = subprocess.run(
        [sys.executable, str(BENCH / "requests_cpu.py"), "--requests", "5"],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = re.findall(r"^(get|page|send) +\d+ us of CPU per request", done.stdout, re.M)
    assert rows == ["get", "page", "send"]
