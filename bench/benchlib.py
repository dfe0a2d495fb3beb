"""What the bench scripts share: server processes on loopback, a cheap HTTP/1.1 client,
percentiles, the openlinq CLI, the durability check and the machine description.

Bench scripts run as ``python bench/<script>.py``, so this module is imported by its
plain name (bench/ is the script's directory, first on sys.path).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import math
import os
import platform
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from openlinq.store.engine import normalise_url

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
BIN = Path(sys.executable).parent
OPENLINQ = [sys.executable, "-m", "openlinq"]
API = "/api/partner/v3"
BODY: dict[str, Any] = {"message": {"parts": [{"type": "text", "value": "benchmark message"}]}}
BODY_BYTES = json.dumps(BODY).encode()
REQUEST_TIMEOUT = 30.0
UVICORN_FLAGS = ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]
# The per-pair limit (30 a minute per line and recipient) stops bot loops; long runs to 64
# recipients would exceed it. Raise it rather than lift it, so every send still checks it.
PAIR_LIMIT = 1_000_000
DELIVERED = frozenset({"delivered", "read"})
ERROR_SAMPLES = 5


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (Linux /proc; 0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """The process and all its children, grandchildren... (uvicorn --workers forks)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                found.extend(descendants(int(child)))
    return found


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    # More processes that belong to this target (dedicated workers), counted in its CPU.
    extra: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def cpu_seconds(self) -> float:
        """CPU time of the server process and every process it started, so far."""
        return sum(process_cpu_seconds(pid) for pid in descendants(self.process.pid))

    def extra_cpu_seconds(self) -> float:
        return sum(process_cpu_seconds(pid) for p in self.extra for pid in descendants(p.pid))


class RawHttp:
    """One keep-alive HTTP/1.1 connection, written by hand: the Python load generator.

    httpx spends about 1.5 ms of CPU per request, so on a small machine one bench process
    can't load the bare endpoint to its limit (it measured the client, not the server);
    this costs a tenth of that. Content-Length responses only, which is what uvicorn sends.
    """

    def __init__(self, url: str, headers: dict[str, str], body: bytes = BODY_BYTES) -> None:
        self.port = int(url.rsplit(":", 1)[1])
        lines = {"Host": f"127.0.0.1:{self.port}", **headers}
        self.get_rest = "".join(f"{k}: {v}\r\n" for k, v in lines.items()).encode() + b"\r\n"
        lines |= {"Content-Type": "application/json", "Content-Length": str(len(body))}
        self.post_rest = "".join(f"{k}: {v}\r\n" for k, v in lines.items()).encode() + b"\r\n"
        self.post_rest += body
        self.stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str) -> tuple[int, bytes]:
        return await self.request("POST", path)

    async def get(self, path: str) -> tuple[int, bytes]:
        return await self.request("GET", path)

    async def request(self, method: str, path: str) -> tuple[int, bytes]:
        if self.stream is None:
            self.stream = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.stream
        rest = self.post_rest if method == "POST" else self.get_rest
        try:
            writer.write(f"{method} {path} HTTP/1.1\r\n".encode() + rest)
            head = await reader.readuntil(b"\r\n\r\n")
            length, close = 0, False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection":
                    close = value.strip().lower() == b"close"
                elif name == b"transfer-encoding":
                    raise ValueError("chunked response")
            body = await reader.readexactly(length)
        except BaseException:
            await self.aclose()
            raise
        if close:
            await self.aclose()
        return int(head[9:12]), body

    async def aclose(self) -> None:
        if self.stream is not None:
            self.stream[1].close()
            self.stream = None


def slug(name: str) -> str:
    return re.sub(r"\W+", "-", name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop the process and every process it started (a supervisor may exit on SIGTERM
    before its children do, uvicorn re-raises the signal after its own shutdown)."""
    children = descendants(process.pid)[1:]
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(pid) for pid in children):
        time.sleep(0.1)
    for pid in children:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    """Whether the process still runs (a zombie left for its parent to reap counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@contextlib.contextmanager
def serving(
    name: str,
    command: list[str],
    env: dict[str, str],
    cwd: Path,
    port: int | None = None,
    ready: tuple[str, int] | None = None,
) -> Iterator[Server]:
    """Run a server process until the block ends; yield once it answers HTTP (and, with
    ``ready`` = (text, count), once its output has said so that many times: several
    processes start one by one)."""
    port = port or free_port()
    log = cwd / f"{slug(name)}.log"
    command = [*command, "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    server = Server(name, process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"{name} exited at start:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise SystemExit(f"{name} did not answer within 60 s:\n{log.read_text()[-3000:]}")
            try:
                httpx.get(server.url + "/", timeout=1)  # any answer (even 404) means up
                break
            except httpx.TransportError:
                time.sleep(0.1)
        if ready is not None:
            wait_for_output(process, log, *ready, name)
        yield server
    finally:
        for extra in server.extra:
            stop_process(extra)
        stop_process(process)


def shown_path(path: Path) -> str:
    """A result file's path as the reports show it: relative to the project when inside."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def wait_for_output(
    process: subprocess.Popen[bytes],
    log: Path,
    text: str,
    count: int,
    name: str,
    seconds: float = 300,
) -> None:
    """Wait until ``text`` appears ``count`` times in the process's log (processes start
    slowly on a loaded machine: 20 s and more)."""
    deadline = time.monotonic() + seconds
    while log.read_text(errors="replace").count(text) < count:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited at start:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise SystemExit(f"{name} did not print {text!r} within {seconds:.0f} s")
        time.sleep(0.1)


def percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile in milliseconds of sorted seconds (0 for no samples)."""
    if not ordered:
        return 0.0
    return round(ordered[max(0, math.ceil(p * len(ordered)) - 1)] * 1000, 2)


def openlinq_cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [*OPENLINQ, *args],
        env={**env, "COLUMNS": "300", "PYTHONIOENCODING": "utf-8"},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"openlinq {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def sandbox_account(env: dict[str, str]) -> str:
    """The sandbox account's id, from ``openlinq accounts list``."""
    for row in openlinq_cli(env, "accounts", "list").splitlines():
        cells = [cell.strip() for cell in re.split(r"[│|┃]", row)]
        if len(cells) > 3 and cells[2] == "sandbox":
            return cells[1]
    raise SystemExit("no sandbox account in `openlinq accounts list`")


async def statuses(client: httpx.AsyncClient, chats: list[str]) -> dict[str, str]:
    """delivery_status of every message in the chats, by id (paged through the API)."""

    async def of_chat(chat: str) -> dict[str, str]:
        found: dict[str, str] = {}
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": 100}
            if cursor:
                params["cursor"] = cursor
            response = await client.get(f"{API}/chats/{chat}/messages", params=params)
            response.raise_for_status()
            page = response.json()
            found.update((m["id"], m["delivery_status"]) for m in page["messages"])
            cursor = page.get("next_cursor")
            if not cursor:
                return found

    merged: dict[str, str] = {}
    for part in await asyncio.gather(*(of_chat(chat) for chat in chats)):
        merged.update(part)
    return merged


async def verify(
    server: Server, headers: dict[str, str], chats: list[str], accepted: list[str], drain: float
) -> dict[str, Any]:
    """Every accepted message is readable; wait (bounded) for the worker to deliver them."""
    wanted = set(accepted)
    limits = httpx.Limits(max_connections=8)
    async with httpx.AsyncClient(
        base_url=server.url, headers=headers, limits=limits, timeout=30
    ) as client:
        started = time.perf_counter()
        seen = await statuses(client, chats)
        delivered_at_stop = sum(seen.get(i) in DELIVERED for i in wanted)
        while True:
            delivered = sum(seen.get(i) in DELIVERED for i in wanted)
            waited = time.perf_counter() - started
            if delivered == len(wanted) or waited > drain:
                break
            await asyncio.sleep(1)
            seen = await statuses(client, chats)
    missing = sorted(wanted - seen.keys())
    return {
        "accepted": len(wanted),
        "found": len(wanted) - len(missing),
        "missing": len(missing),
        "missing_ids": missing[:ERROR_SAMPLES],
        "delivered_when_load_stopped": delivered_at_stop,
        "delivered_at_end": delivered,
        "seconds_to_drain": round(waited, 1) if delivered == len(wanted) else None,
        "statuses": dict(Counter(seen[i] for i in wanted if i in seen)),
    }


def create_chats(
    server: Server, headers: dict[str, str], count: int
) -> tuple[list[str], list[str]]:
    """``count`` one-to-one chats from an iMessage line to plain iPhone numbers (+1628...),
    and the ids of their first messages."""
    with httpx.Client(base_url=server.url + API, headers=headers, timeout=30) as api:
        numbers = api.get("/phone_numbers").raise_for_status().json()["phone_numbers"]
        line = numbers[0]["phone_number"]
        chats: list[str] = []
        first_ids: list[str] = []
        for n in range(count):
            created = api.post(
                "/chats",
                json={"from": line, "to": [f"+1628{n:07d}"], **BODY},
            ).raise_for_status()
            chat = created.json()["chat"]
            chats.append(chat["id"])
            first_ids.append(chat["message"]["id"])
    return chats, first_ids


def machine(database_url: str | None) -> dict[str, Any]:
    """The machine, versions and commit a result was measured on."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        names = [
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    import openlinq

    package = Path(openlinq.__file__).resolve().parent
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql_url": database_url.split("@")[-1] if database_url else None,
        "git_commit": commit + ("+dirty src" if dirty else ""),
        # Where the measured openlinq came from (PYTHONPATH can point at another checkout).
        "openlinq_package": shown_path(package),
        "load_average_at_start": os.getloadavg()[0],
    }


def machine_line(host: dict[str, Any]) -> str:
    """The machine a report was measured on, as the first line a script prints."""
    return (
        f"[bold]{host['cpu']}[/], {host['cores']} cores, Python {host['python']}, "
        f"SQLite {host['sqlite']}, commit {host['git_commit'] or '?'}, "
        f"load average {host['load_average_at_start']:.2f} at start"
    )


def exit_status(results: Sequence[Any]) -> int:
    """1 when a row had errors, lost an accepted message or measured nothing, else 0."""
    failed = any(r.errors or (r.durability and r.durability["missing"]) for r in results)
    return 1 if failed or not all(r.requests for r in results) else 0


WRK_SCRIPT = BENCH / "wrk" / "roundrobin.lua"


@dataclass
class WrkRun:
    """One wrk run's figures (from bench/wrk/roundrobin.lua's summary) and wrk's CPU."""

    ok: int  # 2xx answers (wrk counts status >= 400 as errors)
    errors: dict[str, int]
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    cpu_seconds: float

    @property
    def per_second(self) -> float:
        return round(self.ok / self.seconds, 1) if self.seconds else 0.0


def run_wrk(
    wrk: str,
    url: str,
    paths: list[str],
    *,
    seconds: float,
    connections: int,
    threads: int = 1,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    ids_prefix: Path | None = None,
    workdir: Path,
) -> WrkRun:
    """wrk round-robin over ``paths`` (POST ``body`` when given, else GET); with
    ``ids_prefix`` the message id of every 2xx answer goes to ``<ids_prefix><thread>.txt``."""
    paths_file = workdir / "wrk-paths.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    body_file = workdir / "wrk-body.json"
    if body is not None:
        body_file.write_bytes(body)
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, math.ceil(seconds))}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(WRK_SCRIPT),
        *(x for name, value in (headers or {}).items() for x in ("-H", f"{name}: {value}")),
        url,
        "--",
        str(paths_file),
        "GET" if body is None else "POST",
        "" if body is None else str(body_file),
        str(ids_prefix) if ids_prefix else "",
    ]
    out = workdir / "wrk.out"
    with out.open("wb") as stdout:
        process = subprocess.Popen(command, stdout=stdout, stderr=subprocess.STDOUT)
        # wait4 gives the child's own CPU time (the load generator's cost).
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    text = out.read_text()
    for line in text.splitlines():
        if line.startswith("WRK_JSON "):
            summary = json.loads(line.removeprefix("WRK_JSON "))
            errors = {k: v for k, v in summary["errors"].items() if v}
            lat = summary["latency_us"]
            return WrkRun(
                ok=summary["requests"] - summary["errors"]["status"],
                errors=errors,
                seconds=round(summary["duration_us"] / 1e6, 2),
                p50_ms=round(lat["p50"] / 1000, 2),
                p90_ms=round(lat["p90"] / 1000, 2),
                p99_ms=round(lat["p99"] / 1000, 2),
                max_ms=round(lat["max"] / 1000, 2),
                cpu_seconds=usage.ru_utime + usage.ru_stime,
            )
    raise SystemExit(f"wrk gave no summary (exit {process.returncode}):\n{text[-3000:]}")


def read_ids(prefix: Path) -> list[str]:
    """The ids wrk recorded under ``prefix`` (the files are removed)."""
    found: list[str] = []
    for path in sorted(prefix.parent.glob(prefix.name + "*.txt")):
        found.extend(line for line in path.read_text().splitlines() if line)
        path.unlink()
    return found


def postgres_admin(url: str, *statements: str) -> None:
    """Run statements on the server of ``url`` (outside a transaction, as CREATE DATABASE
    needs), from a thread: the callers run inside the bench's event loop."""

    async def run() -> None:
        engine = create_async_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                for statement in statements:
                    await conn.execute(text(statement))
        finally:
            await engine.dispose()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


@contextlib.contextmanager
def fresh_database(url: str, name: str) -> Iterator[str]:
    """A new, empty database on the server of ``url`` for the block (runs never share one)."""
    postgres_admin(url, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        postgres_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
