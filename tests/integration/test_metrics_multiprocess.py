"""Several server processes, one scrape: prometheus-client's multiprocess mode, for real.

Each process counts into files under the directory ``prepare_multiprocess`` made; a
scrape answered by any of them adds up every process's counts.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from openlinq.metrics import MULTIPROC_ENV, prepare_multiprocess
from tests.support.process import serving
from tests.support.server import free_port

# Another server process: it ran one job and answered one request, then exited.
OTHER_WORKER = """
import asyncio
from openlinq import metrics

metrics.job_finished("carrier.send", ok=True)


async def app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def request():
    async def nothing(*_):
        return {"type": "http.request"}

    scope = {"type": "http", "method": "GET", "route": None}
    await metrics.MetricsMiddleware(app)(scope, nothing, nothing)


asyncio.run(request())
metrics.process_exiting()
"""


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_prepare_gives_a_fresh_private_directory(tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    stale = tmp_path / "data" / "metrics" / "counter_123.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"a previous run's counts")
    directory = prepare_multiprocess(tmp_path / "data", environ)
    assert environ == {MULTIPROC_ENV: str(directory)}
    assert directory == (tmp_path / "data" / "metrics").resolve()
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert list(directory.iterdir()) == []


def test_a_scrape_adds_up_every_process(tmp_path: Path) -> None:
    env = {**os.environ, "OPENLINQ_DATA_DIR": str(tmp_path / "data")}
    prepare_multiprocess(tmp_path / "data", env)
    subprocess.run([sys.executable, "-c", OTHER_WORKER], env=env, check=True, timeout=60)
    port = free_port()
    env |= {"OPENLINQ_PORT": str(port), "OPENLINQ_CLOCK": "manual"}
    command = [sys.executable, "-m", "openlinq", "serve"]
    with serving(command, port=port, env=env, cwd=tmp_path):
        response = httpx.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200, response.text
    samples = _samples(response.text)
    ran = ("openlinq_jobs_run_total", frozenset({("kind", "carrier.send"), ("outcome", "ok")}))
    assert samples[ran] == 1  # counted by the other process
    health = frozenset({("route", "/health"), ("method", "GET"), ("status", "2xx")})
    assert samples[("openlinq_http_request_duration_seconds_count", health)] >= 1  # this one's
    other = frozenset({("route", "unmatched"), ("method", "GET"), ("status", "2xx")})
    assert samples[("openlinq_http_request_duration_seconds_count", other)] == 1
    # The scrape in flight; the other process's ended request is not.
    assert samples[("openlinq_http_requests_in_flight", frozenset())] == 1
    # One process's CPU or memory would say nothing about the others: left out.
    assert not [name for name, _ in samples if name.startswith(("process_", "python_"))]
    # The database's gauges are there as in one process.
    assert ("openlinq_webhook_outbox_lag_seconds", frozenset()) in samples
