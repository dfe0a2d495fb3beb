"""/console/lines over real HTTP: lines, accounts, API keys and contact cards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.console import ConsoleClient
from tests.support.server import RunningServer, server_with
from tests.support.tenant import Tenant, create_tenant, fresh_line_number


@pytest.fixture
def other(server: RunningServer) -> Iterator[Tenant]:
    """A second account: the console shows one and must not reach into the other."""
    created = create_tenant(server)
    yield created
    created.client.close()
    created.http.close()


def _status(server: RunningServer, key: str) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.get(f"{server.base_url}/v3/phone_numbers", headers=headers).status_code


def _ok(console: ConsoleClient, path: str, json: Any, *, method: str = "POST") -> Any:
    response = console.act(method, path, json=json)
    assert response.status_code == 200, response.text
    return response.json()


def _error(response: httpx.Response, status: int, code: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code, body
    return str(body["error"]["message"])


def _account_row(console: ConsoleClient, account_id: str) -> str:
    html = console.page("/console/lines/accounts")
    return html.split(f'data-account="{account_id}"')[1].split("</tr>")[0]


def test_the_page_shows_the_account_s_lines_keys_and_accounts(
    console: ConsoleClient, tenant: Tenant
) -> None:
    html = console.page("/console/lines")
    for line in tenant.lines:
        assert f'data-line="{line.phone_number}"' in html
    assert 'aria-current="page">Lines &amp; keys' in html
    assert "ACTIVE" in html
    assert "HEALTHY" in html
    assert f'data-account="{tenant.account_id}"' in html
    assert tenant.api_key[:8] + "…" in html
    assert tenant.api_key not in html


def test_flagging_a_line_fires_the_webhook_event_and_restoring_it_too(
    console: ConsoleClient, tenant: Tenant
) -> None:
    answer = _ok(
        console, "/console/lines/status", {"phone_number": tenant.line, "status": "FLAGGED"}
    )
    assert answer["status"] == "FLAGGED"
    row = console.page("/console/lines/numbers").split(f'data-line="{tenant.line}"')[1]
    assert "FLAGGED" in row.split("</tr>")[0]
    _ok(console, "/console/lines/status", {"phone_number": tenant.line, "status": "ACTIVE"})
    changes = [
        (e["data"]["previous_status"], e["data"]["new_status"])
        for e in tenant.sim.events("phone_number.status_updated")
    ]
    assert changes == [("ACTIVE", "FLAGGED"), ("FLAGGED", "ACTIVE")]


def test_an_action_without_the_page_token_changes_nothing(
    server: RunningServer, tenant: Tenant
) -> None:
    response = httpx.post(
        f"{server.base_url}/console/lines/status",
        params={"account": tenant.account_id},
        json={"phone_number": tenant.line, "status": "FLAGGED"},
    )
    _error(response, 403, 2005)
    assert tenant.sim.events("phone_number.status_updated") == []


def test_another_account_s_line_cannot_be_flagged(console: ConsoleClient, other: Tenant) -> None:
    response = console.act(
        "POST", "/console/lines/status", json={"phone_number": other.line, "status": "FLAGGED"}
    )
    _error(response, 403, 2006)
    assert other.sim.events("phone_number.status_updated") == []


def test_a_line_is_added_and_a_taken_number_is_a_conflict(
    console: ConsoleClient, tenant: Tenant
) -> None:
    number = fresh_line_number()
    _ok(console, "/console/lines/add", {"phone_number": number, "line_type": "RCS"})
    assert f'data-line="{number}"' in console.page("/console/lines/numbers")
    numbers = tenant.client.phone_numbers.list().phone_numbers
    assert {n.phone_number: n.line_type for n in numbers}[number] == "RCS"
    # Regression: a number of another account used to escape as a 500.
    message = _error(
        console.act("POST", "/console/lines/add", json={"phone_number": number}), 409, 2015
    )
    assert "already belongs" in message
    _error(console.act("POST", "/console/lines/add", json={"phone_number": "0123"}), 400, 1002)


def test_a_key_is_shown_once_listed_by_prefix_and_revoked(
    server: RunningServer, console: ConsoleClient
) -> None:
    secret = _ok(console, "/console/lines/keys", {"name": "ci"})["shown_once"]["value"]
    assert _status(server, secret) == 200
    keys = console.page("/console/lines/keys")
    assert secret[:8] + "…" in keys
    assert secret not in keys
    key_id = keys.split(f"{secret[:8]}…")[0].rsplit('data-key="', 1)[1].split('"')[0]
    _ok(console, "/console/lines/keys/revoke", {"key_id": key_id})
    assert _status(server, secret) == 401
    _error(console.act("POST", "/console/lines/keys/revoke", json={"key_id": key_id}), 409, 2015)


def test_another_account_s_key_cannot_be_revoked(
    server: RunningServer, console: ConsoleClient, other: Tenant
) -> None:
    (key,) = server.call(server.services.accounts.keys, other.account_id)
    # Regression: the revoke used to reach any account's key by its id.
    response = console.act("POST", "/console/lines/keys/revoke", json={"key_id": key["id"]})
    _error(response, 409, 2015)
    assert _status(server, other.api_key) == 200


def test_rotating_issues_a_new_key_and_revokes_the_others(
    server: RunningServer, console: ConsoleClient, tenant: Tenant
) -> None:
    answer = _ok(console, "/console/lines/keys/rotate", {"name": None})
    fresh = answer["shown_once"]["value"]
    assert _status(server, fresh) == 200
    assert _status(server, tenant.api_key) == 401


def test_an_account_is_created_with_its_key_shown_once(
    server: RunningServer, console: ConsoleClient
) -> None:
    answer = _ok(console, "/console/lines/accounts", {"name": "acme", "tier": "sandbox"})
    account_id, key = answer["account"]["id"], answer["shown_once"]["value"]
    assert server.call(server.services.accounts.authenticate, key).id == account_id
    assert "sandbox" in _account_row(console, account_id)
    assert "100 a day" in _account_row(console, account_id)
    _error(console.act("POST", "/console/lines/accounts", json={"name": ""}), 400, 1005)


def test_the_policy_changes_and_out_of_range_values_are_refused(
    server: RunningServer, console: ConsoleClient, tenant: Tenant
) -> None:
    policy = {"pair_limit_per_minute": 0, "daily_message_limit": 7, "retention_hours": 12}
    _ok(console, "/console/lines/policy", policy)
    account = server.call(server.services.accounts.get, tenant.account_id)
    assert (account.pair_limit_per_minute, account.daily_message_limit) == (0, 7)
    assert account.retention_hours == 12
    row = _account_row(console, tenant.account_id)
    assert "7 a day" in row
    assert "12 h" in row
    # Regression: negative or overflowing limits used to be stored (a negative limit
    # refuses every message; an overflowing one fails on PostgreSQL's integer column).
    for bad in (
        {"pair_limit_per_minute": -1},
        {"daily_message_limit": 2**31},
        {"retention_hours": -0.5},
        {"retention_hours": 1e12},
    ):
        _error(console.act("POST", "/console/lines/policy", json=bad), 400, 1005)
    unchanged = server.call(server.services.accounts.get, tenant.account_id)
    assert unchanged.daily_message_limit == 7


def test_contact_cards_follow_the_api_s_rules(console: ConsoleClient, tenant: Tenant) -> None:
    card = {"phone_number": tenant.line, "first_name": "Ada", "last_name": "Lovelace"}
    _ok(console, "/console/lines/cards", card)
    _error(console.act("POST", "/console/lines/cards", json=card), 409, 2014)
    _ok(
        console,
        "/console/lines/cards",
        {"phone_number": tenant.line, "image_url": "https://example.com/ada.png"},
        method="PATCH",
    )
    (seen,) = tenant.client.contact_card.retrieve(phone_number=tenant.line).contact_cards
    assert (seen.first_name, seen.last_name) == ("Ada", "Lovelace")
    assert seen.image_url == "https://example.com/ada.png"
    assert "Ada Lovelace" in console.page("/console/lines/cards")
    # Creates and changes share 3 writes per 10 minutes per line, as in the API.
    patch = {"phone_number": tenant.line, "last_name": "King"}
    _ok(console, "/console/lines/cards", patch, method="PATCH")
    _error(console.act("PATCH", "/console/lines/cards", json=patch), 429, 1007)
    no_card = {"phone_number": tenant.lines[1].phone_number, "first_name": "Bo"}
    _error(console.act("PATCH", "/console/lines/cards", json=no_card), 404, 2012)
    bad_image = {**no_card, "image_url": "ftp://example.com/bo.png"}
    _error(console.act("POST", "/console/lines/cards", json=bad_image), 400, 1004)


def test_hosted_these_are_operator_actions(tmp_path: Path) -> None:
    operator = "o" * 40
    with server_with(tmp_path, hosted_mode=True, operator_api_key=operator) as hosted:
        hosted.call(hosted.services.accounts.create_account, "acme")
        with httpx.Client(base_url=hosted.base_url) as http:
            page = http.get("/console/lines", follow_redirects=False)
            assert (page.status_code, page.headers["location"]) == (303, "/console/sign-in")
            create = {"name": "intruder"}
            token = {"X-Console-Token": "x"}
            _error(http.post("/console/lines/accounts", json=create, headers=token), 401, 2004)
            accounts = hosted.call(hosted.services.accounts.list_accounts)
            assert [a.name for a, _ in accounts] == ["acme"]
            http.post("/console/sign-in", data={"key": operator})
            page = http.get("/console/lines")
            assert page.status_code == 200
            token["X-Console-Token"] = page.text.split('name="olq-token" content="')[1][:64]
            created = http.post("/console/lines/accounts", json=create, headers=token)
            assert created.status_code == 200, created.text
            accounts = hosted.call(hosted.services.accounts.list_accounts)
            assert [a.name for a, _ in accounts] == ["acme", "intruder"]


def test_a_line_is_released_put_on_zero_retention_and_its_card_deleted(
    console: ConsoleClient, tenant: Tenant
) -> None:
    second = tenant.lines[1].phone_number
    _ok(console, "/console/lines/zero-retention", {"phone_number": tenant.line, "enabled": True})
    row = console.page("/console/lines/numbers").split(f'data-line="{tenant.line}"')[1]
    assert "zero retention" in row.split("</tr>")[0]
    _ok(console, "/console/lines/cards", {"phone_number": second, "first_name": "Bo"})
    assert "Delete the contact card" in console.page("/console/lines/cards")
    _ok(console, "/console/lines/cards", {"phone_number": second}, method="DELETE")
    _error(console.act("DELETE", "/console/lines/cards", json={"phone_number": second}), 404, 2012)
    _ok(console, "/console/lines/release", {"phone_number": second})
    assert f'data-line="{second}"' not in console.page("/console/lines/numbers")
    _error(console.act("POST", "/console/lines/release", json={"phone_number": second}), 403, 2006)
    events = {e["event_type"]: e["data"] for e in tenant.sim.events()}
    assert set(events) >= {
        "zero_day_retention.updated",
        "contact_card.deleted",
        "phone_number.released",
    }
    for account_event in ("zero_day_retention.updated", "contact_card.deleted"):
        assert events[account_event]["origin"] == "dashboard"
    assert events["phone_number.released"]["phone_number"] == second


def test_a_line_s_carrier_is_set_and_shown_with_its_secrets_masked(
    console: ConsoleClient, tenant: Tenant, server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.relay_carrier import KIND

    monkeypatch.setitem(server.services.carriers.kinds, "relay", KIND)
    html = console.page("/console/lines")
    assert '<form class="row line-carrier" data-action="/console/lines/carrier"' in html
    row = console.page("/console/lines/numbers").split(f'data-line="{tenant.line}"')[1]
    assert "<td data-carrier>simulator</td>" in row.split("</tr>")[0]
    settings = "url=http://127.0.0.1:9/relay\npassword=hunter2-secret\n"
    body = {"phone_number": tenant.line, "carrier": "relay", "settings": settings}
    changed = _ok(console, "/console/lines/carrier", body)
    assert changed["settings"]["password"] == "••••"
    # The inbound URL carries the endpoint's token: the shown-once dialog, not the toast.
    assert "/carriers/relay/" in changed["shown_once"]["value"]
    assert "/carriers/" not in changed["message"]
    row = console.page("/console/lines/numbers").split(f'data-line="{tenant.line}"')[1]
    cell = row.split("<td data-carrier>")[1].split("</td>")[0]
    assert cell.startswith("relay")
    assert "password=••••" in cell
    assert "url=http://127.0.0.1:9/relay" in cell
    assert "hunter2" not in console.page("/console/lines")
    wrong = {"phone_number": tenant.line, "carrier": "relay", "settings": "url=http://x"}
    assert "url and password are required" in _error(
        console.act("POST", "/console/lines/carrier", json=wrong), 400, 1005
    )
    reset = {"phone_number": tenant.line, "carrier": "simulator"}
    assert _ok(console, "/console/lines/carrier", reset)["carrier"] == "simulator"


def test_another_account_s_line_gets_no_carrier(console: ConsoleClient, other: Tenant) -> None:
    body = {"phone_number": other.line, "carrier": "simulator"}
    _error(console.act("POST", "/console/lines/carrier", json=body), 403, 2006)
