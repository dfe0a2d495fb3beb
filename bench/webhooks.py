"""Webhook throughput and end-to-end latency: API call to signed delivery received.

Starts ``python -m openlinq serve`` as a real process (SQLite in a temporary data
dir by default, real clock, worker on) and a receiver on loopback (--receivers
processes of a minimal asyncio-protocol HTTP/1.1 server that answers 200 at once,
sharing one port with SO_REUSEPORT, each in its own process: never on the load
generator's event loop), then runs one of two modes:

  latency     (default) N messages (--messages, 500) through POST /v3/chats at a
              fixed --concurrency, each to its own plain iPhone number, one
              subscription to message.sent. --concurrency 1 keeps the server busy (the
              worker's share of a message costs several times the API call's); add
              --pause 0.1 for the latency of a server at rest.
  throughput  (--rate R) R webhooks a second offered for --duration seconds:
              --subscriptions S (5) subscriptions to message.sent and
              message.delivered, so each message sent fans out to 2 x S webhooks,
              and R / (2 x S) messages a second go out through
              POST /v3/chats/{id}/messages on --chats (64) chats, open loop (a send
              starts on time whether or not earlier ones answered, up to
              --connections in flight). Reports delivered/s and the backlog second
              by second, so a backlog that keeps growing shows.

For every message it measures the time from the start of its POST to the arrival of
its message.sent webhook (matched on data.id). Every delivery's signature is checked
with the official SDK (``client.webhooks.unwrap``) after the run, off the clock. The
server's, the receivers' and the load generator's CPU are reported apart, so a figure
limited by the bench, not the server, shows. Waits at most --timeout
seconds for deliveries. Prints the machine and the figures, writes JSON to
bench/results/, and exits 1 if a delivery is missing, badly signed, or a send failed.
Run: .venv/bin/python bench/webhooks.py [--messages 500] [--concurrency 8]
     .venv/bin/python bench/webhooks.py --rate 1000 [--duration 20] [--subscriptions 5]
     .venv/bin/python bench/webhooks.py --rate 2000 --subscriptions 20 --scale --database-url URL
       (1, 2, 4 API processes x 1, 2 dedicated workers; --processes / --workers for one)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import multiprocessing.process
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
from linq import LinqAPIV3

from benchlib import (
    API,
    BODY,
    PAIR_LIMIT,
    RawHttp,
    Server,
    free_port,
    fresh_database,
    openlinq_cli,
    process_cpu_seconds,
    sandbox_account,
    serving,
    wait_for_output,
)
from benchlib import (
    machine as host_machine,
)

KEY = "olq_bench_webhooks_key"
SENT = "message.sent"
THROUGHPUT_EVENTS = [SENT, "message.delivered"]
RESULTS = Path(__file__).parent / "results"
BIN = Path(sys.executable).parent
REQUEST_TIMEOUT = 30.0
OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"

Report = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Arrival:
    at: float  # time.perf_counter() when the whole request was in
    head: bytes
    body: bytes

    def headers(self) -> dict[str, str]:
        lines = self.head.decode("latin-1").split("\r\n")[1:]
        return {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}


class ReceiverConnection(asyncio.Protocol):
    """One keep-alive connection of the receiver: Content-Length requests, 200 at once.

    A few microseconds a request, so the receiver is never what limits a run (uvicorn
    plus an ASGI app cost about as much CPU per request as the server's own delivery).
    """

    def __init__(self, arrivals: list[Arrival]) -> None:
        self.arrivals = arrivals
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            lower = head.lower()
            at = lower.find(b"\r\ncontent-length:")
            length = 0
            if at >= 0:
                stop = lower.find(b"\r\n", at + 2)
                length = int(lower[at + 17 : stop if stop >= 0 else len(lower)])
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            self.arrivals.append(Arrival(time.perf_counter(), head, body))
            assert self.transport is not None
            self.transport.write(OK)


def attempt_latencies(data_dir: Path) -> list[float]:
    """Every delivery attempt's ``latency_ms`` from the server's SQLite delivery log."""
    database = data_dir / "openlinq.db"
    if not database.exists():
        return []
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        return [float(row[0]) for row in db.execute("SELECT latency_ms FROM webhook_attempts")]


def run_queue_seconds(pid: int) -> float:
    """Time the process's threads spent runnable but waiting for a CPU, so far (Linux
    schedstat): on a shared machine, the part of a run's time the server was starved."""
    total = 0
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int((task / "schedstat").read_text().split()[1])
    return total / 1e9


def receiver_process(commands: Connection, port: int) -> None:
    """A receiver in its own process: answers the server's POSTs, and the bench's
    questions on ``commands`` ("count", "take": the arrivals so far, "stop").

    ``time.perf_counter`` is CLOCK_MONOTONIC, one clock for every process on the
    machine, so arrival times compare with the send times taken in the bench."""

    async def serve() -> None:
        arrivals: list[Arrival] = []
        taken = 0
        loop = asyncio.get_running_loop()
        listener = await loop.create_server(
            lambda: ReceiverConnection(arrivals), "127.0.0.1", port, reuse_port=True
        )
        stopped = loop.create_future()

        def answer() -> None:
            nonlocal taken
            try:
                command = commands.recv()
            except EOFError:  # the bench is gone (killed): stop, don't spin on the pipe
                command = "stop"
            if command == "count":
                commands.send(len(arrivals))
            elif command == "take":
                commands.send(arrivals[taken:])
                taken = len(arrivals)
            elif not stopped.done():
                loop.remove_reader(commands.fileno())
                stopped.set_result(None)

        loop.add_reader(commands.fileno(), answer)
        commands.send("ready")
        await stopped
        listener.close()

    asyncio.run(serve())


class Receivers:
    """``count`` receiver processes on one loopback port (SO_REUSEPORT spreads the
    server's connections over them)."""

    def __init__(self, count: int) -> None:
        self.port = free_port()
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes: list[multiprocessing.process.BaseProcess] = []
        for _ in range(count):
            ours, theirs = context.Pipe()
            process = context.Process(target=receiver_process, args=(theirs, self.port))
            process.start()
            self.pipes.append(ours)
            self.processes.append(process)
        for pipe in self.pipes:
            if not pipe.poll(60) or pipe.recv() != "ready":
                raise SystemExit("a receiver process did not start")
        self.arrivals: list[Arrival] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self) -> int:
        total = 0
        for pipe in self.pipes:
            pipe.send("count")
            total += pipe.recv()
        return total

    def take(self) -> list[Arrival]:
        """Every arrival so far, in arrival order (fetched once each from the receivers)."""
        for pipe in self.pipes:
            pipe.send("take")
            self.arrivals.extend(pipe.recv())
        self.arrivals.sort(key=lambda a: a.at)
        return self.arrivals

    def cpu_seconds(self) -> float:
        return sum(process_cpu_seconds(p.pid) for p in self.processes if p.pid is not None)

    def close(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send("stop")
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.kill()


@dataclass
class Sends:
    started: dict[str, float] = field(default_factory=dict)  # message id -> POST start
    api_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    late: int = 0  # throughput mode: sends that found every connection busy
    first_start: float = 0.0
    last_end: float = 0.0

    def failed(self, detail: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(detail[:200])


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
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
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
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p * len(ordered)) - 1))]


def ms(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    if not values:
        return {}
    return {
        "p50": round(statistics.median(values), 1),
        "p90": round(percentile(values, 0.90), 1),
        "p99": round(percentile(values, 0.99), 1),
        "max": round(values[-1], 1),
    }


# -- latency mode ---------------------------------------------------------------------


async def send_new_chats(
    api: httpx.AsyncClient, line: str, count: int, concurrency: int, pause: float
) -> Sends:
    """``count`` POST /chats, each to its own plain iPhone, ``concurrency`` at a time, each
    client waiting ``pause`` seconds after each answer (so the server is not kept busy)."""
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
                sends.failed(f"HTTP {response.status_code}: {response.text}")
                continue
            sends.started[response.json()["chat"]["message"]["id"]] = begin
            sends.api_ms.append((end - begin) * 1000)
            sends.last_end = max(sends.last_end, end)
            if pause:
                await asyncio.sleep(pause)

    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return sends


# -- throughput mode ------------------------------------------------------------------


async def create_chats(api: httpx.AsyncClient, line: str, count: int) -> tuple[list[str], Sends]:
    """``count`` chats to plain iPhones; their first messages count as sends too."""
    sends = Sends(first_start=time.perf_counter())
    chats: list[str] = []
    for n in range(count):
        begin = time.perf_counter()
        created = await api.post("/chats", json={"from": line, "to": [f"+1628666{n:04d}"], **BODY})
        created.raise_for_status()
        chat = created.json()["chat"]
        chats.append(chat["id"])
        sends.started[chat["message"]["id"]] = begin
    return chats, sends


async def offer(
    base: str, chats: list[str], per_second: float, seconds: float, connections: int
) -> Sends:
    """Open loop: send i starts at ``i / per_second``, on a free keep-alive connection."""
    sends = Sends()
    free: asyncio.Queue[RawHttp] = asyncio.Queue()
    for _ in range(connections):
        free.put_nowait(RawHttp(base, {"Authorization": f"Bearer {KEY}"}))
    tasks: set[asyncio.Task[None]] = set()

    async def one(client: RawHttp, path: str) -> None:
        begin = time.perf_counter()
        try:
            status, body = await asyncio.wait_for(client.post(path), REQUEST_TIMEOUT)
        except (OSError, EOFError, ValueError, TimeoutError) as error:
            sends.failed(type(error).__name__)
            return
        finally:
            free.put_nowait(client)
        end = time.perf_counter()
        if status != 202:
            sends.failed(f"HTTP {status}: {body.decode(errors='replace')}")
            return
        sends.started[json.loads(body)["message"]["id"]] = begin
        sends.api_ms.append((end - begin) * 1000)
        sends.last_end = max(sends.last_end, end)

    total = int(per_second * seconds)
    sends.first_start = start = time.perf_counter()
    for i in range(total):
        delay = start + i / per_second - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if free.empty():
            sends.late += 1
        client = await free.get()
        task = asyncio.create_task(one(client, f"{API}/chats/{chats[i % len(chats)]}/messages"))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    while not free.empty():
        await free.get_nowait().aclose()
    return sends


# -- the run --------------------------------------------------------------------------


@dataclass
class Run:
    args: argparse.Namespace
    server: Server
    receivers: Receivers
    arrivals: list[Arrival] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)  # subscription id -> secret
    events: list[str] = field(default_factory=list)
    sends: Sends = field(default_factory=Sends)
    server_cpu: float = 0.0
    server_waiting_for_cpu: float = 0.0
    receivers_cpu: float = 0.0
    bench_cpu: float = 0.0
    elapsed: float = 0.0
    verifier: Verifier = field(default_factory=lambda: Verifier({}))


@dataclass
class Verifier:
    """Checks every delivery's signatures with the SDK's ``webhooks.unwrap`` after the
    run (it refuses a timestamp over five minutes old: keep runs shorter than that)."""

    secrets: dict[str, str]
    checked: int = 0
    invalid: int = 0

    def check(self, arrivals: list[Arrival]) -> None:
        with LinqAPIV3(base_url="http://unused.invalid", api_key=KEY) as sdk:
            for arrival in arrivals[self.checked :]:
                headers = arrival.headers()
                secret = self.secrets.get(headers.get("x-webhook-subscription-id", ""), "")
                try:
                    sdk.webhooks.unwrap(arrival.body.decode(), headers=headers, key=secret)
                except Exception:
                    self.invalid += 1
                self.checked += 1


async def subscribe(
    api: httpx.AsyncClient, receiver: str, count: int, events: list[str]
) -> dict[str, str]:
    secrets: dict[str, str] = {}
    for n in range(count):
        created = await api.post(
            "/webhook-subscriptions",
            json={"target_url": f"{receiver}/hook/{n}", "subscribed_events": events},
        )
        created.raise_for_status()
        secrets[created.json()["id"]] = created.json()["signing_secret"]
    return secrets


async def run(args: argparse.Namespace, server: Server, receivers: Receivers) -> Run:
    throughput = args.rate is not None
    state = Run(args, server, receivers, events=THROUGHPUT_EVENTS if throughput else [SENT])
    async with httpx.AsyncClient(
        base_url=f"{server.url}{API}",
        headers={"Authorization": f"Bearer {KEY}"},
        limits=httpx.Limits(max_connections=args.concurrency),
        timeout=REQUEST_TIMEOUT,
    ) as api:
        subscriptions = args.subscriptions if throughput else 1
        state.secrets = await subscribe(api, receivers.url, subscriptions, state.events)
        state.verifier = Verifier(state.secrets)
        line = (await api.get("/phone_numbers")).json()["phone_numbers"][0]["phone_number"]
        fan_out = subscriptions * len(state.events)
        if throughput:
            chats, warm = await create_chats(api, line, args.chats)
            await settle(receivers, len(warm.started) * fan_out, args.timeout)
        cpu = server_cpu(server), receivers.cpu_seconds(), time.process_time()
        starved = run_queue_seconds(server.process.pid)
        began = time.perf_counter()
        with profiling(server, args):
            if throughput:
                state.sends = await offer(
                    server.url, chats, args.rate / fan_out, args.duration, args.connections
                )
                state.sends.started.update(warm.started)
            else:
                state.sends = await send_new_chats(
                    api, line, args.messages, args.concurrency, args.pause
                )
            await settle(receivers, len(state.sends.started) * fan_out, args.timeout)
        state.server_cpu = server_cpu(server) - cpu[0]
        state.server_waiting_for_cpu = run_queue_seconds(server.process.pid) - starved
        state.receivers_cpu = receivers.cpu_seconds() - cpu[1]
        state.bench_cpu = time.process_time() - cpu[2]
        state.elapsed = time.perf_counter() - began
    state.arrivals = receivers.take()
    state.verifier.check(state.arrivals)
    return state


def server_cpu(server: Server) -> float:
    """The API processes' CPU and the dedicated workers' (all of openlinq's work)."""
    return server.cpu_seconds() + server.extra_cpu_seconds()


async def settle(receivers: Receivers, count: int, seconds: float) -> None:
    """Until ``count`` requests arrived, or ``seconds`` passed (the receivers are asked
    every 10 ms: a pipe round trip each, microseconds)."""
    deadline = time.perf_counter() + seconds
    while True:  # another process counts: there is no event to wait on
        if receivers.count() >= count or time.perf_counter() >= deadline:
            return
        await asyncio.sleep(0.01)


@contextlib.contextmanager
def profiling(server: Server, args: argparse.Namespace) -> Iterator[None]:
    """With --profile, sample the server with py-spy while the load runs (SVG)."""
    if not args.profile:
        yield
        return
    spy = shutil.which("py-spy", path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if spy is None:
        raise SystemExit("--profile needs py-spy (pip install py-spy)")
    RESULTS.mkdir(exist_ok=True)
    suffix = "svg" if args.profile == "flamegraph" else "txt" if args.profile == "raw" else "json"
    out = RESULTS / f"webhooks-{args.stamp}-profile.{suffix}"
    recorder = subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(server.process.pid),
            "-o",
            str(out),
            "--nonblocking",
            "--format",
            args.profile,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        recorder.send_signal(2)  # SIGINT: py-spy writes the graph and exits
        recorder.wait(timeout=120)
    args.profile_path = str(out)


def report(state: Run) -> Report:
    args, sends = state.args, state.sends
    if not sends.started:
        raise SystemExit(f"the server accepted no messages: {sends.error_samples}")
    first: dict[str, float] = {}
    seen: Counter[tuple[str, str, str]] = Counter()
    for arrival in state.arrivals:
        subscription = arrival.headers().get("x-webhook-subscription-id", "")
        event = json.loads(arrival.body)
        message_id = event["data"]["id"]
        seen[(subscription, event["event_type"], message_id)] += 1
        if event["event_type"] == SENT:
            first.setdefault(message_id, arrival.at)
    expected = len(sends.started) * len(state.secrets) * len(state.events)
    latencies = [(first[i] - begin) * 1000 for i, begin in sends.started.items() if i in first]
    times = sorted(a.at for a in state.arrivals)
    result: Report = {
        "bench": "webhooks",
        "mode": "throughput" if args.rate is not None else "latency",
        "machine": machine(),
        "commit": commit(),
        "database": "postgresql" if args.database_url else "sqlite",
        "subscriptions": len(state.secrets),
        "events": state.events,
        "messages_accepted": len(sends.started),
        "send_errors": sends.errors,
        "send_error_samples": sends.error_samples,
        "webhooks_expected": expected,
        "webhooks_received": len(state.arrivals),
        "duplicates": sum(n - 1 for n in seen.values()),
        "missing": expected - len(seen),
        "invalid_signatures": state.verifier.invalid,
        "seconds": round(state.elapsed, 1),
        "server_cpu_seconds": round(state.server_cpu, 1),
        "server_cpu_pct": round(100 * state.server_cpu / state.elapsed, 1),
        # Runnable but not running (another process had the CPU): high on a busy machine.
        "server_waiting_for_cpu_pct": round(100 * state.server_waiting_for_cpu / state.elapsed, 1),
        # The server's CPU time for the whole run (sends, receipts, deliveries) per webhook
        # received: on a shared machine it moves far less than the rates do.
        "server_cpu_ms_per_webhook": (
            round(1000 * state.server_cpu / len(state.arrivals), 2) if state.arrivals else None
        ),
        "receivers": len(state.receivers.processes),
        "receivers_cpu_pct": round(100 * state.receivers_cpu / state.elapsed, 1),
        "bench_cpu_pct": round(100 * state.bench_cpu / state.elapsed, 1),
        "api_call_ms": ms(sends.api_ms),
        "post_to_webhook_ms": ms(latencies),
    }
    if args.rate is None:
        result |= {
            "messages": args.messages,
            "concurrency": args.concurrency,
            "sends_per_second": round(len(sends.started) / (sends.last_end - sends.first_start), 1),
            # First POST to last webhook: what a client sending this batch sees.
            "webhooks_per_second_end_to_end": (
                round(len(times) / (times[-1] - sends.first_start), 1) if times else 0.0
            ),
            # First webhook to last: the delivery pipeline's own rate while it has a backlog.
            "webhooks_per_second_delivering": (
                round((len(times) - 1) / (times[-1] - times[0]), 1) if len(times) > 1 else 0.0
            ),
        }
        return result
    fan_out = len(state.secrets) * len(state.events)
    begin = sends.first_start
    measured = [t for t in times if t >= begin]
    offered_sends = sends.api_ms and len(sends.api_ms) / args.duration
    timeline = []
    accepted_at = sorted(b for b in sends.started.values() if b >= begin)
    for second in range(math.ceil((measured[-1] - begin) if measured else 0) + 1):
        until = begin + second + 1
        owed = sum(1 for b in accepted_at if b < until) * fan_out
        got = sum(1 for t in measured if begin + second <= t < until)
        done = sum(1 for t in measured if t < until)
        timeline.append({"second": second + 1, "delivered": got, "backlog": max(0, owed - done)})
    in_window = sum(1 for t in measured if t < begin + args.duration)
    result |= {
        "rate_offered": args.rate,
        "duration": args.duration,
        "chats": args.chats,
        "connections": args.connections,
        "sends_per_second": round(offered_sends, 1) if offered_sends else 0.0,
        "sends_late": sends.late,
        # Deliveries inside the offered window, per second: the sustained rate when the
        # backlog stays flat.
        "webhooks_per_second": round(in_window / args.duration, 1),
        "backlog_at_end_of_offer": timeline[min(len(timeline), int(args.duration)) - 1]["backlog"],
        "seconds_to_drain": round(measured[-1] - begin - args.duration, 1) if measured else None,
        "timeline": timeline,
    }
    return result


def show(result: Report) -> None:
    print(f"machine: {result['machine']}  commit: {result['commit']}")
    print(
        f"{result['database']} {result['mode']}: {result['messages_accepted']} messages, "
        f"{result['subscriptions']} subscriptions x {len(result['events'])} events; "
        f"{result['webhooks_received']} of {result['webhooks_expected']} webhooks received, "
        f"{result['missing']} missing, {result['duplicates']} duplicates, "
        f"{result['invalid_signatures']} bad signatures, {result['send_errors']} send errors"
    )
    if result["mode"] == "latency":
        print(
            f"sends/s {result['sends_per_second']}   webhooks/s end-to-end "
            f"{result['webhooks_per_second_end_to_end']}, while delivering "
            f"{result['webhooks_per_second_delivering']}"
        )
    else:
        print(
            f"offered {result['rate_offered']} webhooks/s ({result['sends_per_second']} sends/s, "
            f"{result['sends_late']} late) for {result['duration']} s: delivered "
            f"{result['webhooks_per_second']}/s; backlog at end of offer "
            f"{result['backlog_at_end_of_offer']}, drained {result['seconds_to_drain']} s later"
        )
        print(
            "backlog by second: " + " ".join(str(row["backlog"]) for row in result["timeline"][:60])
        )
    print(
        f"server CPU {result['server_cpu_pct']} % of one core "
        f"(and {result['server_waiting_for_cpu_pct']} % waiting for one), "
        f"{result['server_cpu_ms_per_webhook']} ms per webhook received; "
        f"receivers ({result['receivers']} processes) {result['receivers_cpu_pct']} %, "
        f"load generator {result['bench_cpu_pct']} %"
    )
    for name in ("api_call_ms", "post_to_webhook_ms", "server_post_ms"):
        if not result.get(name):
            continue
        figures = "  ".join(f"{k} {v:.1f}" for k, v in result[name].items())
        print(f"{name:20} {figures}")


def measure(args: argparse.Namespace, database_url: str | None) -> Report:
    """One run against a fresh server of ``args.processes`` API processes (and
    ``args.workers`` dedicated `openlinq worker` processes, when set)."""
    with tempfile.TemporaryDirectory() as data_dir:
        here = Path(data_dir)
        env = {
            **os.environ,
            "OPENLINQ_DATA_DIR": data_dir,
            "OPENLINQ_DEV_API_KEY": KEY,
            "OPENLINQ_CLOCK": "real",
            "OPENLINQ_LOG_LEVEL": "warning",
            "OPENLINQ_RUN_WORKER": str(not args.workers).lower(),
            "PYTHONUNBUFFERED": "1",  # the processes line reaches the log at once
        }
        if database_url:
            env["OPENLINQ_DATABASE_URL"] = database_url
        command = [sys.executable, "-m", "openlinq", "serve", "--host", "127.0.0.1"]
        if args.processes > 1:
            command += ["--workers", str(args.processes)]
        # `serve --workers N` prints "processes: N API" once every process answers.
        several = ("processes:", 1) if args.processes > 1 else None
        with serving("openlinq", command, env, here, ready=several) as server:
            for n in range(args.workers):
                log = here / f"worker-{n}.log"
                with log.open("wb") as out:
                    worker = subprocess.Popen(
                        [sys.executable, "-m", "openlinq", "worker"],
                        env=env,
                        cwd=here,
                        stdout=out,
                        stderr=out,
                    )
                server.extra.append(worker)
                wait_for_output(worker, log, "running", 1, f"worker {n}")
            if args.rate is not None:  # the per-pair limit is 30 a minute: raise it
                account = sandbox_account(env)
                openlinq_cli(env, "accounts", "policy", account, "--pair-limit", str(PAIR_LIMIT))
            receivers = Receivers(args.receivers)
            try:
                state = asyncio.run(run(args, server, receivers))
            finally:
                receivers.close()
        post_ms = None if database_url else attempt_latencies(here)
    result = report(state)
    # Each POST as the server timed it (its delivery log): with the receivers answering in
    # microseconds, what is above that is the server's own loop getting to the answer.
    result["server_post_ms"] = ms(post_ms) if post_ms else None
    result["profile"] = args.profile_path
    result["api_processes"] = args.processes
    result["dedicated_workers"] = args.workers
    return result


def scale(args: argparse.Namespace) -> Report:
    """The throughput run for 1, 2, 4 API processes x 1, 2 dedicated workers, each on a
    fresh PostgreSQL database."""
    rows = []
    for processes in (1, 2, 4):
        for workers in (1, 2):
            args.processes, args.workers = processes, workers
            name = f"openlinq_bench_webhooks_{processes}x{workers}"
            with fresh_database(args.database_url, name) as url:
                row = measure(args, url)
            show(row)
            rows.append(row)
    return {
        "bench": "webhooks-scale",
        "machine": host_machine(args.database_url),
        "commit": commit(),
        "rate_offered": args.rate,
        "subscriptions": args.subscriptions,
        "duration": args.duration,
        "rows": rows,
    }


def scale_table(result: Report) -> str:
    lines = [
        "| API processes | dedicated workers | sends/s | webhooks/s | backlog at end "
        "| drained after s | server CPU | ms CPU per webhook |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['api_processes']} | {row['dedicated_workers']} | {row['sends_per_second']} "
            f"| {row['webhooks_per_second']} | {row['backlog_at_end_of_offer']} "
            f"| {row['seconds_to_drain']} | {row['server_cpu_pct']} % "
            f"| {row['server_cpu_ms_per_webhook']} |"
        )
    return "\n".join(lines)


def save(result: Report, suffix: str) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"webhooks-{time.strftime('%Y%m%dT%H%M%S')}-{suffix}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return path


def failed(result: Report) -> bool:
    return bool(result["missing"] or result["invalid_signatures"] or result["send_errors"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=500, help="latency mode: messages")
    parser.add_argument("--concurrency", type=int, default=8, help="latency mode: clients")
    parser.add_argument(
        "--pause",
        type=float,
        default=0.0,
        help="latency mode: seconds each client waits after an answer (0.1: a server at rest)",
    )
    parser.add_argument("--rate", type=float, default=None, help="throughput mode: webhooks/s")
    parser.add_argument("--duration", type=float, default=20.0, help="throughput mode: seconds")
    parser.add_argument("--subscriptions", type=int, default=5, help="throughput mode")
    parser.add_argument("--chats", type=int, default=64, help="throughput mode")
    parser.add_argument(
        "--connections", type=int, default=64, help="throughput mode: max sends in flight"
    )
    parser.add_argument(
        "--receivers", type=int, default=2, help="receiver processes (one port, SO_REUSEPORT)"
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="max wait for webhooks")
    parser.add_argument("--database-url", default=None, help="bench PostgreSQL instead")
    parser.add_argument(
        "--processes", type=int, default=1, help="API processes (openlinq serve --workers N)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="dedicated `openlinq worker` processes (the API processes then run no jobs)",
    )
    parser.add_argument(
        "--scale",
        action="store_true",
        help="throughput mode for 1, 2, 4 API processes x 1, 2 workers on --database-url",
    )
    parser.add_argument(
        "--profile",
        nargs="?",
        const="flamegraph",
        choices=["flamegraph", "raw", "speedscope"],
        help="sample the server with py-spy: a flame graph (SVG), raw collapsed stacks, ...",
    )
    args = parser.parse_args()
    if args.rate is None and not 1 <= args.concurrency <= args.messages <= 10_000:
        parser.error("need 1 <= concurrency <= messages <= 10000")
    if args.scale and (args.rate is None or not args.database_url):
        parser.error("--scale needs --rate and --database-url (the processes share PostgreSQL)")
    if args.processes > 1 and not args.database_url:
        parser.error("several API processes need --database-url (PostgreSQL)")
    args.stamp = time.strftime("%Y%m%dT%H%M%S")
    args.profile_path = None
    if args.scale:
        result = scale(args)
        print(scale_table(result))
        save(result, "scale")
        if any(failed(row) for row in result["rows"]):
            raise SystemExit(1)
        return
    result = measure(args, args.database_url)
    show(result)
    save(result, f"r{args.rate:g}" if args.rate is not None else f"c{args.concurrency}")
    if failed(result):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
