"""What /metrics' per-request timing costs: the middleware alone, and a whole server A/B.

micro   the MetricsMiddleware around an ASGI app that answers at once, with the scope a
        matched route leaves (GET /api/partner/v3/messages/{message_id}), against the same
        app bare: microseconds per request added, best of --repeat runs of --requests.
app     the whole application, called in-process through ASGI (no sockets), built twice on
        one set of services and one SQLite database: OPENLINQ_METRICS on and off, taking
        turns, GET /api/partner/v3/messages/{id}: microseconds per request, best of --repeat
        runs of --app-requests (CPU cost only: what contention on a shared machine hides).
wrk     (with --wrk) ``openlinq serve`` with OPENLINQ_METRICS=true and =false, one after
        the other (taking turns to go first) for --rounds rounds, each loaded by wrk on
        GET /api/partner/v3/messages/{id} (--connections, --duration, after a 2 s warm-up):
        req/s, p50 and p99 of each run.

Prints a table and writes JSON to bench/results/metrics-overhead-<time>.json.
Run: .venv/bin/python bench/metrics_overhead.py [--wrk]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from starlette.types import Message, Receive, Scope, Send

from openlinq.metrics import MetricsMiddleware

RESULTS = Path(__file__).parent / "results"
KEY = "olq_bench_metrics_overhead_key_0123456789"
ROUTE = "/api/partner/v3/messages/{message_id}"


class _Route:
    path_format = ROUTE


async def _answer(scope: Scope, receive: Receive, send: Send) -> None:
    # What the router leaves in the scope for a matched API route.
    scope["route"] = _Route
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _drive(app: Any, requests: int) -> float:
    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        pass

    started = time.perf_counter()
    for _ in range(requests):
        scope = {"type": "http", "method": "GET", "path": "/api/partner/v3/messages/x"}
        await app(scope, receive, send)
    return (time.perf_counter() - started) / requests * 1e6


def micro(requests: int, repeat: int) -> dict[str, float]:
    timed = MetricsMiddleware(_answer)
    bare = min(asyncio.run(_drive(_answer, requests)) for _ in range(repeat))
    with_metrics = min(asyncio.run(_drive(timed, requests)) for _ in range(repeat))
    return {
        "bare_us": round(bare, 3),
        "with_metrics_us": round(with_metrics, 3),
        "added_us": round(with_metrics - bare, 3),
    }


async def _call(app: Any, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    answer: dict[str, Any] = {"status": 0, "body": b""}

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    headers = [(b"authorization", f"Bearer {KEY}".encode()), (b"host", b"bench")]
    if body:
        headers += [(b"content-type", b"application/json")]
    raw = path.encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": raw,
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    return answer["status"], answer["body"]


async def _app_ab(requests: int, repeat: int) -> dict[str, float]:
    from openlinq.app import create_app
    from openlinq.config import Settings
    from openlinq.wiring import build_services, start, stop

    with tempfile.TemporaryDirectory() as directory:
        base = Settings(data_dir=Path(directory), dev_api_key=KEY, access_log=False)
        services = build_services(base)
        sandbox = await start(services)
        assert sandbox is not None
        apps = {
            on: create_app(base.model_copy(update={"metrics": on}), services)
            for on in (True, False)
        }
        body = json.dumps(
            {
                "from": sandbox.lines[0].phone_number,
                "to": ["+14155552001"],
                "message": {"parts": [{"type": "text", "value": "hi"}]},
            }
        ).encode()
        status, created = await _call(apps[True], "POST", "/api/partner/v3/chats", body)
        assert status == 201, created
        path = f"/api/partner/v3/messages/{json.loads(created)['chat']['message']['id']}"
        best = {True: float("inf"), False: float("inf")}
        try:
            for turn in range(repeat):
                # Each goes first every other turn: whatever the first of a pair pays, both pay.
                for on in (True, False) if turn % 2 else (False, True):
                    app = apps[on]
                    started = time.perf_counter()
                    for _ in range(requests):
                        status, _ = await _call(app, "GET", path)
                        assert status == 200
                    best[on] = min(best[on], (time.perf_counter() - started) / requests * 1e6)
        finally:
            await stop(services)
    return {
        "with_metrics_us": round(best[True], 1),
        "without_metrics_us": round(best[False], 1),
        "added_us": round(best[True] - best[False], 1),
    }


def _serve(port: int, metrics: bool, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "OPENLINQ_METRICS": "true" if metrics else "false",
        "OPENLINQ_ACCESS_LOG": "false",
        "OPENLINQ_LOG_LEVEL": "warning",
        "OPENLINQ_DATA_DIR": str(data_dir),
        "OPENLINQ_PORT": str(port),
        "OPENLINQ_DEV_API_KEY": KEY,
    }
    command = [sys.executable, "-m", "openlinq", "serve"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start in 60 s")


def _message(base: str) -> str:
    auth = {"Authorization": f"Bearer {KEY}"}
    line = httpx.get(f"{base}/phone_numbers", headers=auth).json()["phone_numbers"][0]
    body = {
        "from": line["phone_number"],
        "to": ["+14155552001"],
        "message": {"parts": [{"type": "text", "value": "hi"}]},
    }
    created = httpx.post(f"{base}/chats", headers=auth, json=body).json()
    return str(created["chat"]["message"]["id"])


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _wrk(url: str, connections: int, duration: int) -> dict[str, float]:
    args = ["wrk", "-t1", f"-c{connections}", "-H", f"Authorization: Bearer {KEY}"]
    subprocess.run([*args, "-d2s", url], check=True, capture_output=True)  # warm-up
    out = subprocess.run(
        [*args, f"-d{duration}s", "--latency", url], check=True, capture_output=True, text=True
    ).stdout
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _ms(percentiles["50"]),
        "p99_ms": _ms(percentiles["99"]),
    }


def wrk_ab(rounds: int, connections: int, duration: int, port: int) -> list[dict[str, Any]]:
    if shutil.which("wrk") is None:
        raise SystemExit("--wrk needs wrk on the PATH")
    runs: list[dict[str, Any]] = []
    for round_ in range(1, rounds + 1):
        for metrics in (True, False) if round_ % 2 else (False, True):
            with tempfile.TemporaryDirectory() as directory:
                process = _serve(port, metrics, Path(directory))
                try:
                    base = f"http://127.0.0.1:{port}/api/partner/v3"
                    url = f"{base}/messages/{_message(base)}"
                    run = {"round": round_, "metrics": metrics, **_wrk(url, connections, duration)}
                finally:
                    process.terminate()
                    process.wait(30)
            run["load_avg"] = os.getloadavg()[0]
            print(run, flush=True)
            runs.append(run)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--app-requests", type=int, default=2_000)
    parser.add_argument("--wrk", action="store_true", help="also the whole-server A/B")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--port", type=int, default=18931)
    args = parser.parse_args()
    result: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_avg_at_start": os.getloadavg()[0],
        },
        "micro": micro(args.requests, args.repeat),
    }
    print("middleware alone:", result["micro"], flush=True)
    result["app"] = asyncio.run(_app_ab(args.app_requests, args.repeat))
    print("whole app, in-process:", result["app"], flush=True)
    if args.wrk:
        runs = wrk_ab(args.rounds, args.connections, args.duration, args.port)
        result["wrk"] = runs
        for metrics in (True, False):
            mine = [r for r in runs if r["metrics"] is metrics]
            print(
                f"metrics={metrics}: median rps {statistics.median(r['rps'] for r in mine):.0f}, "
                f"p50 {statistics.median(r['p50_ms'] for r in mine):.2f} ms, "
                f"p99 {statistics.median(r['p99_ms'] for r in mine):.2f} ms"
            )
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"metrics-overhead-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written: {path}")


if __name__ == "__main__":
    main()
