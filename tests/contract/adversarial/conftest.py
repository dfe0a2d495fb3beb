"""The adversarial suite's shared world: one account with a resource of every kind.

Every endpoint is attacked with ids that exist (a chat, a group, a message, an
attachment, a subscription with deliveries, a contact card, a simulated phone), so
hostile values reach the validation and storage code behind the 404s. Destructive
endpoints get their own throw-away resources.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from openlinq.domain.ids import AccountId
from tests.support.adversarial import SENT, Probe
from tests.support.files import PNG, wav
from tests.support.server import RunningServer
from tests.support.tenant import Tenant, create_tenant

HANDLE = "+14155552671"  # a plain simulated iPhone: delivers at once, never replies
OTHERS = ["+14155552672", "+14155552673"]
DEAD_HOOK = "http://127.0.0.1:9/hook"  # nothing listens: a delivery fails at once


@dataclass
class World:
    server: RunningServer
    tenant: Tenant
    http: httpx.Client
    values: dict[str, str]

    def probe(self) -> Probe:
        """A fresh failure collector for one test."""
        return Probe(self.server, self.http)


def _ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, (response.request.url, response.status_code, response.text)
    return response.json() if response.content else None


def _upload(http: httpx.Client, name: str, content_type: str, data: bytes) -> dict[str, Any]:
    created = _ok(
        http.post(
            "/v3/attachments",
            json={"filename": name, "content_type": content_type, "size_bytes": len(data)},
        )
    )
    _ok(httpx.put(created["upload_url"], content=data, headers=created["required_headers"]))
    return dict(created)


def _text(value: str) -> dict[str, Any]:
    return {"parts": [{"type": "text", "value": value}]}


def _build(server: RunningServer, tenant: Tenant) -> dict[str, str]:
    http = tenant.http
    server.call(
        partial(
            server.services.accounts.set_policy,
            AccountId(tenant.account_id),
            pair_limit_per_minute=0,
            daily_message_limit=0,
            retention_hours=None,
        )
    )
    subscription = _ok(
        http.post(
            "/v3/webhook-subscriptions",
            json={"target_url": DEAD_HOOK, "subscribed_events": ["message.sent", "chat.created"]},
        )
    )
    doomed_subscription = _ok(
        http.post(
            "/v3/webhook-subscriptions",
            json={"target_url": f"{DEAD_HOOK}/doomed", "subscribed_events": ["message.sent"]},
        )
    )
    chat = _ok(
        http.post(
            "/v3/chats", json={"from": tenant.line, "to": [HANDLE], "message": _text("hello")}
        )
    )["chat"]
    group = _ok(
        http.post(
            "/v3/chats", json={"from": tenant.line, "to": OTHERS, "message": _text("group hi")}
        )
    )["chat"]
    doomed_group = _ok(
        http.post(
            "/v3/chats",
            json={"from": tenant.line, "to": [HANDLE, *OTHERS], "message": _text("bye")},
        )
    )["chat"]
    chat_id = chat["id"]
    doomed = _ok(http.post(f"/v3/chats/{chat_id}/messages", json={"message": _text("doomed")}))
    card = {
        "type": "imessage_app",
        "app": {"name": "App", "bundle_id": "com.example.app", "team_id": "ABCDE12345"},
        "layout": {"caption": "Caption"},
        "url": "https://example.com/card",
        "fallback_text": "a card",
    }
    app_message = _ok(
        http.post(f"/v3/chats/{chat_id}/messages", json={"message": {"parts": [card]}})
    )
    image = _upload(http, "pic.png", "image/png", PNG)
    pending = _ok(
        http.post(
            "/v3/attachments",
            json={"filename": "later.png", "content_type": "image/png", "size_bytes": len(PNG)},
        )
    )
    doomed_image = _upload(http, "doomed.png", "image/png", PNG)
    audio = _upload(http, "memo.wav", "audio/x-wav", wav(0.5))
    inbound = _ok(
        http.post(f"/sim/v1/devices/{HANDLE}/messages", json={"to": tenant.line, "text": "yo"})
    )
    audit = _ok(http.post(f"/v3/phone_numbers/{tenant.line}/reputation_audit"))
    _ok(http.post("/sim/v1/clock/advance", json={"seconds": 1}))
    deliveries = _ok(http.get(f"/v3/webhook-subscriptions/{subscription['id']}/deliveries"))
    _ok(
        http.post(
            "/v3/contact_card",
            json={"phone_number": tenant.line, "first_name": "Ada", "last_name": "L"},
        )
    )
    phones = _ok(http.get("/v3/phone_numbers"))["phone_numbers"]
    chats_page = _ok(http.get("/v3/chats", params={"limit": 1}))
    upload = urlsplit(pending["upload_url"])
    download = urlsplit(image["download_url"])
    return {
        "$line": tenant.line,
        "$line2": tenant.lines[1].phone_number,
        "$handle": HANDLE,
        "$other": OTHERS[0],
        "$chat": chat_id,
        "$group": group["id"],
        "$doomed_group": doomed_group["id"],
        "$message": chat["message"]["id"],
        "$doomed_message": doomed["message"]["id"],
        "$app_message": app_message["message"]["id"],
        "$inbound": inbound["message_id"],
        "$attachment": image["attachment_id"],
        "$doomed_attachment": doomed_image["attachment_id"],
        "$audio": audio["attachment_id"],
        "$subscription": subscription["id"],
        "$doomed_subscription": doomed_subscription["id"],
        "$delivery": deliveries["deliveries"][0]["id"],
        "$phone_id": phones[0]["id"],
        "$audit": audit["audit_id"],
        "$cursor": chats_page["next_cursor"] or "",
        "$upload_id": upload.path.split("/")[-1],
        "$download_id": download.path.split("/")[-2],
        "$download_name": download.path.split("/")[-1],
        **{f"$upload_{k}": v for k, v in parse_qsl(upload.query)},
        **{f"$download_{k}": v for k, v in parse_qsl(download.query)},
    }


@pytest.fixture(scope="session")
def world(server: RunningServer) -> Iterator[World]:
    tenant = create_tenant(server)
    http = httpx.Client(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {tenant.api_key}"},
        timeout=60,
        follow_redirects=False,
    )
    try:
        yield World(server, tenant, http, _build(server, tenant))
    finally:
        http.close()
        tenant.client.close()
        tenant.http.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SENT["requests"]:
        terminalreporter.write_line(
            f"adversarial suite: {SENT['requests']} hostile requests sent "
            "(derandomized: the same requests every run)"
        )
