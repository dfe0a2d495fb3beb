"""Sustained durable sends through the HTTP API, next to a bare FastAPI endpoint.

Starts each target as a real server process on loopback, one at a time, and
gives it the same closed-loop load: --concurrency keep-alive connections, each
sending its next request when the last one answered, for --duration seconds
after --warmup seconds (only requests started in that window are counted).

  bare        a FastAPI app with one POST endpoint that parses the same small
              JSON body with a pydantic model and answers 202 with a small JSON body
  sqlite      ``openlinq serve`` on a fresh data dir (real clock, background
              worker on, so delivery runs alongside as in production); every
              request is POST /api/partner/v3/chats/{id}/messages into one of
              --chats chats to plain iPhone numbers, and its 202 means the message
              and its delivery job are committed
  sqlite, no worker
              with --api-only: the same with the worker off (the send path alone)
  postgres    the same as sqlite on --database-url, when given

Both kinds run under uvicorn with the same settings (one process, default loop
and HTTP implementation, access log off). The load generator is a hand-written
HTTP/1.1 client (--client httpx for httpx.AsyncClient, which costs enough CPU to
cap the bare endpoint's figure on a small machine). After each openlinq run every
accepted message id is looked up through the API (none may be missing) and the
worker is given up to --drain seconds to deliver them all. Prints req/s,
p50/p90/p99/max latency, errors, CPU use and openlinq/bare ratios with the
machine, and writes the same as JSON to bench/results/sends-<time>.json. Exits 1
if a request failed or an accepted message is missing.

Run: .venv/bin/python bench/sends.py [--duration 10] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx
from rich.console import Console
from rich.table import Table

from benchlib import (
    API,
    BIN,
    BODY_BYTES,
    ERROR_SAMPLES,
    OPENLINQ,
    PAIR_LIMIT,
    REQUEST_TIMEOUT,
    RESULTS,
    ROOT,
    UVICORN_FLAGS,
    RawHttp,
    Server,
    create_chats,
    exit_status,
    machine,
    machine_line,
    openlinq_cli,
    percentile,
    sandbox_account,
    serving,
    slug,
    verify,
)

BARE_APP = """
import uuid

from fastapi import FastAPI
from pydantic import BaseModel


class Part(BaseModel):
    type: str
    value: str


class Message(BaseModel):
    parts: list[Part]


class Body(BaseModel):
    message: Message


app = FastAPI()


@app.post("/chats/{chat_id}/messages", status_code=202)
async def send(chat_id: str, body: Body) -> dict[str, object]:
    return {"chat_id": chat_id, "message": {"id": str(uuid.uuid4()), "status": "queued"}}
"""


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    server_cpu_pct: float  # of one core, while measuring
    client_cpu_pct: float  # this script (the load generator)
    error_kinds: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    ratio_to_bare: float | None = None
    worker: bool | None = None  # openlinq's background worker (None: the bare app)
    durability: dict[str, Any] | None = None


@dataclass
class Sample:
    latency: float
    error: str | None
    message_id: str | None


class Poster(Protocol):
    async def post(self, path: str) -> tuple[int, bytes]: ...

    async def aclose(self) -> None: ...


class HttpxPoster:
    """--client httpx: the same requests through one shared httpx.AsyncClient."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(self, path: str) -> tuple[int, bytes]:
        response = await self.client.post(
            path, content=BODY_BYTES, headers={"Content-Type": "application/json"}
        )
        return response.status_code, response.content

    async def aclose(self) -> None:
        return None


async def drive(
    posters: list[Poster], paths: list[str], seconds: float, max_requests: int, ids: bool
) -> list[Sample]:
    """Closed loop: each connection sends its next request when the last one answers,
    spreading requests over ``paths``; stops starting requests after ``seconds``."""
    samples: list[Sample] = []
    until = time.perf_counter() + seconds

    async def connection(index: int, poster: Poster) -> None:
        n = index
        while time.perf_counter() < until and len(samples) < max_requests:
            path = paths[n % len(paths)]
            n += len(posters)
            started = time.perf_counter()
            try:
                status, body = await asyncio.wait_for(poster.post(path), REQUEST_TIMEOUT)
            except (OSError, EOFError, ValueError, asyncio.LimitOverrunError) as error:
                samples.append(Sample(time.perf_counter() - started, type(error).__name__, None))
                continue
            except httpx.HTTPError as error:
                samples.append(Sample(time.perf_counter() - started, type(error).__name__, None))
                continue
            latency = time.perf_counter() - started
            if 200 <= status < 300:
                message_id = json.loads(body)["message"]["id"] if ids else None
                samples.append(Sample(latency, None, message_id))
            else:
                detail = body.decode(errors="replace")[:200]
                samples.append(Sample(latency, f"HTTP {status}: {detail}", None))

    await asyncio.gather(*(connection(i, p) for i, p in enumerate(posters)))
    return samples


async def measure(
    name: str,
    server: Server,
    paths: list[str],
    headers: dict[str, str],
    args: argparse.Namespace,
    accepted: list[str] | None = None,
) -> Result:
    """Warm up, then measure. With ``accepted``, the ids of accepted messages (warm-up
    included) are read from the responses and added to it."""
    ids = accepted is not None
    async with contextlib.AsyncExitStack() as stack:
        posters: list[Poster]
        if args.client == "httpx":
            limits = httpx.Limits(
                max_connections=args.concurrency, max_keepalive_connections=args.concurrency
            )
            client = httpx.AsyncClient(
                base_url=server.url, limits=limits, headers=headers, timeout=REQUEST_TIMEOUT
            )
            await stack.enter_async_context(client)
            posters = [HttpxPoster(client)] * args.concurrency
        else:
            posters = [RawHttp(server.url, headers) for _ in range(args.concurrency)]
        for poster in posters:
            stack.push_async_callback(poster.aclose)
        warm = await drive(posters, paths, args.warmup, args.max_requests, ids)
        server_cpu, client_cpu = server.cpu_seconds(), time.process_time()
        started = time.perf_counter()
        samples = await drive(posters, paths, args.duration, args.max_requests, ids)
        elapsed = time.perf_counter() - started
        server_cpu = server.cpu_seconds() - server_cpu
        client_cpu = time.process_time() - client_cpu
    if accepted is not None:
        accepted.extend(s.message_id for s in warm + samples if s.message_id)
    ok = sorted(s.latency for s in samples if s.error is None)
    failed = [s.error for s in samples if s.error is not None]
    return Result(
        name=name,
        requests=len(ok),
        errors=len(failed),
        seconds=round(elapsed, 2),
        per_second=round(len(ok) / elapsed, 1),
        p50_ms=percentile(ok, 0.50),
        p90_ms=percentile(ok, 0.90),
        p99_ms=percentile(ok, 0.99),
        max_ms=percentile(ok, 1.0),
        server_cpu_pct=round(100 * server_cpu / elapsed, 1),
        client_cpu_pct=round(100 * client_cpu / elapsed, 1),
        error_kinds=dict(Counter(e.split(":")[0] for e in failed)),
        error_samples=list(dict.fromkeys(failed))[:ERROR_SAMPLES],
    )


async def bench_openlinq(
    name: str, args: argparse.Namespace, database_url: str | None, workdir: Path, worker: bool
) -> Result:
    data_dir = workdir / slug(name)
    data_dir.mkdir()
    key = "olq_bench_" + secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "OPENLINQ_DATA_DIR": str(data_dir),
        "OPENLINQ_DEV_API_KEY": key,
        "OPENLINQ_CLOCK": "real",
        "OPENLINQ_RUN_WORKER": str(worker).lower(),
        "OPENLINQ_LOG_LEVEL": "warning",
    }
    if database_url:
        env["OPENLINQ_DATABASE_URL"] = database_url
    command = [*OPENLINQ, "serve", "--host", "127.0.0.1"]
    headers = {"Authorization": f"Bearer {key}"}
    with serving(name, command, env, data_dir) as server:
        openlinq_cli(
            env, "accounts", "policy", sandbox_account(env), "--pair-limit", str(PAIR_LIMIT)
        )
        first_send = time.perf_counter()
        chats, accepted = create_chats(server, headers, args.chats)
        paths = [f"{API}/chats/{chat}/messages" for chat in chats]
        with profiling(server, args, name):
            result = await measure(name, server, paths, headers, args, accepted)
        drain = args.drain if worker else 0.0
        result.durability = d = await verify(server, headers, chats, accepted, drain)
        if d["seconds_to_drain"] is not None:
            # Pipeline throughput: every accepted message from the first send to the last delivery.
            d["delivered_per_second"] = round(d["accepted"] / (time.perf_counter() - first_send), 1)
    result.worker = worker
    return result


@contextlib.contextmanager
def profiling(server: Server, args: argparse.Namespace, name: str) -> Iterator[None]:
    """With --profile, sample the server with py-spy for warm-up + measurement."""
    if not args.profile:
        yield
        return
    spy = shutil.which("py-spy", path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if spy is None:
        raise SystemExit("--profile needs py-spy (pip install py-spy)")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"sends-{args.stamp}-{slug(name)}-profile.svg"
    seconds = str(math.ceil(args.warmup + args.duration))
    recorder = subprocess.Popen(
        [spy, "record", "--pid", str(server.process.pid), "--duration", seconds, "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        recorder.wait(timeout=120)
    args.profiles.append(str(out.relative_to(ROOT)))


async def bench_bare(args: argparse.Namespace, workdir: Path) -> Result:
    app_dir = workdir / "bare"
    app_dir.mkdir()
    (app_dir / "bare_app.py").write_text(BARE_APP)
    command = [sys.executable, "-m", "uvicorn", "bare_app:app", *UVICORN_FLAGS]
    with serving("bare", command, dict(os.environ), app_dir) as server:
        paths = [f"/chats/bench-{n}/messages" for n in range(args.chats)]
        return await measure("bare", server, paths, {}, args)


def show(console: Console, report: dict[str, Any], results: list[Result]) -> None:
    host = report["machine"]
    console.print(machine_line(host))
    s = report["settings"]
    table = Table(
        title=f"{s['concurrency']} connections ({s['client']} client), "
        f"{s['duration']} s after {s['warmup']} s warm-up",
    )
    for column in ("target", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="left" if column == "target" else "right")
    for column in ("errors", "server CPU", "bench CPU", "ratio"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            r.name,
            str(r.requests),
            f"{r.per_second:.1f}",
            f"{r.p50_ms:.1f}",
            f"{r.p90_ms:.1f}",
            f"{r.p99_ms:.1f}",
            f"{r.max_ms:.1f}",
            f"[red]{r.errors}[/]" if r.errors else "0",
            f"{r.server_cpu_pct:.0f} %",
            f"{r.client_cpu_pct:.0f} %",
            "" if r.ratio_to_bare is None else f"{r.ratio_to_bare:.1%}",
        )
    console.print(table)
    for r in results:
        for sample in r.error_samples:
            console.print(f"[red]{r.name} error:[/] {sample}")
        d = r.durability
        if d is None:
            continue
        if not r.worker:
            drained = "worker off: nothing is delivered"
        elif d["seconds_to_drain"] is not None:
            drained = (
                f"all delivered {d['seconds_to_drain']} s after the load stopped, "
                f"{d['delivered_per_second']} delivered/s from the first send to the last delivery"
            )
        else:
            drained = f"[yellow]not all delivered after {report['settings']['drain']} s[/]"
        missing = f"[red]{d['missing']} missing[/]" if d["missing"] else "0 missing"
        console.print(
            f"{r.name} durability: {d['accepted']} accepted (warm-up and chat creation included), "
            f"{d['found']} found via the API, {missing}; delivered by the worker: "
            f"{d['delivered_when_load_stopped']} when the load stopped, "
            f"{d['delivered_at_end']} at the end ({drained}); statuses {d['statuses']}"
        )
    console.print(
        f"aim: durable sends at >= 25 % of the bare endpoint's rate; JSON: {report['file']}"
    )
    for profile in report["profiles"]:
        console.print(f"py-spy flame graph: {profile}")


async def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="openlinq-bench-") as tmp:
        workdir = Path(tmp)
        results = [await bench_bare(args, workdir)]
        results.append(await bench_openlinq("sqlite", args, None, workdir, worker=True))
        if args.api_only:
            results.append(
                await bench_openlinq("sqlite, no worker", args, None, workdir, worker=False)
            )
        if args.database_url:
            url = args.database_url
            results.append(await bench_openlinq("postgres", args, url, workdir, worker=True))
    bare = results[0].per_second
    for r in results[1:]:
        r.ratio_to_bare = round(r.per_second / bare, 3) if bare else None
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"sends-{args.stamp}.json"
    report: dict[str, Any] = {
        "machine": machine(args.database_url),
        "settings": {
            k: getattr(args, k)
            for k in ("duration", "warmup", "concurrency", "chats", "drain", "client")
        },
        "results": [asdict(r) for r in results],
        "profiles": args.profiles,
        "file": str(path.relative_to(ROOT)),
    }
    path.write_text(json.dumps(report, indent=2) + "\n")
    show(Console(width=None if sys.stdout.isatty() else 120), report, results)
    return exit_status(results)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first")
    parser.add_argument("--concurrency", type=int, default=16, help="connections")
    parser.add_argument("--chats", type=int, default=64, help="chats the sends spread over")
    parser.add_argument(
        "--database-url", help="also bench openlinq on this (empty) PostgreSQL database"
    )
    parser.add_argument(
        "--drain", type=float, default=60.0, help="seconds to wait for deliveries afterwards"
    )
    parser.add_argument(
        "--max-requests", type=int, default=1_000_000, help="cap per phase (safety bound)"
    )
    parser.add_argument(
        "--api-only",
        action="store_true",
        help="also bench SQLite with the background worker off (the send path alone)",
    )
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="load generator: hand-written HTTP/1.1 (cheap) or httpx.AsyncClient",
    )
    parser.add_argument(
        "--profile", action="store_true", help="py-spy flame graph of each openlinq server"
    )
    args = parser.parse_args()
    if args.duration <= 0 or args.warmup < 0 or args.concurrency < 1 or args.chats < 1:
        parser.error("--duration > 0, --warmup >= 0, --concurrency >= 1 and --chats >= 1")
    args.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    args.profiles = []
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
