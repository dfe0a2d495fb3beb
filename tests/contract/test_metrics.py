"""GET /metrics over real HTTP: the scrape parses, and what it counts moves with real work."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.support.receiver import Answer, Receiver
from tests.support.server import RunningServer, free_port, server_with
from tests.support.tenant import Tenant, tenant_on

METRICS_TOKEN = "mt_" + "m" * 40
MESSAGE_ROUTE = "/api/partner/v3/messages/{message_id}"
FAMILIES = {
    "openlinq_http_request_duration_seconds": "histogram",
    "openlinq_http_requests_in_flight": "gauge",
    "openlinq_jobs_run": "counter",
    "openlinq_jobs": "gauge",
    "openlinq_webhook_attempts": "counter",
    "openlinq_webhook_delivery_latency_seconds": "histogram",
    "openlinq_webhook_outbox_lag_seconds": "gauge",
    "process_cpu_seconds": "counter",
    "process_resident_memory_bytes": "gauge",
    "python_gc_collections": "counter",
}


class Scrape:
    def __init__(self, text: str) -> None:
        self.families = {f.name: f for f in text_string_to_metric_families(text)}

    def samples(self, name: str) -> list[Sample]:
        return [s for f in self.families.values() for s in f.samples if s.name == name]

    def value(self, name: str, **labels: str) -> float:
        """The sample's value; 0 when it is absent (a labelled series not yet created)."""
        found = [s.value for s in self.samples(name) if s.labels == labels]
        assert len(found) <= 1, (name, labels, found)
        return float(found[0]) if found else 0.0


def scrape(server: RunningServer, **headers: str) -> Scrape:
    response = httpx.get(f"{server.base_url}/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return Scrape(response.text)


def requests_of(result: Scrape, route: str, method: str = "GET", status: str = "2xx") -> float:
    labels = {"route": route, "method": method, "status": status}
    return result.value("openlinq_http_request_duration_seconds_count", **labels)


def send_text(tenant: Tenant, to: str = "+14155552001") -> str:
    created = tenant.client.chats.create(
        from_=tenant.line, to=[to], message={"parts": [{"type": "text", "value": "hi"}]}
    )
    return created.chat.message.id


@pytest.fixture
def subscriptions(tenant: Tenant) -> Iterator[None]:
    """The test's subscriptions go with it: no retry of theirs reaches a later test."""
    yield
    for subscription in tenant.client.webhook_subscriptions.list().subscriptions:
        tenant.client.webhook_subscriptions.delete(subscription.id)


def test_the_scrape_parses_with_every_family(server: RunningServer) -> None:
    result = scrape(server)
    for name, kind in FAMILIES.items():
        assert result.families[name].type == kind, name


def test_a_request_counts_under_its_route_template(server: RunningServer, tenant: Tenant) -> None:
    message_id = send_text(tenant)
    before = scrape(server)
    assert tenant.http.get(f"/api/partner/v3/messages/{message_id}").status_code == 200
    assert tenant.http.get(f"/api/partner/v3/messages/{uuid.uuid4()}").status_code == 404
    assert tenant.http.get(f"/api/partner/v3/no-such-thing/{message_id}").status_code == 404
    assert tenant.http.get("/static/docs/swagger-ui.css").status_code == 200
    after = scrape(server)
    assert requests_of(after, MESSAGE_ROUTE) == requests_of(before, MESSAGE_ROUTE) + 1
    assert requests_of(after, MESSAGE_ROUTE, status="4xx") == (
        requests_of(before, MESSAGE_ROUTE, status="4xx") + 1
    )
    # Every unknown path is one series: ids never reach a label.
    assert requests_of(after, "unmatched", status="4xx") == (
        requests_of(before, "unmatched", status="4xx") + 1
    )
    # Application-level mounts too, under their template.
    static = "/static/docs/{path}"
    assert requests_of(after, static) == requests_of(before, static) + 1
    counts = after.samples("openlinq_http_request_duration_seconds_count")
    routes = {sample.labels["route"] for sample in counts}
    assert not [route for route in routes if message_id in route]
    # This scrape itself is in flight while it is rendered.
    assert after.value("openlinq_http_requests_in_flight") >= 1


def test_job_gauges_and_counters_move_when_jobs_run(server: RunningServer, tenant: Tenant) -> None:
    def due(result: Scrape) -> float:
        return result.value("openlinq_jobs", kind="carrier.send", state="due")

    def ran(result: Scrape) -> float:
        return result.value("openlinq_jobs_run_total", kind="carrier.send", outcome="ok")

    before = scrape(server)
    send_text(tenant)
    queued = scrape(server)
    assert due(queued) == due(before) + 1
    assert ran(queued) == ran(before)
    tenant.sim.advance()
    done = scrape(server)
    assert due(done) == 0
    assert ran(done) >= ran(before) + 1


def test_a_failing_job_is_counted_retried_then_failed(server: RunningServer) -> None:
    kind = f"test.boom.{uuid.uuid4().hex[:8]}"

    async def boom(_: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    async def enqueue() -> None:
        async with server.services.storage.write() as repos:
            await repos.jobs.enqueue(kind, {}, server.services.clock.now(), None)

    server.services.runner.register(kind, boom)
    server.call(enqueue)
    with tenant_on(server) as tenant:
        tenant.sim.advance()
        retrying = scrape(server)
        assert retrying.value("openlinq_jobs_run_total", kind=kind, outcome="failed") == 1
        assert retrying.value("openlinq_jobs", kind=kind, state="scheduled") == 1
        # Backoff doubles from 2 s; ten attempts fit in well under an hour.
        tenant.sim.advance(3600)
    buried = scrape(server)
    assert buried.value("openlinq_jobs_run_total", kind=kind, outcome="failed") == 10
    assert buried.value("openlinq_jobs_run_total", kind=kind, outcome="ok") == 0
    assert buried.value("openlinq_jobs", kind=kind, state="failed") == 1
    assert buried.value("openlinq_jobs", kind=kind, state="scheduled") == 0


def test_webhook_attempts_latency_and_lag_move_with_real_deliveries(
    server: RunningServer, tenant: Tenant, receiver: Receiver, subscriptions: None
) -> None:
    def attempts(result: Scrape, outcome: str) -> float:
        return result.value("openlinq_webhook_attempts_total", outcome=outcome)

    def latency(result: Scrape, part: str) -> float:
        return result.value(f"openlinq_webhook_delivery_latency_seconds_{part}")

    # 503, then an answer slower than the session server's 1 s timeout, then 200.
    receiver.script(Answer(status=503), Answer(delay=1.5), Answer(status=200))
    tenant.client.webhook_subscriptions.create(
        target_url=receiver.url(), subscribed_events=["message.sent"]
    )
    dead_port = free_port()  # nothing listens there
    tenant.client.webhook_subscriptions.create(
        target_url=f"http://127.0.0.1:{dead_port}/hook", subscribed_events=["message.sent"]
    )
    before = scrape(server)
    send_text(tenant)
    tenant.sim.advance()  # sent: the first attempts (503, connection refused)
    first = scrape(server)
    assert attempts(first, "http_5xx") == attempts(before, "http_5xx") + 1
    assert attempts(first, "connection_error") >= attempts(before, "connection_error") + 1
    tenant.sim.advance(2)  # both deliveries are 2 s old now, retries due at ~3 s
    assert scrape(server).value("openlinq_webhook_outbox_lag_seconds") >= 2.0
    tenant.sim.advance(4)  # the second attempt: no answer within the timeout
    assert attempts(scrape(server), "timeout") == attempts(before, "timeout") + 1
    tenant.sim.advance(10)  # the third: 200, some 10 s after the event
    after = scrape(server)
    assert [hit.path for hit in receiver.hits] == ["/hook"] * 3
    assert attempts(after, "success") == attempts(before, "success") + 1
    assert latency(after, "count") == latency(before, "count") + 1
    waited = latency(after, "sum") - latency(before, "sum")
    assert timedelta(seconds=waited) >= timedelta(seconds=6)


# -- who may scrape --------------------------------------------------------------------


def _assert_linq_error(response: httpx.Response, status: int, code: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert (body["error"]["status"], body["error"]["code"]) == (status, code)
    assert body["trace_id"]


@pytest.fixture(scope="module")
def hosted_with_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with server_with(
        tmp_path_factory.mktemp("hosted-metrics"), hosted_mode=True, metrics_token=METRICS_TOKEN
    ) as running:
        yield running


def test_hosted_mode_wants_the_metrics_token(hosted_with_token: RunningServer) -> None:
    url = f"{hosted_with_token.base_url}/metrics"
    _assert_linq_error(httpx.get(url), 401, 2004)
    wrong = {"Authorization": "Bearer " + "x" * 43}
    _assert_linq_error(httpx.get(url, headers=wrong), 401, 2004)
    result = scrape(hosted_with_token, Authorization=f"Bearer {METRICS_TOKEN}")
    assert "openlinq_jobs" in result.families


@pytest.mark.parametrize(
    "settings",
    [{"hosted_mode": True}, {"metrics": False}],
    ids=["hosted-without-token", "turned-off"],
)
def test_metrics_are_absent_without_a_token_in_hosted_mode_or_when_off(
    tmp_path: Path, settings: dict[str, Any]
) -> None:
    with server_with(tmp_path, **settings) as running:
        response = httpx.get(
            f"{running.base_url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        )
    _assert_linq_error(response, 404, 1005)
