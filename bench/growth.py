"""Does reading cost the same with 10 k and with 1 M stored messages?

Fills one database in steps (default 10 k, 100 k, 1 M messages) straight through the
store's tables (executemany, the columns the API writes), spread over --chats chats
with one chat holding --page-share of them. After each step it starts ``openlinq serve``
on that database (worker off: only the reads run) and measures through the API, with wrk:

  get   GET /api/partner/v3/messages/{id}, ids sampled from every message stored so far
  page  GET /api/partner/v3/chats/{id}/messages?limit=20 on the big chat (its newest page)

each at --connections (32) and at --low (1) connections: req/s, p50, p99. The aim: p50
and p99 at 1 M within 1.3x of 10 k. SQLite's EXPLAIN QUERY PLAN of the two reads and
their time run straight on the file go in the JSON too, bench/results/growth-<time>.json,
with the machine.

Run: .venv/bin/python bench/growth.py [--sizes 10000,100000,1000000] [--duration 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import random
import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchlib import (
    API,
    OPENLINQ,
    RESULTS,
    fresh_database,
    machine,
    machine_line,
    run_wrk,
    serving,
    shown_path,
)
from openlinq.config import Settings
from openlinq.domain.parts import build_content
from openlinq.store.tables import messages
from openlinq.wiring import build_services, start, stop

BATCH = 20_000
SAMPLE = 2_000  # message ids the get rows spread over
SENDER = "+12025550180"
# The reads as the message repo issues them (store/repos/messages.py: _BY_ID and page()).
PLANS = {
    "get": "SELECT * FROM messages WHERE account_id = ? AND id = ? AND deleted_at IS NULL",
    "page": "SELECT * FROM messages WHERE chat_id = ? AND deleted_at IS NULL "
    "ORDER BY seq DESC LIMIT 20",
}


class Filler:
    """Adds messages to the database straight through the store's tables."""

    def __init__(
        self, settings: Settings, chats: list[str], account_id: str, page_share: float
    ) -> None:
        self.settings = settings
        self.chats = chats
        self.account_id = account_id
        self.page_share = page_share
        self.count = 0
        self.big = 0  # messages in the big chat
        self.sample: list[str] = []
        self.rng = random.Random(13)
        self.base = datetime.now(UTC) - timedelta(days=30)

    def row(self, n: int) -> dict[str, Any]:
        message_id = str(uuid.uuid4())
        # Reservoir sampling: every message stored so far is equally likely to be read.
        if len(self.sample) < SAMPLE:
            self.sample.append(message_id)
        elif (slot := self.rng.randrange(n + 1)) < SAMPLE:
            self.sample[slot] = message_id
        at = self.base + timedelta(milliseconds=n)
        # The big chat (index 0) takes its share; the rest go round the other chats.
        big = self.rng.random() < self.page_share
        chat = self.chats[0] if big else self.chats[1 + n % (len(self.chats) - 1)]
        self.big += big
        return {
            "id": message_id,
            "account_id": self.account_id,
            "chat_id": chat,
            "direction": "outbound" if n % 3 else "inbound",
            "sender_handle": SENDER,
            "parts": [{"type": "text", "value": f"growth message {n}"}],
            "effect": None,
            "service": "iMessage",
            "delivery_status": "delivered",
            "request_hash": None,
            "created_at": at,
            "updated_at": at,
            "sent_at": at,
            "delivered_at": at,
            "extra": {},
        }

    async def fill_to(self, total: int) -> float:
        """Insert messages until ``total`` are stored; the seconds it took."""
        services = build_services(self.settings)
        started = time.perf_counter()
        await start(services)
        try:
            while self.count < total:
                rows = [self.row(n) for n in range(self.count, min(total, self.count + BATCH))]
                async with services.db.transaction() as conn:
                    await conn.execute(messages.insert(), rows)
                self.count += len(rows)
        finally:
            await stop(services)
        return time.perf_counter() - started


def sqlite_reads(filler: Filler, data_dir: Path) -> dict[str, Any]:
    """SQLite's plan for each read, and its time run straight on the file (no HTTP, no
    server: what the database itself adds as it grows). Empty on PostgreSQL."""
    db = data_dir / "openlinq.db"
    if filler.settings.database_url or not db.exists():
        return {}
    found: dict[str, Any] = {}
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        params: dict[str, list[tuple[str, ...]]] = {
            "get": [(filler.account_id, i) for i in filler.sample],
            "page": [(filler.chats[0],)] * len(filler.sample),
        }
        for name, sql in PLANS.items():
            plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params[name][0])]
            micros: list[float] = []
            gc.disable()  # the bench's own collections are not SQLite's time
            try:
                for values in params[name]:
                    started = time.perf_counter()
                    conn.execute(sql, values).fetchall()
                    micros.append((time.perf_counter() - started) * 1e6)
            finally:
                gc.enable()
            micros.sort()
            found[name] = {
                "plan": plan,
                "p50_us": round(micros[len(micros) // 2], 1),
                "p99_us": round(micros[math.ceil(0.99 * len(micros)) - 1], 1),
            }
    return found


def measure(
    url: str, headers: dict[str, str], paths: list[str], args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for label, connections in (("loaded", args.connections), ("low", args.low)):
        if args.warmup:
            run_wrk(
                args.wrk,
                url,
                paths,
                seconds=args.warmup,
                connections=connections,
                headers=headers,
                workdir=work,
            )
        run = run_wrk(
            args.wrk,
            url,
            paths,
            seconds=args.duration,
            connections=connections,
            headers=headers,
            workdir=work,
        )
        figures[label] = {
            "connections": connections,
            "per_second": run.per_second,
            "p50_ms": run.p50_ms,
            "p90_ms": run.p90_ms,
            "p99_ms": run.p99_ms,
            "errors": sum(run.errors.values()),
            "wrk_cpu_pct": round(100 * run.cpu_seconds / run.seconds, 1),
        }
    return figures


async def run(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="openlinq-bench-growth-"))
    key = "olq_bench_" + secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "OPENLINQ_DATA_DIR": str(work),
        "OPENLINQ_DEV_API_KEY": key,
        "OPENLINQ_CLOCK": "real",
        # Only the reads run: no deliveries of the chats' first messages, no sweeps.
        "OPENLINQ_RUN_WORKER": "false",
        "OPENLINQ_LOG_LEVEL": "warning",
    }
    headers = {"Authorization": f"Bearer {key}"}
    command = [*OPENLINQ, "serve", "--host", "127.0.0.1"]
    steps: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        database_url = None
        if args.database_url:
            database_url = stack.enter_context(
                fresh_database(args.database_url, "openlinq_bench_growth")
            )
            env["OPENLINQ_DATABASE_URL"] = database_url
        settings = Settings(data_dir=work, database_url=database_url, dev_api_key=key)
        account_id, chats = await sandbox_chats(settings, args.chats)
        filler = Filler(settings, chats, account_id, args.page_share)
        for size in args.sizes:
            seconds = await filler.fill_to(size)
            console.print(f"{filler.count:,} messages stored (+{seconds:.0f} s)")
            with serving("openlinq", command, env, work) as server:
                get = measure(
                    server.url,
                    headers,
                    [f"{API}/messages/{i}" for i in filler.sample],
                    args,
                    work,
                )
                page = measure(
                    server.url,
                    headers,
                    [f"{API}/chats/{chats[0]}/messages?limit=20"],
                    args,
                    work,
                )
            steps.append(
                {
                    "messages": filler.count,
                    "big_chat_messages": filler.big,
                    "fill_seconds": round(seconds, 1),
                    "get": get,
                    "page": page,
                    "sqlite": sqlite_reads(filler, work),
                }
            )
            console.print(
                f"  get p50 {get['loaded']['p50_ms']} / p99 {get['loaded']['p99_ms']} ms "
                f"(1 connection: {get['low']['p50_ms']} / {get['low']['p99_ms']} ms); "
                f"page p50 {page['loaded']['p50_ms']} / p99 {page['loaded']['p99_ms']} ms "
                f"(1 connection: {page['low']['p50_ms']} / {page['low']['p99_ms']} ms)"
            )
            for name, read in steps[-1]["sqlite"].items():
                console.print(
                    f"  SQLite alone, {name}: p50 {read['p50_us']} / p99 {read['p99_us']} µs; "
                    f"plan {read['plan']}"
                )
    return {"steps": steps}


async def sandbox_chats(settings: Settings, count: int) -> tuple[str, list[str]]:
    """The sandbox account's id and ``count`` new one-to-one chats in it, made through the
    domain as the API makes them (to plain iPhone numbers, +1628...)."""
    services = build_services(settings)
    sandbox = await start(services)
    try:
        if sandbox is None:
            raise SystemExit("no sandbox account")
        line = sandbox.lines[0].phone_number
        first = build_content({"parts": [{"type": "text", "value": "growth"}]})
        chats = [
            (
                await services.messaging.create_chat(
                    sandbox.account, line, [f"+1628{n:07d}"], first, f"growth-{n}"
                )
            ).chat.id
            for n in range(count)
        ]
    finally:
        await stop(services)
    return str(sandbox.account.id), [str(chat) for chat in chats]


def ratios(steps: list[dict[str, Any]]) -> dict[str, float]:
    """Each figure at the largest size over the same at the smallest (the aim: <= 1.3)."""
    first, last = steps[0], steps[-1]
    found: dict[str, float] = {}
    for row in ("get", "page"):
        for load in ("loaded", "low"):
            for figure in ("p50_ms", "p99_ms"):
                before = first[row][load][figure]
                if before:
                    found[f"{row} {load} {figure}"] = round(last[row][load][figure] / before, 2)
    return found


def show(console: Console, report: dict[str, Any]) -> None:
    host = report["machine"]
    s = report["settings"]
    console.print(machine_line(host))
    table = Table(
        title=f"wrk {s['duration']} s per figure, {s['connections']} and {s['low']} connections"
    )
    for column in ("messages", "row", "connections", "req/s", "p50 ms", "p99 ms", "errors"):
        table.add_column(column, justify="right")
    for step in report["steps"]:
        for row in ("get", "page"):
            for load in ("loaded", "low"):
                f = step[row][load]
                table.add_row(
                    f"{step['messages']:,}",
                    row,
                    str(f["connections"]),
                    f"{f['per_second']:.0f}",
                    f"{f['p50_ms']:.2f}",
                    f"{f['p99_ms']:.2f}",
                    f"[red]{f['errors']}[/]" if f["errors"] else "0",
                )
    console.print(table)
    over = {k: v for k, v in report["ratios"].items() if v > 1.3}
    console.print(f"largest / smallest: {report['ratios']}")
    if over:
        console.print(f"[yellow]over 1.3x:[/] {over}")
    console.print(f"aim: within 1.3x from the smallest to the largest size; JSON: {report['file']}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="10000,100000,1000000", help="stored messages at each step"
    )
    parser.add_argument("--chats", type=int, default=200, help="chats the messages spread over")
    parser.add_argument(
        "--page-share", type=float, default=0.1, help="share of the messages in the big chat"
    )
    parser.add_argument("--duration", type=int, default=5, help="wrk seconds per figure")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured wrk seconds first")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections, loaded")
    parser.add_argument("--low", type=int, default=1, help="wrk connections, low load")
    parser.add_argument(
        "--database-url",
        help="PostgreSQL instead of SQLite: a fresh database is made on this server (and dropped)",
    )
    parser.add_argument("--wrk", default=shutil.which("wrk") or "/usr/bin/wrk")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args()
    args.sizes = sorted(int(size) for size in args.sizes.split(","))
    if args.chats < 2 or not 0 < args.page_share < 1 or args.sizes[0] < 1:
        parser.error("--chats >= 2, 0 < --page-share < 1, sizes >= 1")
    if not Path(args.wrk).exists():
        parser.error(f"wrk not found at {args.wrk} (apt-get install wrk)")
    console = Console(width=None if sys.stdout.isatty() else 120)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    host = machine(args.database_url)
    report: dict[str, Any] = asyncio.run(run(args, console))
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / f"growth-{stamp}.json"
    settings = ("chats", "page_share", "duration", "warmup", "connections", "low", "sizes")
    report = {
        "bench": "growth",
        "machine": host,
        "database": "postgresql" if args.database_url else "sqlite",
        "settings": {k: getattr(args, k) for k in settings},
        **report,
        "ratios": ratios(report["steps"]),
        "file": shown_path(path),
    }
    path.write_text(json.dumps(report, indent=2) + "\n")
    show(console, report)
    errors = any(
        step[r][x]["errors"]
        for step in report["steps"]
        for r in ("get", "page")
        for x in ("loaded", "low")
    )
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
