"""The server's idle resident memory: fresh, restarted, and with a large database.

Starts ``python -m openlinq serve`` as a real process (SQLite, real clock, worker
on) and reads its memory from /proc/PID/status once it has answered /health and
sat idle for --idle seconds (the last of several samples a second apart):

  fresh      a fresh data dir: the first start, which creates the database
  restarted  the same data dir started again (the schema is already at head)
  filled     after --chats chats (default 10,000) and --messages messages
             (default 1,000,000) were written straight into the SQLite file
  read       the filled server after a few API reads (chat list pages, message
             pages, single messages), which warm SQLite's page cache

The fill copies a chat and a message the API created (so every stored format is
the server's own) with executemany, --messages / --chats messages per chat. Prints
VmRSS, VmHWM, RssAnon and RssFile in MiB with the machine, and writes JSON to
bench/results/memory-<UTC time>.json. Exits 1 if filled idle RSS is 20 MiB or more
above restarted idle RSS (aim 4 of issue #13) or a request failed.

Run: .venv/bin/python bench/memory.py [--chats 10000] [--messages 1000000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchlib import machine

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
KEY = "olq_bench_memory_key_0123456789abcdef"
LINE = "+12025550180"  # the sandbox account's first line
FIELDS = ("VmRSS", "VmHWM", "RssAnon", "RssFile")
FILL_BATCH = 20_000
# The aim: a large database changes idle memory by less than this.
GROWTH_LIMIT_MIB = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def memory_mib(pid: int) -> dict[str, float]:
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in FIELDS:
            values[name] = round(int(rest.split()[0]) / 1024, 1)
    return values


@contextlib.contextmanager
def serving(data_dir: Path, log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``openlinq serve`` on ``data_dir`` until the block ends; yields once /health answers."""
    port = free_port()
    env = {
        **os.environ,
        "OPENLINQ_DATA_DIR": str(data_dir),
        "OPENLINQ_PORT": str(port),
        "OPENLINQ_DEV_API_KEY": KEY,
        "OPENLINQ_LOG_LEVEL": "warning",
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "openlinq", "serve"], env=env, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the server exited at start:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise SystemExit("the server did not answer /health within 120 s")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.1)
        yield process, base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def idle_memory(pid: int, idle: float) -> dict[str, float]:
    """Memory after ``idle`` seconds without requests (sampled each second, the last kept)."""
    ends = time.monotonic() + idle
    sample = memory_mib(pid)
    while time.monotonic() < ends:
        time.sleep(min(1.0, max(0.0, ends - time.monotonic())))
        sample = memory_mib(pid)
    return sample


def api(base: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{base}/api/partner/v3", headers={"Authorization": f"Bearer {KEY}"}, timeout=60
    )


def seed(base: str) -> None:
    """One chat with one message through the API: the rows the fill copies."""
    with api(base) as client:
        created = client.post(
            "/chats",
            json={
                "from": LINE,
                "to": ["+16285550100"],
                "message": {"parts": [{"type": "text", "value": "seed"}]},
            },
        )
        created.raise_for_status()


def fill(database: Path, chats: int, messages: int) -> float:
    """Copy the seeded chat and message into ``chats`` chats holding ``messages`` in all."""
    started = time.perf_counter()
    db = sqlite3.connect(database)
    db.row_factory = sqlite3.Row
    try:
        chat = dict(db.execute("SELECT * FROM chats ORDER BY seq LIMIT 1").fetchone())
        handles = [
            dict(r)
            for r in db.execute("SELECT * FROM chat_handles WHERE chat_id = ?", [chat["id"]])
        ]
        message = dict(
            db.execute("SELECT * FROM messages WHERE chat_id = ? LIMIT 1", [chat["id"]]).fetchone()
        )
        chat_ids: list[str] = []
        with db:
            for n in range(chats):
                chat_id = str(uuid.uuid4())
                chat_ids.append(chat_id)
                recipient = f"+1628{n:07d}"
                _insert(
                    db,
                    "chats",
                    [{**chat, "seq": None, "id": chat_id, "recipient_key": recipient}],
                )
                _insert(
                    db,
                    "chat_handles",
                    [
                        {
                            **h,
                            "id": str(uuid.uuid4()),
                            "chat_id": chat_id,
                            "handle": h["handle"] if h["is_me"] else recipient,
                        }
                        for h in handles
                    ],
                )
        for first in range(0, messages, FILL_BATCH):
            rows = [
                {
                    **message,
                    "seq": None,
                    "id": str(uuid.uuid4()),
                    "chat_id": chat_ids[n % len(chat_ids)],
                    "parts": json.dumps([{"type": "text", "value": f"message {n}"}]),
                }
                for n in range(first, min(first + FILL_BATCH, messages))
            ]
            with db:
                _insert(db, "messages", rows)
    finally:
        db.close()
    return time.perf_counter() - started


def _insert(db: sqlite3.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    db.executemany(sql, [[row[c] for c in columns] for row in rows])


def read_some(base: str) -> int:
    """A few reads of the kind a client makes: list pages, message pages, single messages."""
    done = 0
    with api(base) as client:
        page = client.get("/chats", params={"from": LINE, "limit": 20})
        page.raise_for_status()
        chats = [c["id"] for c in page.json()["chats"]]
        done += 1
        for chat_id in chats:
            listed = client.get(f"/chats/{chat_id}/messages", params={"limit": 20})
            listed.raise_for_status()
            done += 1
            for message in listed.json()["messages"][:3]:
                client.get(f"/messages/{message['id']}").raise_for_status()
                done += 1
    return done


def run(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {"settings": vars(args), "machine": machine(None), "memory_mib": {}}
    memory = report["memory_mib"]
    with tempfile.TemporaryDirectory(prefix="openlinq-memory-") as tmp:
        data_dir = Path(tmp) / "data"
        log = Path(tmp) / "server.log"
        with serving(data_dir, log) as (process, base):
            memory["fresh"] = idle_memory(process.pid, args.idle)
            seed(base)
        with serving(data_dir, log) as (process, base):
            memory["restarted"] = idle_memory(process.pid, args.idle)
        if args.messages:
            database = data_dir / "openlinq.db"
            report["fill_seconds"] = round(fill(database, args.chats, args.messages), 1)
            report["database_mib"] = round(database.stat().st_size / 2**20, 1)
            with serving(data_dir, log) as (process, base):
                memory["filled"] = idle_memory(process.pid, args.idle)
                report["reads"] = read_some(base)
                memory["read"] = idle_memory(process.pid, args.idle)
            report["filled_growth_mib"] = round(
                memory["filled"]["VmRSS"] - memory["restarted"]["VmRSS"], 1
            )
    return report


def show(report: dict[str, Any]) -> None:
    host = report["machine"]
    print(
        f"{host['cpu']}, {host['cores']} cores, {host['os']}, Python {host['python']}, "
        f"SQLite {host['sqlite']}, commit {host['git_commit']}, "
        f"load {host['load_average_at_start']:.1f}"
    )
    print(f"{'idle server':<12}" + "".join(f"{f + ' MiB':>14}" for f in FIELDS))
    for name, values in report["memory_mib"].items():
        print(f"{name:<12}" + "".join(f"{values.get(f, 0):>14.1f}" for f in FIELDS))
    if "filled_growth_mib" in report:
        print(
            f"fill: {report['settings']['chats']:,} chats, {report['settings']['messages']:,} "
            f"messages in {report['fill_seconds']} s ({report['database_mib']} MiB file); "
            f"idle VmRSS filled - restarted = {report['filled_growth_mib']} MiB "
            f"(aim < {GROWTH_LIMIT_MIB:.0f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chats", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=1_000_000, help="0 skips the fill")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds idle before reading")
    args = parser.parse_args()
    report = run(args)
    show(report)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"memory-{stamp}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results: {path.relative_to(ROOT)}")
    if report.get("filled_growth_mib", 0.0) >= GROWTH_LIMIT_MIB:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
