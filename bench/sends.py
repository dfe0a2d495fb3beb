"""Sustained durable sends through the HTTP API, next to a bare FastAPI endpoint.

Starts openlinq as a real process (SQLite by default, real clock, background
worker on, so delivery runs alongside as in production) and, in the same run,
a bare FastAPI app whose one endpoint parses a small JSON body and answers 202.
Both get the same load: C concurrent connections for D seconds after a warm-up,
all on loopback. Every openlinq send is durable (the message and its carrier job
are committed before the 202). Prints req/s, p50/p90/p99 latency and the ratio,
and writes JSON to bench/results/. Run: .venv/bin/python bench/sends.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

BARE_APP = """
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

@app.post("/send", status_code=202)
async def send(body: Body) -> dict[str, str]:
    return {"status": "queued", "first": body.message.parts[0].value}
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the server exited")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


async def load(
    name: str,
    url: str,
    bodies: list[dict[str, object]],
    headers: dict[str, str],
    concurrency: int,
    warmup: float,
    duration: float,
) -> Result:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, headers=headers, timeout=30) as client:

        async def worker(index: int, until: float, record: bool) -> None:
            nonlocal errors
            n = index
            while time.perf_counter() < until:
                body = bodies[n % len(bodies)]
                n += concurrency
                started = time.perf_counter()
                response = await client.post(url.format(**body), json=body["json"])
                if record:
                    if response.status_code < 300:
                        latencies.append(time.perf_counter() - started)
                    else:
                        errors += 1

        warm_until = time.perf_counter() + warmup
        await asyncio.gather(*(worker(i, warm_until, False) for i in range(concurrency)))
        started = time.perf_counter()
        until = started + duration
        await asyncio.gather(*(worker(i, until, True) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies)

    def percentile(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 2)

    return Result(
        name=name,
        requests=len(ordered),
        errors=errors,
        seconds=round(elapsed, 2),
        per_second=round(len(ordered) / elapsed, 1),
        p50_ms=round(statistics.median(ordered) * 1000, 2),
        p90_ms=percentile(0.90),
        p99_ms=percentile(0.99),
    )


def machine() -> dict[str, str]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def openlinq(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "openlinq", *args],
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def bench_account(env: dict[str, str]) -> str:
    """An account with one line and no per-pair limit (it exists to stop bot loops, and
    the bench sends a lot to few recipients). Returns its API key."""
    created = openlinq(env, "accounts", "create", "bench")
    account = re.search(r"account (\S+) ", created)
    key = re.search(r"API key \(shown once\): (\S+)", created)
    if account is None or key is None:
        raise SystemExit(f"could not create the bench account: {created}")
    openlinq(env, "lines", "add", account.group(1), "+16285550100")
    openlinq(env, "accounts", "policy", account.group(1), "--pair-limit", "0")
    return key.group(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--chats", type=int, default=64)
    parser.add_argument("--database-url", default=None, help="bench PostgreSQL instead")
    args = parser.parse_args()
    port, bare_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "OPENLINQ_DATA_DIR": data_dir,
            "OPENLINQ_PORT": str(port),
            "OPENLINQ_LOG_LEVEL": "warning",
        }
        if args.database_url:
            env["OPENLINQ_DATABASE_URL"] = args.database_url
        Path(data_dir, "bare.py").write_text(BARE_APP)
        key = bench_account(env)
        server = subprocess.Popen(
            [sys.executable, "-m", "openlinq", "serve"], env=env, stdout=subprocess.DEVNULL
        )
        bare = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bare:app",
                "--port",
                str(bare_port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=data_dir,
            stdout=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(f"{base}/health", server)
            wait_until_up(f"http://127.0.0.1:{bare_port}/docs", bare)
            auth = {"Authorization": f"Bearer {key}"}
            api = httpx.Client(base_url=f"{base}/v3", headers=auth, timeout=30)
            line = api.get("/phone_numbers").json()["phone_numbers"][0]["phone_number"]
            chats = [
                api.post(
                    "/chats",
                    json={
                        "from": line,
                        "to": [f"+1628555{n:04d}"],
                        "message": {"parts": [{"type": "text", "value": "hi"}]},
                    },
                ).json()["chat"]["id"]
                for n in range(args.chats)
            ]
            message = {"parts": [{"type": "text", "value": "benchmark message"}]}
            sends: list[dict[str, object]] = [
                {"chat": c, "json": {"message": message}} for c in chats
            ]
            ours = asyncio.run(
                load(
                    "openlinq durable send",
                    base + "/api/partner/v3/chats/{chat}/messages",
                    sends,
                    auth,
                    args.concurrency,
                    args.warmup,
                    args.duration,
                )
            )
            bare_bodies: list[dict[str, object]] = [{"json": {"message": message}}]
            baseline = asyncio.run(
                load(
                    "bare FastAPI endpoint",
                    f"http://127.0.0.1:{bare_port}/send",
                    bare_bodies,
                    {},
                    args.concurrency,
                    args.warmup,
                    args.duration,
                )
            )
            total = sum(
                len(api.get(f"/chats/{c}/messages", params={"limit": 100}).json()["messages"])
                for c in chats[:3]
            )
        finally:
            for process in (server, bare):
                process.terminate()
                process.wait(timeout=30)
    report = {
        "machine": machine(),
        "database": "postgresql" if args.database_url else "sqlite",
        "concurrency": args.concurrency,
        "results": [asdict(ours), asdict(baseline)],
        "ratio": round(ours.per_second / baseline.per_second, 3),
        "messages_seen_in_three_chats": total,
    }
    print(f"{'':24} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for result in (ours, baseline):
        print(
            f"{result.name:24} {result.per_second:9.1f} {result.p50_ms:8.2f} "
            f"{result.p90_ms:8.2f} {result.p99_ms:8.2f} {result.errors:7d}"
        )
    print(f"ratio (openlinq / bare): {report['ratio']:.1%}   machine: {report['machine']}")
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / f"sends-{int(time.time())}.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
