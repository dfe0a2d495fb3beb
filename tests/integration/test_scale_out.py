"""``openlinq serve --workers N``: N API processes on one port, as an operator runs it.

Real processes: the installed command, its supervisor and its API processes. Several API
processes need PostgreSQL (``--backend postgres``); the refusals run on either backend.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest

from tests.support.postgres import fresh_postgres_database
from tests.support.process import Served, serving
from tests.support.processes import wait_until
from tests.support.server import free_port

KEY = "olq_scale_out_workers_key"
CONNECTIONS = 36


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


class Followed:
    """A process's output read as it is written (its pipe never fills), for waiting on."""

    def __init__(self, stream: IO[str]) -> None:
        self.text = ""
        self._reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.text += line
        stream.close()

    def wait_for(self, needle: str, seconds: float) -> None:
        wait_until(lambda: needle in self.text, seconds, repr(needle))

    def finish(self) -> str:
        """Everything, once the process has exited."""
        self._reader.join(timeout=30)
        return self.text


@dataclass
class Workers:
    served: Served
    base_url: str
    stdout: Followed


@pytest.fixture(scope="module")
def three_api_processes(
    backend: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workers]:
    """One ``serve --workers 3`` for the module (its last test stops it)."""
    if backend != "postgres":
        pytest.skip("several API processes need PostgreSQL")
    port = free_port()
    data = tmp_path_factory.mktemp("workers")
    with fresh_postgres_database(database_url) as url:
        env = {
            **os.environ,
            "OPENLINQ_PORT": str(port),
            "OPENLINQ_DATA_DIR": str(data),
            "OPENLINQ_DATABASE_URL": url,
            "OPENLINQ_DEV_API_KEY": KEY,
            "OPENLINQ_RUN_WORKER": "false",
            "COLUMNS": "200",
        }
        command = [sys.executable, "-m", "openlinq", "serve", "--workers", "3"]
        # Each process imports the whole server: on a busy 2-core machine that takes a while.
        with serving(command, port=port, env=env, cwd=data, start_seconds=120) as served:
            assert served.process.stdout is not None
            assert served.process.stderr is not None
            stdout, stderr = Followed(served.process.stdout), Followed(served.process.stderr)
            try:
                stdout.wait_for("processes: 3 API", 300)  # the banner: all three serve
                yield Workers(served, f"http://127.0.0.1:{port}", stdout)
            finally:
                served.process.terminate()
                served.process.wait(timeout=60)
                stdout.finish()
                stderr.finish()


def _sockets(pid: int) -> int:
    """How many sockets the process has open (listening, connected, to the database)."""
    fds = Path(f"/proc/{pid}/fd")
    count = 0
    for fd in fds.iterdir():
        with contextlib.suppress(FileNotFoundError):  # closed meanwhile
            count += os.readlink(fd).startswith("socket:")
    return count


def test_connections_opened_at_once_are_spread_over_the_api_processes(
    three_api_processes: Workers,
) -> None:
    """Each process listens on a socket of its own (SO_REUSEPORT): one process does not
    take every connection a client opens at once, as it does on one shared socket."""
    supervisor = three_api_processes.served.process.pid
    processes = sorted(_api_processes(supervisor))
    assert len(processes) == 3
    before = {pid: _sockets(pid) for pid in processes}
    port = int(three_api_processes.base_url.rsplit(":", 1)[1])
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(CONNECTIONS)]
    try:
        wait_until(
            lambda: sum(_sockets(pid) - before[pid] for pid in processes) >= CONNECTIONS,
            30,
            "every connection to be accepted",
        )
        taken = {pid: _sockets(pid) - before[pid] for pid in processes}
    finally:
        for client in clients:
            client.close()
    # Spread by a hash of the client's address: all three get some (a miss: p < 1e-5).
    assert all(count > 0 for count in taken.values()), taken


def test_a_metrics_scrape_counts_the_requests_of_every_api_process(
    three_api_processes: Workers,
) -> None:
    """The API processes count into one shared directory: whichever answers a scrape
    reports every process's requests (fresh connections land on all three)."""
    health = (
        'openlinq_http_request_duration_seconds_count{method="GET",route="/health",status="2xx"}'
    )

    def counted() -> float:
        scrape = httpx.get(f"{three_api_processes.base_url}/metrics", timeout=30)
        assert scrape.status_code == 200, scrape.text
        lines = [line for line in scrape.text.splitlines() if line.startswith(health)]
        return float(lines[0].split()[-1]) if lines else 0.0

    before = counted()
    for _ in range(30):  # a new connection each: spread over the processes
        assert httpx.get(f"{three_api_processes.base_url}/health", timeout=30).is_success
    assert counted() - before == 30


def test_serve_workers_runs_n_api_processes_replaces_a_dead_one_and_stops_them_all(
    three_api_processes: Workers,
) -> None:
    served, base = three_api_processes.served, three_api_processes.base_url
    supervisor = served.process.pid
    first = _api_processes(supervisor)
    assert len(first) == 3
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
        # Whichever socket a connection lands on answers: one on the replaced process's
        # socket waits there until the new process serves (it may still be starting).
        for _ in range(10):
            with httpx.Client(base_url=base, headers=headers, timeout=300) as fresh:
                assert fresh.get("/api/partner/v3/phone_numbers").status_code == 200
    every = first | _api_processes(supervisor)

    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=60) == 0
    assert not [pid for pid in every if _alive(pid)]
    output = three_api_processes.stdout.finish()
    assert output.count("openlinq is serving the Linq Partner API v3") == 1
    assert f"LINQ_API_V3_API_KEY={KEY}" in output
    assert (
        "processes: 3 API, no job runner (OPENLINQ_RUN_WORKER=false): start `openlinq worker`"
        in output
    )
