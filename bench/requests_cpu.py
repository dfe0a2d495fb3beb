"""CPU time per request of the three hot routes, in-process, and where it goes.

Builds the application in this process (SQLite in a temporary data dir, worker off, real
clock) and calls it as an ASGI app, without sockets or uvicorn, so the figure is the
application's own CPU (``time.process_time``) and does not move with the machine's load
the way wall-clock rates do. With --layers it samples itself with py-spy and reports the
share of the request's samples spent under each layer (a sample counts for every layer on
its stack, so the shares overlap).

Run: .venv/bin/python bench/requests_cpu.py [--requests 2000] [--layers]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

KEY = "olq_bench_requests_cpu_key_0123456789"
API = "/api/partner/v3"
BODY = json.dumps({"message": {"parts": [{"type": "text", "value": "hello there"}]}}).encode()
# The chats a send row spreads over: 30 a minute to one recipient is the pair limit.
SEND_CHATS = 120
# What the worker does for a send to a default device: hand it over, then its receipt.
WORKER_KINDS = ("carrier.send", "sim.deliver")
# Each layer's frames (any of them on a sample's stack counts it).
LAYERS = {
    "below the middlewares": ("RouteIndex",),
    "dependency solving": ("solve_dependencies",),
    "endpoint": ("run_endpoint_function",),
    "transactions": ("_begin", "_ReadTransaction", "_Read."),
    "statements": ("prepared.py",),
    "response serialisation": ("serialize_response", "rendered"),
}


async def call(app: Any, method: str, path: str, body: bytes = b"", query: bytes = b"") -> bytes:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [
            (b"host", b"bench"),
            (b"authorization", f"Bearer {KEY}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    delivered = False
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            await asyncio.Event().wait()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = sent[0]["status"]
    answer = b"".join(m.get("body", b"") for m in sent[1:])
    if status >= 300:
        raise SystemExit(f"{method} {path} answered {status}: {answer[:300]!r}")
    return answer


async def drained(app: Any, kinds: tuple[str, ...]) -> None:
    """Wait until no job of ``kinds`` is left (the worker ran them all)."""
    storage = app.state.services.storage
    while True:
        async with storage.read() as repos:
            left = [await repos.jobs.pending_of_kind(kind) for kind in kinds]
        if not any(left):
            return
        await asyncio.sleep(0.05)


async def measure(
    requests: int,
    only: str | None = None,
    *,
    worker: bool = False,
    database_url: str | None = None,
) -> dict[str, float]:
    from openlinq.app import create_app
    from openlinq.config import Settings

    settings = Settings(
        data_dir=Path(tempfile.mkdtemp()),
        database_url=database_url,
        dev_api_key=KEY,
        clock="real",
        run_worker=worker,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        lines = json.loads(await call(app, "GET", f"{API}/phone_numbers"))["phone_numbers"]
        line = lines[0]["phone_number"]
        chats = []
        for i in range(SEND_CHATS):
            first = {
                "from": line,
                "to": [f"+1415556{i:04d}"],
                "message": json.loads(BODY)["message"],
            }
            created = json.loads(
                await call(app, "POST", f"{API}/chats", json.dumps(first).encode())
            )
            chats.append(created["chat"]["id"])
        for _ in range(20):  # a page of 20 to read
            await call(app, "POST", f"{API}/chats/{chats[0]}/messages", BODY)
        page = json.loads(await call(app, "GET", f"{API}/chats/{chats[0]}/messages"))
        message = page["messages"][0]["id"]
        rows = {
            "get": [("GET", f"{API}/messages/{message}", b"", b"")],
            "page": [("GET", f"{API}/chats/{chats[0]}/messages", b"", b"limit=20")],
            # The page's chat has had its 21 messages this minute: sends go to the others.
            "send": [("POST", f"{API}/chats/{c}/messages", BODY, b"") for c in chats[1:]],
        }
        results = {}
        for row, calls in rows.items():
            if only not in (None, row):
                continue
            for i in range(50):  # warm caches and compiled statements
                await call(app, *calls[i % len(calls)])
            if worker:
                await drained(app, WORKER_KINDS)
            results[row] = await timed(app, calls, requests, worker=worker)
    return results


async def timed(
    app: Any, calls: list[tuple[str, str, bytes, bytes]], requests: int, *, worker: bool
) -> float:
    """µs of CPU per request; --layers counts only the samples taken in here."""
    started = time.process_time()
    for i in range(requests):
        await call(app, *calls[i % len(calls)])
    if worker:  # the jobs the requests left (a send's hand-over and receipts)
        await drained(app, WORKER_KINDS)
    return (time.process_time() - started) / requests * 1e6


def layers(raw: Path) -> dict[str, float]:
    """Share of the timed request samples (stacks under FastAPI.__call__) under each layer."""
    total = 0
    hits: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if "FastAPI.__call__" not in stack or "timed (" not in stack:
            continue
        total += int(count)
        for name, frames in LAYERS.items():
            if any(frame in stack for frame in frames):
                hits[name] += int(count)
    return {name: round(100 * hits[name] / max(total, 1), 1) for name in LAYERS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per row")
    parser.add_argument("--layers", action="store_true", help="also sample GET with py-spy")
    parser.add_argument(
        "--database-url", help="an empty PostgreSQL database to use instead of SQLite"
    )
    parser.add_argument(
        "--worker",
        action="store_true",
        help="run the job runner in-process too: each row's figure then includes the jobs "
        "its requests leave (for a send: the carrier hand-over and the delivery receipt)",
    )
    parser.add_argument("--row", choices=("get", "page", "send"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.row:  # the child py-spy samples: run and report nothing
        asyncio.run(
            measure(args.requests, args.row, worker=args.worker, database_url=args.database_url)
        )
        return
    figures = asyncio.run(
        measure(args.requests, worker=args.worker, database_url=args.database_url)
    )
    for row, micros in figures.items():
        print(f"{row:5s} {micros:7.0f} us of CPU per request ({args.requests} requests)")
    if not args.layers:
        return
    spy = shutil.which(
        "py-spy", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    if spy is None:
        raise SystemExit("--layers needs py-spy (pip install py-spy)")
    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(scratch) / "samples.txt"
        command = [sys.executable, __file__, "--row", "get", "--requests", str(args.requests)]
        if args.database_url:
            command += ["--database-url", args.database_url]
        subprocess.run(
            [spy, "record", "-r", "400", "--format", "raw", "-o", str(raw), "--", *command],
            check=True,
            capture_output=True,
        )
        print("GET message, share of the request's samples under each layer:")
        for name, share in layers(raw).items():
            print(f"  {share:5.1f} %  {name}")


if __name__ == "__main__":
    main()
