"""Hosted mode over real HTTP: what an account may not do, and what the operator may."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import RunningServer, server_with
from tests.support.tenant import Tenant, magic, tenant_on

OPERATOR_KEY = "op_" + "o" * 40
DEV_KEY = "dev_" + "d" * 40


@pytest.fixture(scope="module")
def hosted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Hosted mode as most deployments run it: no operator key, docs on (the default)."""
    with server_with(tmp_path_factory.mktemp("hosted"), hosted_mode=True) as running:
        yield running


@pytest.fixture(scope="module")
def operated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Hosted mode with an operator key and a dev key, docs turned off."""
    with server_with(
        tmp_path_factory.mktemp("operated"),
        hosted_mode=True,
        operator_api_key=OPERATOR_KEY,
        dev_api_key=DEV_KEY,
        api_docs=False,
    ) as running:
        yield running


@pytest.fixture
def account(hosted: RunningServer) -> Iterator[Tenant]:
    with tenant_on(hosted) as tenant:
        yield tenant


def _assert_linq_error(response: httpx.Response, status: int, code: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert (body["error"]["status"], body["error"]["code"]) == (status, code)
    assert body["trace_id"]


def _simulator_calls(tenant: Tenant) -> list[tuple[str, str, dict[str, Any] | None]]:
    phone = magic("05")
    return [
        ("GET", f"/sim/v1/devices/{phone}", None),
        ("PUT", f"/sim/v1/devices/{phone}", {"preset": "iphone"}),
        ("POST", f"/sim/v1/devices/{phone}/messages", {"to": tenant.line, "text": "START"}),
        ("PUT", f"/sim/v1/lines/{tenant.line}", {"status": "ACTIVE"}),
        ("GET", "/sim/v1/events", None),
        ("POST", "/sim/v1/clock/advance", {"seconds": 1}),
        ("POST", "/sim/v1/jobs/run", None),
    ]


def test_no_account_can_reach_the_simulator_or_run_jobs(account: Tenant) -> None:
    for method, path, body in _simulator_calls(account):
        _assert_linq_error(account.http.request(method, path, json=body), 404, 1005)
    # The Linq API itself works as ever.
    assert account.http.get("/v3/phone_numbers").status_code == 200


def test_no_sandbox_account_is_created(hosted: RunningServer, account: Tenant) -> None:
    accounts = hosted.call(hosted.services.accounts.list_accounts)
    assert [a.name for a, _ in accounts if a.name == "sandbox" or a.tier.value == "local"] == []


def test_docs_are_served_by_default(hosted: RunningServer) -> None:
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert httpx.get(hosted.base_url + path).status_code == 200, path
    paths = httpx.get(hosted.base_url + "/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/sim/")]


def test_docs_can_be_turned_off(operated: RunningServer) -> None:
    for path in ("/docs", "/redoc", "/openapi.json", "/static/docs/swagger-ui-bundle.js"):
        _assert_linq_error(httpx.get(operated.base_url + path), 404, 1005)


def test_the_operator_key_opens_the_simulator_but_not_the_job_runner(
    operated: RunningServer,
) -> None:
    with tenant_on(operated) as tenant:
        device = f"/sim/v1/devices/{magic('05')}"
        _assert_linq_error(tenant.http.get(device), 403, 2005)
        _assert_linq_error(
            tenant.http.get(device, headers={"X-Operator-Key": OPERATOR_KEY[:-1] + "x"}), 403, 2005
        )
        operator = {"X-Operator-Key": OPERATOR_KEY}
        assert tenant.http.get(device, headers=operator).status_code == 200
        _assert_linq_error(tenant.http.post("/sim/v1/jobs/run", headers=operator), 404, 1005)


def test_a_dev_key_the_operator_chose_makes_the_sandbox(operated: RunningServer) -> None:
    response = httpx.get(
        operated.base_url + "/v3/phone_numbers", headers={"Authorization": f"Bearer {DEV_KEY}"}
    )
    assert response.status_code == 200
    assert len(response.json()["phone_numbers"]) == 4


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://[::1]/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/latest",
        "http://1.1.1.1/hook",
    ],
)
def test_private_or_plain_http_webhook_targets_are_refused_when_set(
    account: Tenant, url: str
) -> None:
    create = account.http.post(
        "/v3/webhook-subscriptions", json={"target_url": url, "subscribed_events": ["message.sent"]}
    )
    _assert_linq_error(create, 400, 1005)
    public = account.client.webhook_subscriptions.create(
        target_url=f"https://1.1.1.1/hook?n={len(url)}", subscribed_events=["message.sent"]
    )
    update = account.http.put(f"/v3/webhook-subscriptions/{public.id}", json={"target_url": url})
    _assert_linq_error(update, 400, 1005)
    stored = account.client.webhook_subscriptions.list().subscriptions
    assert [s.target_url for s in stored] == [public.target_url]


@pytest.mark.parametrize("setting", ["OPENLINQ_DEV_API_KEY", "OPENLINQ_METRICS_TOKEN"])
def test_a_short_key_stops_the_server_with_one_line(tmp_path: Path, setting: str) -> None:
    env = {
        **os.environ,
        "OPENLINQ_DATA_DIR": str(tmp_path / "data"),
        "OPENLINQ_HOSTED_MODE": "true",
        setting: "only-twenty-chars-xx",
    }
    result = subprocess.run(
        [sys.executable, "-m", "openlinq", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"openlinq: invalid configuration: {setting} must be at least 32 characters in hosted mode"
    ]
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    "url", ["http://example.com/person", "https://127.0.0.1/person", "https://[::1]/person"]
)
def test_a_device_webhook_must_be_public_https_in_hosted_mode(
    operated: RunningServer, url: str
) -> None:
    with tenant_on(operated) as tenant:
        response = tenant.http.put(
            f"/sim/v1/devices/{magic('05')}",
            json={"webhook_url": url},
            headers={"X-Operator-Key": OPERATOR_KEY},
        )
        _assert_linq_error(response, 400, 1005)
        assert "webhook_url" in response.json()["error"]["message"]


def test_payment_requests_start_disabled_until_the_operator_enables_them(
    operated: RunningServer,
) -> None:
    with tenant_on(operated) as tenant:
        body = {"amount": 500, "currency": "usd"}
        _assert_linq_error(tenant.http.post("/v3/payment_requests", json=body), 403, 2011)
        enabled = tenant.http.put(
            "/sim/v1/payments/onboarding",
            json={"stripe_charges_enabled": True},
            headers={"X-Operator-Key": OPERATOR_KEY},
        )
        assert enabled.json() == {"stripe_charges_enabled": True, "natural_onboarded": False}
        created = tenant.http.post("/v3/payment_requests", json=body)
        assert created.status_code == 201, created.text
