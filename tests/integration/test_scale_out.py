"""``openlinq serve --workers N``: N API processes on one port, as an operator runs it.

Real processes: the installed command, its supervisor and its API processes. Several API
processes need PostgreSQL (``--backend postgres``); the refusals run on either backend.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.process import Served, serving
from tests.support.processes import wait_until
from tests.support.server import free_port

KEY = "olq_scale_out_workers_key"


def _openlinq(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openlinq", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200", **env},
    )


def test_several_api_processes_on_sqlite_are_refused_in_one_line(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'one.db'}"
    by_flag = _openlinq("serve", "--workers", "2", "--database-url", database)
    by_env = _openlinq("serve", "--database-url", database, OPENLINQ_WORKERS="3")
    for result, count in ((by_flag, 2), (by_env, 3)):
        assert (result.returncode, result.stdout) == (2, "")
        assert result.stderr == (
            f"openlinq: --workers {count} needs PostgreSQL (--database-url postgresql://…): "
            "SQLite is served by one process\n"
        )
    assert not (tmp_path / "one.db").exists()  # refused before anything was created


def test_several_api_processes_need_the_real_clock() -> None:
    # Refused before the database is opened: this address is never connected to.
    result = _openlinq(
        "serve",
        "--workers",
        "2",
        "--clock",
        "manual",
        "--database-url",
        "postgresql://nobody@127.0.0.1:9/nothing",
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "openlinq: --workers 2 needs the real clock: the manual clock lives in one process\n"
    )


def _api_processes(supervisor: int) -> set[int]:
    """The supervisor's API processes (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    return {
        int(pid)
        for pid in children
        if "resource_tracker" not in _cmdline(int(pid)) and _cmdline(int(pid))
    }


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has finished


@pytest.fixture
def three_api_processes(
    backend: str, fresh_database_url: str, tmp_path: Path
) -> Iterator[tuple[Served, str]]:
    if backend != "postgres":
        pytest.skip("several API processes need PostgreSQL")
    port = free_port()
    env = {
        **os.environ,
        "OPENLINQ_PORT": str(port),
        "OPENLINQ_DATA_DIR": str(tmp_path / "data"),
        "OPENLINQ_DATABASE_URL": fresh_database_url,
        "OPENLINQ_DEV_API_KEY": KEY,
        "OPENLINQ_RUN_WORKER": "false",
        "COLUMNS": "200",
    }
    command = [sys.executable, "-m", "openlinq", "serve", "--workers", "3"]
    # Each process imports the whole server: on a busy 2-core machine that takes a while.
    with serving(command, port=port, env=env, cwd=tmp_path, start_seconds=120) as served:
        yield served, f"http://127.0.0.1:{port}"


def test_serve_workers_runs_n_api_processes_replaces_a_dead_one_and_stops_them_all(
    three_api_processes: tuple[Served, str],
) -> None:
    served, base = three_api_processes
    supervisor = served.process.pid
    wait_until(lambda: len(_api_processes(supervisor)) == 3, 30, "three API processes")
    first = _api_processes(supervisor)
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
        # The database was migrated and the sandbox made once, before they started.
        lines = http.get("/api/partner/v3/phone_numbers").json()["phone_numbers"]
        assert len(lines) == 4
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        wait_until(
            lambda: (
                len(_api_processes(supervisor)) == 3 and victim not in _api_processes(supervisor)
            ),
            60,
            "the supervisor to replace the killed API process",
        )
        for _ in range(10):  # whichever process takes the connection answers
            with httpx.Client(base_url=base, headers=headers, timeout=30) as fresh:
                assert fresh.get("/api/partner/v3/phone_numbers").status_code == 200
    every = first | _api_processes(supervisor)

    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=60) == 0
    assert not [pid for pid in every if _alive(pid)]
    output = served.process.communicate()[0]
    assert output.count("openlinq is serving the Linq Partner API v3") == 1
    assert f"LINQ_API_V3_API_KEY={KEY}" in output
    assert (
        "processes: 3 API, no job runner (OPENLINQ_RUN_WORKER=false): start `openlinq worker`"
        in output
    )
