"""A feature built on first use (api/lazy.py) answers its very first request as always.

Each case starts a server of its own, so the request under test is the first one the
server gets after start-up (the session server has long built everything).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import RunningServer, server_with
from tests.support.tenant import Tenant, tenant_on


@pytest.fixture
def fresh(
    tmp_path: Path, database_url: str, backend: str
) -> Iterator[tuple[RunningServer, Tenant]]:
    # PostgreSQL: the session's database (tests isolate by account); SQLite: a file of its own.
    overrides = {"database_url": database_url} if backend == "postgres" else {}
    with server_with(tmp_path, **overrides) as server, tenant_on(server) as tenant:
        yield server, tenant


def _error(response: httpx.Response, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["error"]["status"] == status
    assert body["error"]["code"] == 1005
    assert body["error"]["message"] == message


def test_a_lazy_feature_answers_its_first_request(fresh: tuple[RunningServer, Tenant]) -> None:
    _, tenant = fresh
    created = tenant.http.post(
        "/api/partner/v3/blocked_handles", json={"handle": "+14155550123", "reason": "spam"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["blocked_handle"]["handle"] == "+14155550123"
    listed = tenant.http.get("/v3/blocked_handles").json()["blocked_handles"]
    assert [(b["handle"], b["reason"]) for b in listed] == [("+14155550123", "spam")]


def test_a_first_request_under_the_sdk_prefix_reaches_a_lazy_feature(
    fresh: tuple[RunningServer, Tenant],
) -> None:
    _, tenant = fresh
    listed = tenant.http.get("/api/partner/v3/payment_requests")
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"object": "list", "data": [], "has_more": False}


def test_a_first_request_with_a_method_a_lazy_route_lacks_is_a_405(
    fresh: tuple[RunningServer, Tenant],
) -> None:
    _, tenant = fresh
    _error(tenant.http.put("/v3/blocked_handles"), 405, "PUT is not allowed on /v3/blocked_handles")


def test_a_first_request_to_no_route_is_a_404_and_the_features_then_answer(
    fresh: tuple[RunningServer, Tenant],
) -> None:
    _, tenant = fresh
    _error(tenant.http.get("/v3/nowhere"), 404, "no such endpoint: GET /v3/nowhere")
    experiences = tenant.http.get("/v3/experiences")
    assert experiences.status_code == 200
    assert experiences.json()["experiences"]


def test_the_first_openapi_document_lists_the_lazy_features(
    fresh: tuple[RunningServer, Tenant],
) -> None:
    server, _ = fresh
    paths = httpx.get(f"{server.base_url}/openapi.json").json()["paths"]
    for path in ("/v3/payment_requests", "/v3/blocked_handles", "/v3/chats/{chat_id}/polls"):
        assert path in paths
    assert "/v3/chats" in paths


def test_the_simulator_answers_a_first_request(fresh: tuple[RunningServer, Tenant]) -> None:
    _, tenant = fresh
    clock = tenant.http.get("/sim/v1/clock")
    assert clock.status_code == 200, clock.text
    assert clock.json()["mode"] == "manual"


def test_the_console_answers_a_first_request(fresh: tuple[RunningServer, Tenant]) -> None:
    server, _ = fresh
    console = httpx.get(f"{server.base_url}/console", follow_redirects=False)
    assert console.status_code == 200, console.text
    assert "<html" in console.text
    assert 'name="olq-token"' in console.text
