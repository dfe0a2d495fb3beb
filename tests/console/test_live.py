"""/console/live streams the account's events as they are recorded, and only its own."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.support.console import ConsoleClient
from tests.support.server import RunningServer
from tests.support.tenant import Tenant, create_tenant, magic


def _updates(stream: httpx.Response, wanted: int) -> list[dict[str, Any]]:
    updates: list[dict[str, Any]] = []
    event = ""
    for line in stream.iter_lines():
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event == "update":
            updates.append(json.loads(line.removeprefix("data: ")))
            if len(updates) == wanted:
                break
    return updates


def test_the_live_stream_carries_the_accounts_events_in_order(
    server: RunningServer, tenant: Tenant, console: ConsoleClient
) -> None:
    other = create_tenant(server)
    with console.http.stream(
        "GET", "/console/live", params={"account": tenant.account_id}, timeout=10
    ) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        # Another account's activity is not shown on this account's pages.
        other.client.chats.create(
            from_=other.line, to=[magic("04")], message={"parts": [{"type": "text", "value": "x"}]}
        )
        created = tenant.client.chats.create(
            from_=tenant.line,
            to=[magic("04")],
            message={"parts": [{"type": "text", "value": "hi"}]},
        )
        tenant.sim.advance(0)
        updates = _updates(stream, 3)
    chat_id = created.chat.id
    assert [u["type"] for u in updates] == ["chat.created", "message.sent", "message.delivered"]
    assert all(u["chat_id"] == chat_id for u in updates)
    assert updates[1]["message_id"] == created.chat.message.id
    other.client.close()
    other.http.close()
