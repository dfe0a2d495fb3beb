"""The test harness API over real HTTP: test accounts, settle, waiting for the agent."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from linq import LinqAPIV3

from tests.support.server import RunningServer, server_with
from tests.support.tenant import Tenant, magic, tenant_on

OPERATOR_KEY = "op_" + "k" * 40
PHONE = "+14155550142"
TEXT = {"parts": [{"type": "text", "value": "hello"}]}


def _assert_linq_error(response: httpx.Response, status: int, code: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert (body["error"]["status"], body["error"]["code"]) == (status, code)


def _send(tenant: Tenant, to: str, text: str) -> tuple[str, str]:
    """A new chat from the tenant's line with ``text``: (chat id, message id)."""
    created = tenant.client.chats.create(
        from_=tenant.line, to=[to], message={"parts": [{"type": "text", "value": text}]}
    )
    return created.chat.id, created.chat.message.id


def _next(tenant: Tenant, handle: str, **params: Any) -> dict[str, Any]:
    response = tenant.http.get(f"/sim/v1/devices/{handle}/next-message", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_test_account_comes_with_its_own_key_and_fresh_lines(server: RunningServer) -> None:
    response = httpx.post(
        server.base_url + "/sim/v1/accounts", json={"name": "ci", "lines": ["iMessage", "RCS"]}
    )
    assert response.status_code == 201, response.text
    account = response.json()
    assert account["base_url"] == server.sdk_base_url
    assert [line["type"] for line in account["lines"]] == ["iMessage", "RCS"]
    other = httpx.post(server.base_url + "/sim/v1/accounts", json={}).json()
    assert len(other["lines"]) == 1
    assert other["api_key"] != account["api_key"]
    with LinqAPIV3(base_url=account["base_url"], api_key=account["api_key"]) as client:
        numbers = [p.phone_number for p in client.phone_numbers.list().phone_numbers]
    assert sorted(numbers) == sorted(line["phone_number"] for line in account["lines"])
    assert not set(numbers) & {line["phone_number"] for line in other["lines"]}


@pytest.mark.parametrize(
    "body", [{"lines": []}, {"lines": ["SMS"]}, {"lines": ["iMessage"] * 11}, {"name": ""}]
)
def test_a_bad_test_account_request_is_a_linq_400(
    server: RunningServer, body: dict[str, Any]
) -> None:
    _assert_linq_error(httpx.post(server.base_url + "/sim/v1/accounts", json=body), 400, 1005)


@pytest.fixture(scope="module")
def hosted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with server_with(
        tmp_path_factory.mktemp("hosted-harness"), hosted_mode=True, operator_api_key=OPERATOR_KEY
    ) as running:
        yield running


def test_in_hosted_mode_only_the_operator_makes_test_accounts(hosted: RunningServer) -> None:
    url = hosted.base_url + "/sim/v1/accounts"
    _assert_linq_error(httpx.post(url, json={}), 403, 2005)
    _assert_linq_error(httpx.post(url, json={}, headers={"X-Operator-Key": "wrong"}), 403, 2005)
    created = httpx.post(url, json={}, headers={"X-Operator-Key": OPERATOR_KEY})
    assert created.status_code == 201, created.text
    key = created.json()["api_key"]
    settle = httpx.post(
        hosted.base_url + "/sim/v1/settle", headers={"Authorization": f"Bearer {key}"}
    )
    _assert_linq_error(settle, 403, 2005)


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server of its own: settle's ``pending`` counts every account's jobs, and the
    session server carries what other tests left scheduled (webhook retries, slow phones)."""
    with server_with(tmp_path_factory.mktemp("quiet-harness")) as running:
        yield running


@pytest.fixture
def alone(quiet: RunningServer) -> Iterator[Tenant]:
    with tenant_on(quiet) as tenant:
        yield tenant


def test_settle_plays_out_every_delay_in_order(alone: Tenant) -> None:
    tenant = alone
    bot = magic("05")  # reads after 1 s, types, echoes after 2 s more
    _send(tenant, bot, "hello there")
    settled = tenant.http.post("/sim/v1/settle", json={}).json()
    assert settled["pending"] == 0
    assert settled["advanced_seconds"] >= 3.0
    assert settled["jobs_run"] > 0
    [echo] = tenant.sim.events("message.received")
    assert echo["data"]["parts"] == [{"type": "text", "value": "echo: hello there"}]
    assert [m["delivery_status"] for m in tenant.sim.screen(bot)][:1] == ["read"]


def test_settle_with_no_horizon_only_runs_what_is_due(alone: Tenant) -> None:
    tenant = alone
    _send(tenant, magic("05"), "hello")
    settled = tenant.http.post("/sim/v1/settle", json={"max_seconds": 0}).json()
    assert settled["advanced_seconds"] == 0
    assert settled["pending"] > 0  # the read receipt and the echo are still to come
    assert tenant.sim.events("message.received") == []
    assert tenant.http.post("/sim/v1/settle").json()["pending"] == 0  # no body: the default


def test_next_message_returns_what_the_agent_sent_and_moves_past_it(tenant: Tenant) -> None:
    chat, first = _send(tenant, PHONE, "first")
    second = tenant.client.chats.messages.send(
        chat,
        message={"parts": [{"type": "text", "value": "second: order 42"}]},
    ).message.id
    found = _next(tenant, PHONE, timeout=0)
    assert (found["message"]["message_id"], found["text"]) == (first, "first")
    assert found["message"]["direction"] == "received"
    assert _next(tenant, PHONE, after=first, timeout=0)["message"]["message_id"] == second
    assert _next(tenant, PHONE, matching=r"order \d+", timeout=0)["text"] == "second: order 42"
    assert _next(tenant, PHONE, after=second, timeout=0) == {"message": None, "text": None}
    assert _next(tenant, magic("05"), timeout=0)["message"] is None  # another phone


def test_next_message_after_an_unknown_message_is_a_404(tenant: Tenant) -> None:
    _, sent = _send(tenant, PHONE, "hello")
    _, elsewhere = _send(tenant, magic("04"), "someone else")
    for after in ("00000000-0000-0000-0000-000000000000", elsewhere):
        response = tenant.http.get(
            f"/sim/v1/devices/{PHONE}/next-message", params={"after": after, "timeout": 0}
        )
        _assert_linq_error(response, 404, 2002)
    assert _next(tenant, PHONE, after=sent, timeout=0)["message"] is None


def test_next_message_waits_for_a_message_sent_later(tenant: Tenant) -> None:
    timer = threading.Timer(0.3, _send, (tenant, PHONE, "thought about it"))
    began = time.monotonic()
    timer.start()
    try:
        found = _next(tenant, PHONE, timeout=10)
    finally:
        timer.join()
    assert found["text"] == "thought about it"
    assert 0.25 < time.monotonic() - began < 5


def test_next_message_gives_up_after_its_timeout(tenant: Tenant) -> None:
    began = time.monotonic()
    assert _next(tenant, PHONE, timeout=0.3)["message"] is None
    assert 0.3 <= time.monotonic() - began < 3


@pytest.mark.parametrize("params", [{"matching": "(unclosed"}, {"timeout": 31}, {"timeout": -1}])
def test_a_bad_next_message_request_is_a_linq_400(tenant: Tenant, params: dict[str, Any]) -> None:
    response = tenant.http.get(f"/sim/v1/devices/{PHONE}/next-message", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] in (1003, 1005)


def test_the_harness_needs_the_account_key(server: RunningServer, tmp_path: Path) -> None:
    _assert_linq_error(httpx.post(server.base_url + "/sim/v1/settle"), 401, 2004)
    _assert_linq_error(
        httpx.get(server.base_url + f"/sim/v1/devices/{PHONE}/next-message"), 401, 2004
    )
