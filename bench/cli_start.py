"""How long do ``openlinq`` commands take to start and finish?

Runs each command --runs times (default 10) as a fresh process, one after another,
and reports the median, min and max wall time and the median CPU time (user + sys
of the child), with the modules it imported (``python -X importtime``, one extra
run). The commands:

  --help                      the root help: typer only
  chats --help                a command group's help
  chats list (no server)      an API command up to its request (nothing listens, so
                              it fails at once): the CLI's own cost
  accounts list               an operator command on a migrated SQLite data dir:
                              opens the database and builds the services

Wall time on a shared machine includes waiting for a core: compare CPU time, and
runs made back to back. Prints a table and the machine, and writes JSON to
bench/results/cli_start-<UTC time>.json. Exits 1 if ``openlinq --help`` takes a
median of 0.5 s or more (aim 4 of issue #13).

Run: .venv/bin/python bench/cli_start.py [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchlib import machine

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
OPENLINQ = [sys.executable, "-m", "openlinq"]
HELP_LIMIT_SECONDS = 0.5
HEAVY = ("fastapi", "sqlalchemy", "pydantic", "httpx", "rich", "alembic", "boto3")


def commands(data_dir: Path) -> dict[str, list[str]]:
    return {
        "--help": ["--help"],
        "chats --help": ["chats", "--help"],
        "chats list (no server)": [
            "chats",
            "list",
            "--api-key",
            "k",
            "--api-url",
            "http://127.0.0.1:9/api/partner",
        ],
        "accounts list": ["accounts", "list", "--data-dir", str(data_dir)],
    }


def timed(args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``openlinq ARGS``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [*OPENLINQ, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def imported(args: list[str]) -> dict[str, Any]:
    """How many modules ``openlinq ARGS`` imports, and the heaviest top-level packages."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *OPENLINQ[1:], *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )
    names = [
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line and not line.endswith("package")
    ]
    packages = sorted({name.split(".")[0] for name in names})
    return {"modules": len(names), "heavy": [p for p in HEAVY if p in packages]}


def run(runs: int) -> dict[str, Any]:
    report: dict[str, Any] = {"runs": runs, "machine": machine(None), "commands": {}}
    with tempfile.TemporaryDirectory(prefix="openlinq-cli-") as tmp:
        data_dir = Path(tmp)
        subprocess.run([*OPENLINQ, "migrate", "--data-dir", tmp], capture_output=True, check=True)
        for name, args in commands(data_dir).items():
            timed(args)  # warm the file cache and the bytecode
            samples = [timed(args) for _ in range(runs)]
            walls = [wall for wall, _ in samples]
            report["commands"][name] = {
                "median_seconds": round(statistics.median(walls), 3),
                "min_seconds": round(min(walls), 3),
                "max_seconds": round(max(walls), 3),
                "median_cpu_seconds": round(statistics.median(cpu for _, cpu in samples), 3),
                **imported(args),
            }
    return report


def show(report: dict[str, Any]) -> None:
    host = report["machine"]
    print(
        f"{host['cpu']}, {host['cores']} cores, {host['os']}, Python {host['python']}, "
        f"commit {host['git_commit']}, load {host['load_average_at_start']:.1f}"
    )
    print(
        f"{'command':<26}{'median s':>10}{'min s':>8}{'max s':>8}{'CPU s':>8}{'modules':>9}  heavy"
    )
    for name, row in report["commands"].items():
        print(
            f"{name:<26}{row['median_seconds']:>10.3f}{row['min_seconds']:>8.3f}"
            f"{row['max_seconds']:>8.3f}{row['median_cpu_seconds']:>8.3f}{row['modules']:>9}  "
            + (", ".join(row["heavy"]) or "-")
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    report = run(args.runs)
    show(report)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"cli_start-{stamp}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results: {path.relative_to(ROOT)}")
    if report["commands"]["--help"]["median_seconds"] >= HELP_LIMIT_SECONDS:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
