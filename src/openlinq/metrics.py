"""Prometheus metrics: what the server counts as it runs, and what ``GET /metrics`` shows.

Counted in memory as things happen: HTTP request latency by route template, method and
status class, and requests in flight (``MetricsMiddleware``); jobs run by kind and outcome
(``job_finished``, called by the job runner); webhook attempts by outcome and the time from
an event to its delivery (``webhook_attempt``, called by the dispatcher). Read from the
database at scrape time: jobs due, scheduled, running and failed by kind, and the outbox
lag (``scrape``). Those come from the shared database, so every process reports the same.

Several server processes (``openlinq serve --workers N``) each count their own requests:
``prepare_multiprocess`` points prometheus-client's multiprocess mode at a private
directory before the workers start, and a scrape, whichever worker answers it, adds up
every worker's files. Process metrics (``process_*``, ``python_*``) are then left out:
they would describe only the worker that happened to answer.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator, MutableMapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openlinq.filemodes import make_private_dir

if TYPE_CHECKING:
    from prometheus_client.metrics import MetricWrapperBase

    from openlinq.store.unit import Storage
    from openlinq.webhooks.retry import Outcome

CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# A path no route matched: one label for every unknown path, however many there are.
UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_JOB_STATES = ("due", "scheduled", "running", "failed")

# The API answers in well under a millisecond to a few; webhooks may take hours of retries.
REQUEST_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
DELIVERY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
    1800.0, 3600.0,
)  # fmt: skip

# In no registry of prometheus-client's own: _counted_registry() picks what is exposed.
REQUEST_SECONDS = Histogram(
    "openlinq_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by route template.",
    ("route", "method", "status"),
    buckets=REQUEST_BUCKETS,
    registry=None,
)
IN_FLIGHT = Gauge(
    "openlinq_http_requests_in_flight",
    "Requests being answered now.",
    registry=None,
    multiprocess_mode="livesum",
)
JOBS_RUN = Counter(
    "openlinq_jobs_run",
    "Jobs this process ran, by kind and outcome (ok, failed: retried or given up).",
    ("kind", "outcome"),
    registry=None,
)
WEBHOOK_ATTEMPTS = Counter(
    "openlinq_webhook_attempts",
    "Webhook delivery attempts by outcome: success, http_4xx (and other status classes), "
    "timeout, connection_error, refused (the outbound policy would not send it).",
    ("outcome",),
    registry=None,
)
WEBHOOK_LATENCY = Histogram(
    "openlinq_webhook_delivery_latency_seconds",
    "Time from an event being recorded to its webhook being delivered (retries included).",
    buckets=DELIVERY_BUCKETS,
    registry=None,
)
_INSTRUMENTS: tuple[MetricWrapperBase, ...] = (
    REQUEST_SECONDS,
    IN_FLIGHT,
    JOBS_RUN,
    WEBHOOK_ATTEMPTS,
    WEBHOOK_LATENCY,
)


# Chosen once at import, as prometheus-client chooses in-memory or file-backed values.
_MULTIPROCESS = MULTIPROC_ENV in os.environ
# Requests in flight in this process. One process: a plain integer the gauge reads at
# scrape time (the event loop is the only writer), two locked updates fewer a request.
_in_flight = 0


def _counted_registry() -> CollectorRegistry:
    """What this process exposes besides the database gauges."""
    registry = CollectorRegistry(auto_describe=True)
    if _MULTIPROCESS:
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    IN_FLIGHT.set_function(lambda: _in_flight)
    for collector in (*_INSTRUMENTS, PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    return registry


_COUNTED = _counted_registry()


def prepare_multiprocess(data_dir: Path, environ: MutableMapping[str, str] = os.environ) -> Path:
    """Before starting several server processes: give them one fresh, private directory
    to count in (``<data_dir>/metrics``, 0700), named in ``environ`` for them to inherit.
    Must run before they start: each reads the variable once, at import."""
    directory = data_dir.resolve() / "metrics"
    shutil.rmtree(directory, ignore_errors=True)  # counts of a previous run are not ours
    make_private_dir(directory)
    environ[MULTIPROC_ENV] = str(directory)
    return directory


def process_exiting() -> None:
    """A server process stops: its requests in flight no longer count (multiprocess)."""
    if _MULTIPROCESS:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


# -- what the job runner and the webhook dispatcher report ---------------------------


# Kinds this process has run: their queue gauges stay (at 0) once the queue is empty.
_kinds_seen: set[str] = set()


def job_finished(kind: str, ok: bool) -> None:
    _kinds_seen.add(kind)
    JOBS_RUN.labels(kind, "ok" if ok else "failed").inc()


def attempt_outcome(outcome: Outcome) -> str:
    if outcome.status_code is not None:
        return "success" if outcome.succeeded else f"http_{outcome.status_code // 100}xx"
    if outcome.refused:
        return "refused"
    if outcome.timed_out:
        return "timeout"
    return "connection_error"


def webhook_attempt(outcome: Outcome, event_at: datetime, now: datetime) -> None:
    WEBHOOK_ATTEMPTS.labels(attempt_outcome(outcome)).inc()
    if outcome.succeeded:
        WEBHOOK_LATENCY.observe(max(0.0, (now - event_at).total_seconds()))


# -- HTTP ----------------------------------------------------------------------------


class RouteTemplates:
    """The template of the route the router matched, prefixes included.

    API routes are included flat (api/routing.py: FastAPI's own lazy inclusion would
    leave the router's route, without its prefix, in the scope), so a matched API route
    is in ``scope["route"]`` with its full template. A plain Starlette route or mount
    (``/openapi.json``, static files) leaves only its endpoint: its template is looked
    up once, by endpoint.
    """

    def __init__(self) -> None:
        self._of_endpoint: dict[object, str] = {}

    def __call__(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is not None:
            return str(route.path_format)
        endpoint = scope.get("endpoint")
        if endpoint is None:
            return UNMATCHED
        template = self._of_endpoint.get(endpoint)
        if template is None:
            template = self._of_endpoint[endpoint] = self._find(scope, endpoint)
        return template

    @staticmethod
    def _find(scope: Scope, endpoint: object) -> str:
        router = scope.get("router")
        for route in getattr(router, "routes", ()):
            if endpoint in (getattr(route, "endpoint", None), getattr(route, "app", None)):
                return str(route.path_format)
        return UNMATCHED


class MetricsMiddleware:
    """Times each request under its route *template* (``/v3/chats/{chat_id}``), never
    its path: ids in labels would make a new series per chat.

    Pure ASGI and cheap: the route is what the router left in the scope, and each
    (route, method, status class) keeps its histogram child, so a request costs a
    wrapped ``send``, two clock reads, two dictionary lookups and one observation
    (a few microseconds: bench/metrics_overhead.py).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._children: dict[tuple[str, str, int], Histogram] = {}
        self._template = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0  # stays 0 when the client left before an answer began

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        global _in_flight
        _in_flight += 1
        if _MULTIPROCESS:
            IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_status)
        finally:
            _in_flight -= 1
            if _MULTIPROCESS:
                IN_FLIGHT.dec()
            key = (self._template(scope), scope["method"], status // 100)
            child = self._children.get(key) or self._child(key)
            child.observe(time.perf_counter() - started)

    def _child(self, key: tuple[str, str, int]) -> Histogram:
        route, method, status_class = key
        child = REQUEST_SECONDS.labels(
            route,
            method if method in _METHODS else "other",
            f"{status_class}xx" if status_class else "none",
        )
        self._children[key] = child
        return child


# -- the scrape ----------------------------------------------------------------------


class _Families:
    """A collector of metrics already computed (the database gauges of one scrape)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


async def _database_gauges(storage: Storage, now: datetime) -> list[Metric]:
    async with storage.read() as repos:
        counts = await repos.monitoring.jobs_by_kind(now)
        oldest = await repos.monitoring.oldest_open_delivery()
    jobs = GaugeMetricFamily(
        "openlinq_jobs",
        "Jobs in the queue by kind and state: due (runnable now), scheduled (later), "
        "running (leased to a worker), failed (given up).",
        labels=("kind", "state"),
    )
    for kind in sorted({*_kinds_seen, *counts}):
        of_kind = counts.get(kind)
        for state in _JOB_STATES:
            jobs.add_metric((kind, state), getattr(of_kind, state) if of_kind else 0)
    lag = GaugeMetricFamily(
        "openlinq_webhook_outbox_lag_seconds",
        "Age of the oldest webhook delivery not yet delivered or given up (0: none).",
        value=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
    )
    return [jobs, lag]


def counted() -> bytes:
    """What was counted in memory: this process's, or every worker's (multiprocess)."""
    return generate_latest(_COUNTED)


async def scrape(storage: Storage, now: datetime) -> bytes:
    """The exposition: what was counted, then what the database holds now."""
    database: Collector = _Families(await _database_gauges(storage, now))
    return counted() + generate_latest(database)
