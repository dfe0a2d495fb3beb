"""The API's three hot routes under wrk, next to a bare FastAPI app, in one run.

Targets, each a real server process (or several) on loopback, one after another:

  bare      a FastAPI app with the same three routes that does no work: the POST
            parses the same JSON body into a pydantic model, the GETs answer a
            message / a 20-message page of the same shape from a constant
  openlinq  ``openlinq serve`` on a fresh SQLite data dir (real clock, background
            worker on); --no-worker turns the worker off, --workers K runs K
            dedicated ``openlinq worker`` processes instead, --database-url runs
            on PostgreSQL (a fresh database created next to the given one)

Rows, in this order on each target (wrk -t1 -c32 by default, after a warm-up run):

  send      POST /api/partner/v3/chats/{id}/messages, round-robin over --chats chats;
            each 202 means the message and its delivery job are committed
  get       GET /api/partner/v3/messages/{id}, round-robin over the sent messages
  page      GET /api/partner/v3/chats/{id}/messages?limit=20, round-robin over the chats

For each row: req/s, p50/p90/p99 (wrk's --latency histogram), the server's and wrk's
CPU (from /proc, in % of one core) and the ratio to bare. On openlinq each row is then
offered half of its own peak rate by an open-loop generator (requests start on a fixed
schedule whatever the answers; latency is measured from the scheduled start), whose CPU
is reported too. After the send row every accepted message id (wrk records them) is
looked up through the API: none may be missing.

--processes N runs N API processes (bare: uvicorn --workers N; openlinq: serve --workers N);
--scale runs the curve 1, 2, 4 API processes x 1, 2 dedicated workers on --database-url.
Writes bench/results/api-<time>.json with the machine; exits 1 if a request failed or an
accepted message is missing.

Run: .venv/bin/python bench/api.py [--duration 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchlib import (
    API,
    BODY_BYTES,
    OPENLINQ,
    PAIR_LIMIT,
    REQUEST_TIMEOUT,
    RESULTS,
    RawHttp,
    Server,
    WrkRun,
    create_chats,
    exit_status,
    fresh_database,
    machine,
    machine_line,
    openlinq_cli,
    percentile,
    read_ids,
    run_wrk,
    sandbox_account,
    serving,
    shown_path,
    slug,
    verify,
    wait_for_output,
)

ROWS = ("send", "get", "page")
PAGE = 20
# GET rows spread over at most this many message ids.
GET_IDS = 2_000
# A message as openlinq answers it, for the bare app's constant answers.
MESSAGE: dict[str, Any] = {
    "id": "fce9d070-5d12-456c-94e0-0c6e37306377",
    "chat_id": "7bddab10-08e4-4b4e-b9cd-05c1c8d10910",
    "created_at": "2026-12-02T00:08:06.445038Z",
    "updated_at": "2026-12-02T00:08:06.516174Z",
    "delivery_status": "delivered",
    "is_delivered": True,
    "is_from_me": True,
    "is_read": False,
    "delivered_at": "2026-12-02T00:08:06.516159Z",
    "read_at": None,
    "sent_at": "2026-12-02T00:08:06.492397Z",
    "effect": None,
    "from": "+12025550180",
    "from_handle": {
        "id": "9b285d45-f6b4-4a32-aabe-d44787a0bb3e",
        "handle": "+12025550180",
        "joined_at": "2026-12-02T00:08:06.017889Z",
        "service": "iMessage",
        "is_me": True,
        "left_at": None,
        "line_type": "iMessage",
        "status": "active",
    },
    "parts": [
        {
            "type": "text",
            "value": "benchmark message",
            "reactions": [],
            "inline_stickers": None,
            "mention": None,
            "mention_range": None,
            "mentions": None,
            "text_decorations": None,
        }
    ],
    "preferred_service": None,
    "reply_to": None,
    "service": "iMessage",
}

BARE_APP = f"""
import contextlib
import socket
import subprocess
import sys
import uuid

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

MESSAGE = {MESSAGE!r}


class Part(BaseModel):
    type: str
    value: str


class Message(BaseModel):
    parts: list[Part]


class Body(BaseModel):
    message: Message


@contextlib.asynccontextmanager
async def lifespan(app):
    print("bare process ready", flush=True)
    yield


app = FastAPI(lifespan=lifespan)


@app.post("{API}/chats/{{chat_id}}/messages", status_code=202)
async def send(chat_id: str, body: Body) -> dict[str, object]:
    return {{"chat_id": chat_id, "message": {{**MESSAGE, "id": str(uuid.uuid4())}}}}


@app.get("{API}/messages/{{message_id}}")
async def get_message(message_id: str) -> dict[str, object]:
    return {{**MESSAGE, "id": message_id}}


@app.get("{API}/chats/{{chat_id}}/messages")
async def page(chat_id: str, limit: int = 20) -> dict[str, object]:
    return {{"messages": [{{**MESSAGE, "chat_id": chat_id}}] * limit, "next_cursor": "x"}}


if __name__ == "__main__":
    # As `openlinq serve --workers N` does: each process has its own SO_REUSEPORT socket
    # (made as TCP, so asyncio turns Nagle off), and the kernel spreads connections.
    port = int(sys.argv[sys.argv.index("--port") + 1])
    processes = int(sys.argv[sys.argv.index("--processes") + 1])
    children = [
        subprocess.Popen([sys.executable, __file__, "--port", str(port), "--processes", "1"])
        for _ in range(processes - 1)
    ]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        for child in children:
            child.terminate()
            child.wait()
"""


@dataclass
class Target:
    name: str
    kind: str  # "bare" or "openlinq"
    processes: int = 1
    database: str | None = None  # "sqlite" or "postgresql" (openlinq)
    worker: str | None = None  # "in-process", "off" or "K dedicated" (openlinq)
    dedicated_workers: int = 0


@dataclass
class RowResult:
    target: str
    kind: str
    processes: int
    database: str | None
    worker: str | None
    row: str
    requests: int
    errors: int
    seconds: float
    per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    server_cpu_pct: float  # the API processes, in % of one core, while measuring
    worker_cpu_pct: float  # dedicated worker processes (0 without them)
    wrk_cpu_pct: float
    error_kinds: dict[str, int] = field(default_factory=dict)
    ratio_to_bare: float | None = None
    open_loop: dict[str, Any] | None = None
    durability: dict[str, Any] | None = None


@dataclass
class Load:
    """What a target's rows send: paths per row, headers, and the ids seen so far."""

    headers: dict[str, str]
    chats: list[str]
    accepted: list[str]

    def paths(self, row: str) -> list[str]:
        if row == "send":
            return [f"{API}/chats/{chat}/messages" for chat in self.chats]
        if row == "get":
            step = max(1, len(self.accepted) // GET_IDS)
            return [f"{API}/messages/{i}" for i in self.accepted[::step][:GET_IDS]]
        return [f"{API}/chats/{chat}/messages?limit={PAGE}" for chat in self.chats]


async def open_loop(
    server: Server, load: Load, row: str, rate: float, seconds: float, ids: list[str] | None
) -> dict[str, Any]:
    """Requests started on a fixed schedule (``rate`` a second), whatever the answers: the
    latency of each counts from its scheduled start, so a stalled server shows in it."""
    paths = load.paths(row)
    method = "POST" if row == "send" else "GET"
    idle = [RawHttp(server.url, load.headers) for _ in range(8)]
    latencies: list[float] = []
    errors: list[str] = []
    lag = 0.0
    opened = len(idle)

    async def one(n: int, at: float) -> None:
        nonlocal opened
        if idle:
            connection = idle.pop()
        else:
            connection = RawHttp(server.url, load.headers)
            opened += 1
        try:
            status, body = await asyncio.wait_for(
                connection.request(method, paths[n % len(paths)]), REQUEST_TIMEOUT
            )
        except (OSError, EOFError, ValueError, asyncio.IncompleteReadError) as error:
            # TimeoutError is an OSError: a request that never ends counts as failed.
            errors.append(type(error).__name__)
            return
        if 200 <= status < 300:
            latencies.append(time.perf_counter() - at)
            if ids is not None:
                ids.append(json.loads(body)["message"]["id"])
        else:
            errors.append(f"HTTP {status}")
        idle.append(connection)

    count = max(1, round(rate * seconds))
    cpu = time.process_time()
    server_cpu = server.cpu_seconds()
    start = time.perf_counter() + 0.05
    tasks: list[asyncio.Task[None]] = []
    for n in range(count):
        at = start + n / rate
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lag = max(lag, time.perf_counter() - at)
        tasks.append(asyncio.create_task(one(n, at)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    server_cpu = server.cpu_seconds() - server_cpu
    for connection in idle:
        await connection.aclose()
    latencies.sort()
    return {
        "offered_per_second": round(rate, 1),
        "requests": len(latencies),
        "errors": len(errors),
        "achieved_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": percentile(latencies, 1.0),
        "server_cpu_pct": round(100 * server_cpu / elapsed, 1),
        "generator_cpu_pct": round(100 * cpu / elapsed, 1),
        # How late the generator started its most late request: a large figure means
        # the generator, not the server, fell behind.
        "max_start_lag_ms": round(lag * 1000, 1),
        "connections": opened,
    }


async def measure_row(
    target: Target,
    server: Server,
    load: Load,
    row: str,
    args: argparse.Namespace,
    workdir: Path,
) -> RowResult:
    ids_prefix = workdir / f"ids-{slug(target.name)}-" if row == "send" else None

    def wrk(seconds: float) -> WrkRun:
        return run_wrk(
            args.wrk,
            server.url,
            load.paths(row),
            seconds=seconds,
            connections=args.connections,
            threads=args.threads,
            headers=load.headers,
            body=BODY_BYTES if row == "send" else None,
            ids_prefix=ids_prefix,
            workdir=workdir,
        )

    if args.warmup > 0:
        wrk(args.warmup)
    cpu, worker_cpu = server.cpu_seconds(), server.extra_cpu_seconds()
    run = wrk(args.duration)
    cpu = server.cpu_seconds() - cpu
    worker_cpu = server.extra_cpu_seconds() - worker_cpu
    result = RowResult(
        target=target.name,
        kind=target.kind,
        processes=target.processes,
        database=target.database,
        worker=target.worker,
        row=row,
        requests=run.ok,
        errors=sum(run.errors.values()),
        seconds=run.seconds,
        per_second=run.per_second,
        p50_ms=run.p50_ms,
        p90_ms=run.p90_ms,
        p99_ms=run.p99_ms,
        max_ms=run.max_ms,
        server_cpu_pct=round(100 * cpu / run.seconds, 1),
        worker_cpu_pct=round(100 * worker_cpu / run.seconds, 1),
        wrk_cpu_pct=round(100 * run.cpu_seconds / run.seconds, 1),
        error_kinds=run.errors,
    )
    if ids_prefix is not None:
        load.accepted.extend(read_ids(ids_prefix))
    if target.kind == "openlinq" and args.open_loop > 0 and result.per_second > 0:
        ids = load.accepted if row == "send" else None
        rate = result.per_second / 2
        result.open_loop = await open_loop(server, load, row, rate, args.open_loop, ids)
        result.errors += result.open_loop["errors"]
    if target.kind == "openlinq" and row == "send":
        drain = args.drain if target.worker != "off" else 0.0
        result.durability = await verify(server, load.headers, load.chats, load.accepted, drain)
    return result


def openlinq_supports_workers() -> bool:
    done = subprocess.run(
        [*OPENLINQ, "serve", "--help"],
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=False,
    )
    return "--workers" in done.stdout


@contextlib.contextmanager
def start(target: Target, args: argparse.Namespace, workdir: Path) -> Iterator[tuple[Server, Load]]:
    """The target's servers, running, and what its rows will send."""
    here = workdir / slug(target.name)
    here.mkdir()
    if target.kind == "bare":
        (here / "bare_app.py").write_text(BARE_APP)
        command = [sys.executable, "bare_app.py", "--processes", str(target.processes)]
        headers = {"Authorization": "Bearer olq_bench_bare"}
        ready = ("bare process ready", target.processes)
        with serving(target.name, command, dict(os.environ), here, ready=ready) as server:
            chats = [str(uuid.uuid4()) for _ in range(args.chats)]
            yield server, Load(headers, chats, [str(uuid.uuid4()) for _ in range(GET_IDS)])
        return
    key = "olq_bench_" + secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "OPENLINQ_DATA_DIR": str(here),
        "OPENLINQ_DEV_API_KEY": key,
        "OPENLINQ_CLOCK": "real",
        "OPENLINQ_RUN_WORKER": str(target.worker == "in-process").lower(),
        "OPENLINQ_LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",  # the banner and worker lines reach the logs at once
    }
    stack = contextlib.ExitStack()
    if target.database == "postgresql":
        name = f"openlinq_bench_{slug(target.name).strip('-').replace('-', '_')}".lower()
        env["OPENLINQ_DATABASE_URL"] = stack.enter_context(fresh_database(args.database_url, name))
    command = [*OPENLINQ, "serve", "--host", "127.0.0.1"]
    if target.processes > 1:
        command += ["--workers", str(target.processes)]
    headers = {"Authorization": f"Bearer {key}"}
    # `serve --workers N` prints "processes: N API" once every process answers.
    several: tuple[str, int] | None = ("processes:", 1) if target.processes > 1 else None
    with stack, serving(target.name, command, env, here, ready=several) as server:
        for n in range(target.dedicated_workers):
            log = here / f"worker-{n}.log"
            with log.open("wb") as out:
                worker = subprocess.Popen(
                    [*OPENLINQ, "worker"], env=env, cwd=here, stdout=out, stderr=out
                )
            server.extra.append(worker)
            wait_for_output(worker, log, "running", 1, f"worker {n}")
        openlinq_cli(
            env, "accounts", "policy", sandbox_account(env), "--pair-limit", str(PAIR_LIMIT)
        )
        chats, first_ids = create_chats(server, headers, args.chats)
        yield server, Load(headers, chats, first_ids)


async def bench_target(
    target: Target, args: argparse.Namespace, workdir: Path, console: Console
) -> list[RowResult]:
    console.print(f"[bold]{target.name}[/] ...")
    results: list[RowResult] = []
    with start(target, args, workdir) as (server, load):
        for row in args.rows:
            results.append(await measure_row(target, server, load, row, args, workdir))
            r = results[-1]
            console.print(
                f"  {row}: {r.per_second:.0f} req/s, p50 {r.p50_ms} ms, p99 {r.p99_ms} ms, "
                f"server CPU {r.server_cpu_pct:.0f} %, wrk CPU {r.wrk_cpu_pct:.0f} %"
            )
    return results


def targets(args: argparse.Namespace) -> tuple[list[Target], dict[str, str]]:
    """The targets of this run, and the ones skipped (with why)."""
    if args.scale:
        found: list[Target] = []
        for n in (1, 2, 4):
            found.append(Target(f"bare x{n}", "bare", processes=n))
            for k in (1, 2):
                found.append(
                    Target(
                        f"openlinq postgresql x{n} + {k} worker{'s' * (k > 1)}",
                        "openlinq",
                        processes=n,
                        database="postgresql",
                        worker=f"{k} dedicated",
                        dedicated_workers=k,
                    )
                )
    else:
        n = args.processes
        suffix = f" x{n}" if n > 1 else ""
        if args.workers:
            worker = f"{args.workers} dedicated"
        else:
            worker = "off" if args.no_worker else "in-process"
        found = [Target("bare" + suffix, "bare", processes=n)]
        databases = ["postgresql"] if args.database_url and args.postgres_only else ["sqlite"]
        if args.database_url and not args.postgres_only:
            databases.append("postgresql")
        for database in databases:
            label = f"openlinq {database}{suffix}"
            if worker == "off":
                label += ", no worker"
            elif args.workers:
                label += f" + {args.workers} worker{'s' * (args.workers > 1)}"
            found.append(
                Target(label, "openlinq", n, database, worker, dedicated_workers=args.workers)
            )
    skipped: dict[str, str] = {}
    several = [t for t in found if t.kind == "openlinq" and t.processes > 1]
    workers_flag = bool(several) and openlinq_supports_workers()
    for t in several:
        if not workers_flag:
            skipped[t.name] = "`openlinq serve` has no --workers option yet"
        elif t.database == "sqlite":
            skipped[t.name] = "several API processes need PostgreSQL (--database-url)"
    return [t for t in found if t.name not in skipped], skipped


def show(console: Console, report: dict[str, Any], results: list[RowResult]) -> None:
    host = report["machine"]
    s = report["settings"]
    console.print(machine_line(host))
    table = Table(
        title=f"wrk -t{s['threads']} -c{s['connections']}, {s['duration']} s after "
        f"{s['warmup']} s warm-up; open loop at half the peak for {s['open_loop']} s"
    )
    columns = ["target", "row", "req/s", "p50", "p90", "p99 ms", "errors", "server CPU"]
    columns += ["wrk CPU", "ratio", "½ peak: req/s", "p50", "p99 ms", "gen CPU"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("target", "row") else "right")
    for r in results:
        o = r.open_loop
        table.add_row(
            r.target,
            r.row,
            f"{r.per_second:.0f}",
            f"{r.p50_ms:.1f}",
            f"{r.p90_ms:.1f}",
            f"{r.p99_ms:.1f}",
            f"[red]{r.errors}[/]" if r.errors else "0",
            f"{r.server_cpu_pct + r.worker_cpu_pct:.0f} %",
            f"{r.wrk_cpu_pct:.0f} %",
            "" if r.ratio_to_bare is None else f"{r.ratio_to_bare:.1%}",
            "" if o is None else f"{o['achieved_per_second']:.0f}",
            "" if o is None else f"{o['p50_ms']:.1f}",
            "" if o is None else f"{o['p99_ms']:.1f}",
            "" if o is None else f"{o['generator_cpu_pct']:.0f} %",
        )
    console.print(table)
    for r in results:
        d = r.durability
        if d is None:
            continue
        missing = f"[red]{d['missing']} missing[/]" if d["missing"] else "0 missing"
        drained = (
            f"all delivered {d['seconds_to_drain']} s after the load stopped"
            if d["seconds_to_drain"] is not None
            else f"{d['delivered_at_end']} delivered at the end"
        )
        console.print(
            f"{r.target} durability: {d['accepted']} accepted, {d['found']} found via the API, "
            f"{missing}; {drained}"
        )
    for name, why in report["skipped"].items():
        console.print(f"[yellow]skipped {name}[/]: {why}")
    console.print(
        "aims: send >= 25 %, get and page >= 50 % of bare; p99 <= 10 ms at half the peak. "
        f"JSON: {report['file']}"
    )


async def run(args: argparse.Namespace) -> int:
    console = Console(width=None if sys.stdout.isatty() else 160)
    chosen, skipped = targets(args)
    results: list[RowResult] = []
    with tempfile.TemporaryDirectory(prefix="openlinq-bench-api-") as tmp:
        for target in chosen:
            results.extend(await bench_target(target, args, Path(tmp), console))
    bare = {(r.processes, r.row): r.per_second for r in results if r.kind == "bare"}
    for r in results:
        base = bare.get((r.processes, r.row))
        if r.kind == "openlinq" and base:
            r.ratio_to_bare = round(r.per_second / base, 3)
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / f"api-{args.stamp}{'-scale' if args.scale else ''}.json"
    settings = ("duration", "warmup", "threads", "connections", "chats", "open_loop", "drain")
    report: dict[str, Any] = {
        "bench": "api",
        "machine": machine(args.database_url),
        "settings": {k: getattr(args, k) for k in settings} | {"scale": args.scale},
        "results": [asdict(r) for r in results],
        "skipped": skipped,
        "file": shown_path(path),
    }
    path.write_text(json.dumps(report, indent=2) + "\n")
    show(console, report, results)
    return exit_status(results)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="measured seconds per row")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured wrk seconds first")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (-t)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (-c)")
    parser.add_argument("--chats", type=int, default=64, help="chats the rows spread over")
    parser.add_argument(
        "--open-loop",
        type=float,
        default=5.0,
        help="seconds at half the peak rate per openlinq row (0: skip)",
    )
    parser.add_argument(
        "--rows", default=",".join(ROWS), help=f"comma-separated subset of {','.join(ROWS)}"
    )
    parser.add_argument("--no-worker", action="store_true", help="openlinq's worker off")
    parser.add_argument(
        "--workers", type=int, default=0, help="dedicated `openlinq worker` processes"
    )
    parser.add_argument("--processes", type=int, default=1, help="API processes per target")
    parser.add_argument("--database-url", help="also bench openlinq on this PostgreSQL server")
    parser.add_argument(
        "--postgres-only", action="store_true", help="with --database-url: skip SQLite"
    )
    parser.add_argument(
        "--scale",
        action="store_true",
        help="1, 2, 4 API processes x 1, 2 workers on --database-url (bare with the same N)",
    )
    parser.add_argument(
        "--drain", type=float, default=60.0, help="seconds to wait for deliveries after sends"
    )
    parser.add_argument("--wrk", default=shutil.which("wrk") or "/usr/bin/wrk")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args()
    args.rows = [row.strip() for row in args.rows.split(",") if row.strip()]
    if not set(args.rows) <= set(ROWS) or not args.rows:
        parser.error(f"--rows: a subset of {','.join(ROWS)}")
    if args.scale and not args.database_url:
        parser.error("--scale needs --database-url (several processes share PostgreSQL)")
    if args.duration < 1 or args.warmup < 0 or args.connections < args.threads:
        parser.error("--duration >= 1, --warmup >= 0, --connections >= --threads")
    if not Path(args.wrk).exists():
        parser.error(f"wrk not found at {args.wrk} (apt-get install wrk)")
    args.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
