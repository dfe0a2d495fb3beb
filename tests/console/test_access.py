"""Who may use the console: open locally, operator-only when hosted, a token on every action."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.console import ConsoleClient
from tests.support.server import RunningServer, server_with
from tests.support.tenant import Tenant

OPERATOR_KEY = "o" * 40


def test_the_root_opens_the_console(server: RunningServer) -> None:
    response = httpx.get(server.base_url + "/", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (302, "/console")


@pytest.mark.parametrize("token", [None, "", "0" * 64])
def test_an_action_without_the_page_token_is_refused_and_changes_nothing(
    server: RunningServer, console: ConsoleClient, token: str | None
) -> None:
    before = server.services.clock.now()
    headers = {} if token is None else {"X-Console-Token": token}
    response = console.http.post("/console/clock/advance", json={"seconds": 60}, headers=headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == 2005
    assert server.services.clock.now() == before


def test_an_action_with_the_page_token_runs(server: RunningServer, console: ConsoleClient) -> None:
    before = server.services.clock.now()
    response = console.act("POST", "/console/clock/advance", json={"seconds": 2})
    assert response.status_code == 200, response.text
    assert (server.services.clock.now() - before).total_seconds() == 2


def test_a_page_shows_the_account_it_was_opened_for_and_remembers_it(
    server: RunningServer, tenant: Tenant
) -> None:
    with httpx.Client(base_url=server.base_url) as http:
        first = http.get("/console/clock", params={"account": tenant.account_id})
        assert f'<meta name="olq-account" content="{tenant.account_id}">' in first.text
        again = http.get("/console/clock")  # no ?account=: the cookie remembers it
        assert f'<meta name="olq-account" content="{tenant.account_id}">' in again.text


def test_choosing_an_unknown_account_is_a_404(console: ConsoleClient) -> None:
    response = console.http.post(
        "/console/account",
        params={"account": "no-such-account"},
        headers={"X-Console-Token": console.token},
    )
    assert response.status_code == 404
    assert response.json()["success"] is False


@pytest.fixture(scope="module")
def hosted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with server_with(
        tmp_path_factory.mktemp("hosted-console"),
        hosted_mode=True,
        operator_api_key=OPERATOR_KEY,
        dev_api_key="d" * 40,
    ) as running:
        yield running


def test_hosted_without_an_operator_key_has_no_console(tmp_path: Path) -> None:
    with server_with(tmp_path, hosted_mode=True) as running:
        for path in ("/console", "/console/clock", "/console/sign-in", "/console/live"):
            response = httpx.get(running.base_url + path, follow_redirects=False)
            assert response.status_code == 404, path
            assert response.json()["error"]["code"] == 1005


def test_hosted_pages_ask_for_the_operator_key(hosted: RunningServer) -> None:
    with httpx.Client(base_url=hosted.base_url) as http:
        page = http.get("/console/clock", follow_redirects=False)
        assert (page.status_code, page.headers["location"]) == (303, "/console/sign-in")
        live = http.get("/console/live")
        assert live.status_code == 303
        action = http.post("/console/clock/run", headers={"X-Console-Token": "x"})
        assert (action.status_code, action.json()["error"]["code"]) == (401, 2004)


def test_hosted_sign_in_with_a_wrong_key_is_refused(hosted: RunningServer) -> None:
    with httpx.Client(base_url=hosted.base_url) as http:
        response = http.post("/console/sign-in", data={"key": "d" * 40})
        assert response.status_code == 401
        assert "not the operator key" in response.text
        assert "olq_console" not in http.cookies


def test_hosted_sign_in_with_the_operator_key_opens_the_console(hosted: RunningServer) -> None:
    with httpx.Client(base_url=hosted.base_url) as http:
        signed = http.post("/console/sign-in", data={"key": OPERATOR_KEY}, follow_redirects=False)
        assert (signed.status_code, signed.headers["location"]) == (303, "/console")
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        page = http.get("/console/clock")
        assert page.status_code == 200
        assert "Job queue" in page.text
