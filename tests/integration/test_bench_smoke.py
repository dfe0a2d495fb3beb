"""The bench scripts still run: bench/api.py, bench/growth.py and bench/plot.py on a tiny
scale, checking the shape of what they write (never their figures: speed is measured by
the scripts, not asserted in tests)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
WRK = shutil.which("wrk")

pytestmark = pytest.mark.skipif(WRK is None, reason="wrk is not installed")

MACHINE_KEYS = {"cpu", "cores", "os", "python", "sqlite", "git_commit", "load_average_at_start"}


def _bench(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def api_report(tmp_path_factory: pytest.TempPathFactory, backend: str, database_url: str) -> Path:
    """bench/api.py on a tiny scale: bare and openlinq, every row."""
    folder = tmp_path_factory.mktemp("api")
    extra = ["--database-url", database_url, "--postgres-only"] if backend == "postgres" else []
    _bench(
        "api.py",
        *("--duration", "1", "--warmup", "0", "--open-loop", "0.5", "--chats", "2"),
        *("--connections", "4", "--drain", "0", "--results", str(folder)),
        *extra,
    )
    (path,) = folder.glob("api-*.json")
    return path


@pytest.fixture(scope="module")
def growth_report(
    tmp_path_factory: pytest.TempPathFactory, backend: str, database_url: str
) -> Path:
    """bench/growth.py on a tiny scale."""
    folder = tmp_path_factory.mktemp("growth")
    _bench(
        "growth.py",
        *("--sizes", "300", "--chats", "3", "--duration", "1", "--warmup", "0"),
        *("--connections", "2", "--results", str(folder)),
        *(["--database-url", database_url] if backend == "postgres" else []),
    )
    (path,) = folder.glob("growth-*.json")
    return path


def test_api_bench_writes_every_row_for_bare_and_openlinq(api_report: Path, backend: str) -> None:
    report = json.loads(api_report.read_text())
    assert report["machine"].keys() >= MACHINE_KEYS
    assert report["settings"]["connections"] == 4
    results = report["results"]
    database = "postgresql" if backend == "postgres" else "sqlite"
    assert [(r["kind"], r["row"]) for r in results] == [
        (kind, row) for kind in ("bare", "openlinq") for row in ("send", "get", "page")
    ]
    for r in results:
        assert r["requests"] > 0
        assert r["errors"] == 0, r
        assert r["p50_ms"] <= r["p99_ms"]
        if r["kind"] == "openlinq":
            assert r["database"] == database
            assert r["ratio_to_bare"] is not None
            assert r["open_loop"]["requests"] > 0
    (send,) = [r for r in results if r["kind"] == "openlinq" and r["row"] == "send"]
    durability = send["durability"]
    # wrk recorded the id of every accepted send; each one is found through the API.
    assert durability["accepted"] >= send["requests"] > 0
    assert durability["found"] == durability["accepted"]
    assert durability["missing"] == 0


def test_growth_bench_measures_each_size(growth_report: Path, backend: str) -> None:
    report = json.loads(growth_report.read_text())
    assert report["database"] == ("postgresql" if backend == "postgres" else "sqlite")
    assert report["machine"].keys() >= MACHINE_KEYS
    assert [step["messages"] for step in report["steps"]] == [300]
    for step in report["steps"]:
        assert 0 < step["big_chat_messages"] < step["messages"]
        for row in ("get", "page"):
            assert step[row]["loaded"]["connections"] == 2
            assert step[row]["low"]["connections"] == 1
            assert step[row]["loaded"]["errors"] == step[row]["low"]["errors"] == 0
            assert step[row]["loaded"]["per_second"] > 0
        # SQLite's plan for each read is recorded (both use an index), with its time.
        assert set(step["sqlite"]) == (set() if backend == "postgres" else {"get", "page"})
        for read in step["sqlite"].values():
            assert "INDEX" in " ".join(read["plan"])
            assert 0 < read["p50_us"] <= read["p99_us"]
    assert set(report["ratios"]) == {
        f"{row} {load} {figure}"
        for row in ("get", "page")
        for load in ("loaded", "low")
        for figure in ("p50_ms", "p99_ms")
    }


def test_plots_and_tables_from_the_results(
    api_report: Path, growth_report: Path, tmp_path: Path
) -> None:
    images = tmp_path / "images"
    printed = _bench(
        "plot.py",
        *("--api", str(api_report), "--growth", str(growth_report)),
        # The scale plot reads the same shape as the api report.
        *("--scale", str(api_report), "--out", str(images)),
    ).stdout

    for name in ("perf-api.png", "perf-growth.png", "perf-scale.png"):
        assert (images / name).read_bytes().startswith(b"\x89PNG"), name
    assert "| bare | durable send |" in printed
    assert "| 300 |" in printed
    assert "Machine: " in printed
