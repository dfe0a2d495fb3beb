"""Every paginated list takes only the cursors it handed out: anything else a client
sends (``domain/cursors.py``) is 400 / 1005, on both backends, never a 500."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support.tenant import Tenant

IPHONE = "+14155552671"
TEXT: Any = {"parts": [{"type": "text", "value": "hello"}]}


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


HOSTILE = [
    "²",  # a digit to str.isdigit(), not to int()
    "٣",
    "99999999999999999999999",  # past 64 bits
    "-1",
    "1",  # the old bare sequence number
    _b64("2026-01-01T00:00:00|5"),  # the old chat cursor, with a naive timestamp
    _b64("2026-01-01T00:00:00+00:00|5"),
    _b64("c:99999999999999999|1"),  # past year 9999
    _b64("c:1:99999999999999999999"),
    _b64("m:99999999999999999999"),
    _b64("m:01"),
    _b64("m:1:2"),
    _b64("m:\u00b2"),
    _b64("x:1"),
    "bTox=",  # padding is not part of the alphabet
    "bTox\n",
    "m" * 201,
    "%00",
]


@pytest.fixture
def lists(tenant: Tenant) -> dict[str, Callable[[str], httpx.Response]]:
    """GET each paginated list with a given cursor."""
    created = tenant.http.post(
        "/v3/chats", json={"from": tenant.line, "to": [IPHONE], "message": TEXT}
    ).json()["chat"]
    subscription = tenant.http.post(
        "/v3/webhook-subscriptions",
        json={"target_url": "http://127.0.0.1:9/hook", "subscribed_events": ["message.sent"]},
    ).json()
    paths = {
        "chats": "/v3/chats",
        "messages": f"/v3/chats/{created['id']}/messages",
        "thread": f"/v3/messages/{created['message']['id']}/thread",
        "thread-desc": f"/v3/messages/{created['message']['id']}/thread?order=desc",
        "deliveries": f"/v3/webhook-subscriptions/{subscription['id']}/deliveries",
    }

    def getter(path: str) -> Callable[[str], httpx.Response]:
        return lambda cursor: tenant.http.get(path, params={"cursor": cursor})

    return {name: getter(path) for name, path in paths.items()}


@pytest.mark.parametrize("cursor", HOSTILE)
def test_a_cursor_the_server_did_not_make_is_refused_everywhere(
    lists: dict[str, Callable[[str], httpx.Response]], cursor: str
) -> None:
    for name, get in lists.items():
        response = get(cursor)
        assert response.status_code == 400, (name, response.text)
        assert response.json()["error"]["code"] == 1005, (name, response.text)


def _pages(tenant: Tenant, path: str, key: str, **params: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        body = tenant.http.get(
            path, params={"limit": 1, **params, **({"cursor": cursor} if cursor else {})}
        ).json()
        pages.append([item.get("id") or item.get("event_id") for item in body[key]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_a_cursor_of_one_list_is_refused_by_another(tenant: Tenant) -> None:
    for n in range(2):
        tenant.http.post(
            "/v3/chats", json={"from": tenant.line, "to": [f"+1415555270{n}"], "message": TEXT}
        )
    chats = tenant.http.get("/v3/chats", params={"limit": 1}).json()
    chat_id = chats["chats"][0]["id"]
    tenant.http.post(f"/v3/chats/{chat_id}/messages", json={"message": TEXT})
    messages = tenant.http.get(f"/v3/chats/{chat_id}/messages", params={"limit": 1}).json()
    assert chats["next_cursor"]
    assert messages["next_cursor"]
    wrong = [
        ("/v3/chats", messages["next_cursor"]),
        (f"/v3/chats/{chat_id}/messages", chats["next_cursor"]),
    ]
    for path, cursor in wrong:
        response = tenant.http.get(path, params={"cursor": cursor})
        assert (response.status_code, response.json()["error"]["code"]) == (400, 1005), path


def test_the_cursors_handed_out_page_through_every_list(tenant: Tenant) -> None:
    for n in range(3):
        tenant.http.post(
            "/v3/chats", json={"from": tenant.line, "to": [f"+1415555280{n}"], "message": TEXT}
        )
    chat_pages = _pages(tenant, "/v3/chats", "chats")
    assert len(chat_pages) == 3
    assert len({c for page in chat_pages for c in page}) == 3
    chat_id = chat_pages[0][0]
    for _ in range(2):
        tenant.http.post(f"/v3/chats/{chat_id}/messages", json={"message": TEXT})
    message_pages = _pages(tenant, f"/v3/chats/{chat_id}/messages", "messages")
    assert [len(page) for page in message_pages] == [1, 1, 1]


@pytest.mark.parametrize(
    "since",
    [
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+23:59",
        "2026-01-01T00:00:00",  # no offset
        "10000-01-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
    ],
)
def test_recover_since_a_moment_utc_cannot_hold_is_refused(tenant: Tenant, since: str) -> None:
    subscription = tenant.http.post(
        "/v3/webhook-subscriptions",
        json={"target_url": "http://127.0.0.1:9/hook", "subscribed_events": ["message.sent"]},
    ).json()
    response = tenant.http.post(
        f"/v3/webhook-subscriptions/{subscription['id']}/recover", json={"since": since}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == 1005


def test_recover_takes_any_offset_utc_can_hold(tenant: Tenant) -> None:
    subscription = tenant.http.post(
        "/v3/webhook-subscriptions",
        json={"target_url": "http://127.0.0.1:9/hook", "subscribed_events": ["message.sent"]},
    ).json()
    for since in ["0001-01-01T00:00:00-23:59", "9999-12-31T23:59:59+23:59"]:
        response = tenant.http.post(
            f"/v3/webhook-subscriptions/{subscription['id']}/recover", json={"since": since}
        )
        assert response.status_code == 202, response.text
