"""Webhook throughput and end-to-end latency: API call to signed delivery received.

Starts openlinq (SQLite by default, real clock, worker on) and a local receiver
on loopback, subscribes the receiver to message.sent, then sends N messages at
a fixed concurrency. For each message it measures the time from the start of
its POST to the arrival of its message.sent webhook (matched by message id),
and the rate at which deliveries arrive. Every delivery's signature is checked.
Run: .venv/bin/python bench/webhook_latency.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from standardwebhooks import Webhook

KEY = "olq_bench_webhooks_key"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Arrivals:
    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.bodies: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        arrivals = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                now = time.perf_counter()
                event = json.loads(body)
                with arrivals.lock:
                    arrivals.at.setdefault(event["data"]["id"], now)
                    arrivals.bodies.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        return Handler


async def send_all(base: str, line: str, count: int, concurrency: int) -> dict[str, float]:
    started: dict[str, float] = {}
    limits = httpx.Limits(max_connections=concurrency)
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as api:
        queue = list(range(count))

        async def worker() -> None:
            while queue:
                n = queue.pop()
                begin = time.perf_counter()
                response = await api.post(
                    "/api/partner/v3/chats",
                    json={
                        "from": line,
                        "to": [f"+1628777{n:04d}"],
                        "message": {"parts": [{"type": "text", "value": f"bench {n}"}]},
                    },
                )
                response.raise_for_status()
                started[response.json()["chat"]["message"]["id"]] = begin

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    arrivals = Arrivals()
    receiver_port = free_port()
    receiver = ThreadingHTTPServer(("127.0.0.1", receiver_port), arrivals.handler())
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "OPENLINQ_DATA_DIR": data_dir,
            "OPENLINQ_PORT": str(port),
            "OPENLINQ_DEV_API_KEY": KEY,
            "OPENLINQ_LOG_LEVEL": "warning",
        }
        if args.database_url:
            env["OPENLINQ_DATABASE_URL"] = args.database_url
        server = subprocess.Popen(
            [sys.executable, "-m", "openlinq", "serve"], env=env, stdout=subprocess.DEVNULL
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"{base}/health", timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise SystemExit("the server did not start") from None
                    time.sleep(0.1)
            api = httpx.Client(base_url=f"{base}/v3", headers={"Authorization": f"Bearer {KEY}"})
            secret = api.post(
                "/webhook-subscriptions",
                json={
                    "target_url": f"http://127.0.0.1:{receiver_port}/hook",
                    "subscribed_events": ["message.sent"],
                },
            ).json()["signing_secret"]
            line = api.get("/phone_numbers").json()["phone_numbers"][0]["phone_number"]
            began = time.perf_counter()
            started = asyncio.run(send_all(base, line, args.messages, args.concurrency))
            deadline = time.monotonic() + 120
            while len(arrivals.at) < len(started) and time.monotonic() < deadline:
                time.sleep(0.01)
            finished = max(arrivals.at.values())
        finally:
            server.terminate()
            server.wait(timeout=30)
            receiver.shutdown()
    verifier = Webhook(secret)
    for headers, body in arrivals.bodies:
        verifier.verify(body.decode(), headers)
    latencies = sorted((arrivals.at[i] - started[i]) * 1000 for i in started if i in arrivals.at)
    report = {
        "messages": len(started),
        "webhooks_received": len(arrivals.bodies),
        "all_signatures_valid": True,
        "deliveries_per_second": round(len(arrivals.at) / (finished - began), 1),
        "latency_ms": {
            "p50": round(statistics.median(latencies), 1),
            "p90": round(latencies[int(0.9 * len(latencies))], 1),
            "p99": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 1),
        },
        "database": "postgresql" if args.database_url else "sqlite",
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "arch": platform.machine(),
        },
    }
    print(json.dumps(report, indent=2))
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / f"webhooks-{int(time.time())}.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
