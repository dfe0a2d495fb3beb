"""Webhook throughput and end-to-end latency: API call to signed delivery received.

Starts ``python -m openlinq serve`` as a real process (SQLite in a temporary data
dir by default, real clock, worker on) and a receiver on loopback (uvicorn, in
this process), subscribes the receiver to message.sent, then sends N messages
(default 500) through POST /v3/chats at a fixed concurrency, each to its own
plain iPhone number. For every message it measures the time from the start of
its POST to the arrival of its message.sent webhook (matched on data.id), and
the rate at which webhooks arrive. Every delivery's signature is checked with
the official SDK (``client.webhooks.unwrap``) after the run, off the clock.
Bounded: N messages, and at most --timeout seconds of waiting for deliveries.
Prints the machine and the figures, and writes JSON to bench/results/.
Run: .venv/bin/python bench/webhooks.py [--messages 500] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from linq import LinqAPIV3

KEY = "olq_bench_webhooks_key"
EVENT = "message.sent"
RESULTS = Path(__file__).parent / "results"

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Report = dict[str, Any]


@dataclass(frozen=True)
class Arrival:
    at: float  # time.perf_counter() when the whole body was in
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A minimal ASGI webhook endpoint: record the request, answer 200 at once."""

    arrivals: list[Arrival] = field(default_factory=list)
    first_sent: dict[str, float] = field(default_factory=dict)  # message id -> first arrival
    _wanted: int | None = None
    _all_in: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        at = time.perf_counter()
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.arrivals.append(Arrival(at, headers, body))
        event = json.loads(body)
        if event["event_type"] == EVENT:
            self.first_sent.setdefault(event["data"]["id"], at)
        self._check()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def _check(self) -> None:
        if self._wanted is not None and len(self.first_sent) >= self._wanted:
            self._all_in.set()

    async def wait_for(self, messages: int) -> None:
        """Until ``messages`` messages' webhooks arrived (callers bound it with a timeout)."""
        self._wanted = messages
        self._check()
        await self._all_in.wait()


@dataclass
class Sends:
    started: dict[str, float] = field(default_factory=dict)  # message id -> POST start
    api_ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_start: float = 0.0
    last_end: float = 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
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
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def commit() -> str:
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except OSError:
        return "unknown"
    return done.stdout.strip() or "unknown"


def percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return ordered[min(len(ordered) - 1, max(0, round(p * len(ordered)) - 1))]


async def wait_until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise SystemExit(f"openlinq exited with {server.returncode} during start-up")
            try:
                if (await client.get(f"{base}/health", timeout=1)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("openlinq did not come up in 60 s")


async def send_messages(api: httpx.AsyncClient, line: str, count: int, concurrency: int) -> Sends:
    sends = Sends(first_start=time.perf_counter())
    numbers = iter(range(count))

    async def sender() -> None:
        for n in numbers:  # the shared iterator hands each number to one sender
            begin = time.perf_counter()
            response = await api.post(
                "/chats",
                json={
                    "from": line,
                    "to": [f"+1628777{n:04d}"],  # a plain iPhone: delivered at once
                    "message": {"parts": [{"type": "text", "value": f"bench {n}"}]},
                },
            )
            end = time.perf_counter()
            if response.status_code != 201:
                sends.errors += 1
                continue
            sends.started[response.json()["chat"]["message"]["id"]] = begin
            sends.api_ms.append((end - begin) * 1000)
            sends.last_end = max(sends.last_end, end)

    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return sends


async def run(args: argparse.Namespace, base: str, server: subprocess.Popen[bytes]) -> Report:
    receiver = Receiver()
    receiver_port = free_port()
    listener = uvicorn.Server(
        uvicorn.Config(
            receiver,
            host="127.0.0.1",
            port=receiver_port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
    )
    listening = asyncio.create_task(listener.serve())
    try:
        await wait_until_up(base, server)
        async with httpx.AsyncClient(
            base_url=f"{base}/api/partner/v3",
            headers={"Authorization": f"Bearer {KEY}"},
            limits=httpx.Limits(max_connections=args.concurrency),
            timeout=60,
        ) as api:
            created = await api.post(
                "/webhook-subscriptions",
                json={
                    "target_url": f"http://127.0.0.1:{receiver_port}/hook",
                    "subscribed_events": [EVENT],
                },
            )
            created.raise_for_status()
            secret: str = created.json()["signing_secret"]
            numbers = (await api.get("/phone_numbers")).json()["phone_numbers"]
            sends = await send_messages(
                api, numbers[0]["phone_number"], args.messages, args.concurrency
            )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(args.timeout):
                await receiver.wait_for(len(sends.started))
    finally:
        listener.should_exit = True
        await listening
    return report(args, receiver, sends, secret)


def report(args: argparse.Namespace, receiver: Receiver, sends: Sends, secret: str) -> Report:
    if not sends.started:
        raise SystemExit(f"the server accepted none of the {args.messages} messages")
    arrivals = dict(receiver.first_sent)
    latencies = sorted(
        (arrivals[i] - begin) * 1000 for i, begin in sends.started.items() if i in arrivals
    )
    invalid = 0
    with LinqAPIV3(base_url="http://unused.invalid", api_key=KEY) as sdk:
        for arrival in receiver.arrivals:
            try:
                sdk.webhooks.unwrap(arrival.body.decode(), headers=arrival.headers, key=secret)
            except Exception:
                invalid += 1
    times = [a.at for a in receiver.arrivals]
    api_ms = sorted(sends.api_ms)

    def ms(values: list[float]) -> dict[str, float]:
        if not values:
            return {}
        return {
            "p50": round(statistics.median(values), 1),
            "p90": round(percentile(values, 0.90), 1),
            "p99": round(percentile(values, 0.99), 1),
            "max": round(values[-1], 1),
        }

    return {
        "bench": "webhooks",
        "machine": machine(),
        "commit": commit(),
        "database": "postgresql" if args.database_url else "sqlite",
        "messages": args.messages,
        "concurrency": args.concurrency,
        "send_errors": sends.errors,
        "webhooks_received": len(receiver.arrivals),
        "duplicates": len(receiver.arrivals) - len(arrivals),
        "missing": len(set(sends.started) - set(arrivals)),
        "invalid_signatures": invalid,
        "sends_per_second": round(len(sends.started) / (sends.last_end - sends.first_start), 1),
        # First POST to last webhook: what a client sending this batch sees.
        "webhooks_per_second_end_to_end": (
            round(len(times) / (max(times) - sends.first_start), 1) if times else 0.0
        ),
        # First webhook to last: the delivery pipeline's own rate while it has a backlog.
        "webhooks_per_second_delivering": (
            round((len(times) - 1) / (max(times) - min(times)), 1) if len(times) > 1 else 0.0
        ),
        "api_call_ms": ms(api_ms),
        "post_to_webhook_ms": ms(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=120.0, help="max wait for webhooks")
    parser.add_argument("--database-url", default=None, help="bench PostgreSQL instead")
    args = parser.parse_args()
    if not 1 <= args.concurrency <= args.messages <= 10_000:
        parser.error("need 1 <= concurrency <= messages <= 10000")
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir, Path(data_dir, "server.log").open("wb") as log:
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
            [sys.executable, "-m", "openlinq", "serve"], env=env, stdout=log, stderr=log
        )
        try:
            result = asyncio.run(run(args, f"http://127.0.0.1:{port}", server))
        except BaseException:
            sys.stderr.write(Path(data_dir, "server.log").read_text()[-4000:])
            raise
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=30)
    print(f"machine: {result['machine']}  commit: {result['commit']}")
    print(
        f"{result['database']}: {result['messages']} messages at concurrency "
        f"{result['concurrency']}; {result['webhooks_received']} webhooks received, "
        f"{result['missing']} missing, {result['duplicates']} duplicates, "
        f"{result['invalid_signatures']} bad signatures, {result['send_errors']} send errors"
    )
    print(
        f"sends/s {result['sends_per_second']}   webhooks/s end-to-end "
        f"{result['webhooks_per_second_end_to_end']}, while delivering "
        f"{result['webhooks_per_second_delivering']}"
    )
    for name in ("api_call_ms", "post_to_webhook_ms"):
        figures = "  ".join(f"{k} {v:.1f}" for k, v in result[name].items())
        print(f"{name:20} {figures}")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"webhooks-{time.strftime('%Y%m%dT%H%M%S')}-c{args.concurrency}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    if result["missing"] or result["invalid_signatures"] or result["send_errors"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
