"""A line on BlueBubbles, driven through the official SDK against a BlueBubbles-compatible Mac.

The session server routes the line's traffic to its BlueBubbles carrier; the peer
(tests/support/bluebubbles_peer.py) posts the Mac's webhooks back to the server over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from openlinq.domain.models import LineType
from tests.support.bluebubbles_peer import BlueBubblesPeer, running_peer
from tests.support.server import RunningServer
from tests.support.tenant import Tenant, create_tenant

THEM = "+14155557301"


@pytest.fixture
def peer() -> Iterator[BlueBubblesPeer]:
    with running_peer() as running:
        yield running


@pytest.fixture
def mac_line(server: RunningServer, peer: BlueBubblesPeer) -> Iterator[Tenant]:
    """A tenant whose only line sends through the peer."""
    tenant = create_tenant(server, line_types=(LineType.IMESSAGE,))
    server.call(
        server.services.carriers.configure,
        tenant.account_id,
        tenant.line,
        "bluebubbles",
        peer.settings(),
    )
    try:
        yield tenant
    finally:
        tenant.client.close()
        tenant.http.close()


def _send(tenant: Tenant) -> tuple[str, str]:
    created = tenant.client.chats.create(
        from_=tenant.line,
        to=[THEM],
        message={"parts": [{"type": "text", "value": "hello from openlinq"}]},
    )
    tenant.sim.advance(0)  # the send job runs
    return created.chat.id, created.chat.message.id


def test_a_message_is_sent_delivered_read_and_answered(
    mac_line: Tenant, peer: BlueBubblesPeer
) -> None:
    chat_id, message_id = _send(mac_line)
    [call] = peer.calls("message/text")
    assert call.body["chatGuid"] == f"iMessage;-;{THEM}"
    assert call.body["message"] == "hello from openlinq"
    assert mac_line.client.messages.retrieve(message_id).delivery_status == "sent"
    guid = next(iter(peer.state.messages))
    peer.deliver(guid)
    assert mac_line.client.messages.retrieve(message_id).delivery_status == "delivered"
    peer.deliver(guid, read=True)
    assert mac_line.client.messages.retrieve(message_id).delivery_status == "read"
    peer.incoming(THEM, "hello from an iPhone", reply_to=guid)
    peer.incoming(THEM, "", tapback=("love", guid, 0))
    listed = mac_line.client.chats.messages.list(chat_id)
    parts: list[Any] = [p for m in listed.messages for p in m.parts or []]
    texts = [p.value for p in parts if p.type == "text"]
    assert "hello from an iPhone" in texts
    assert len(mac_line.sim.events("message.received")) == 1
    assert len(mac_line.sim.events("reaction.added")) == 1
    reacted = mac_line.client.messages.retrieve(message_id)
    first: Any = (reacted.parts or [])[0]
    assert [r.type for r in first.reactions or []] == ["love"]


def test_the_webhook_url_is_registered_with_the_mac(
    mac_line: Tenant, peer: BlueBubblesPeer, server: RunningServer
) -> None:
    _send(mac_line)
    [hook] = peer.state.webhooks
    assert hook["url"].startswith(f"{server.base_url}/carriers/bluebubbles/")
    assert hook["url"].endswith("/webhook")


def test_an_effect_without_the_private_api_fails_2011(
    mac_line: Tenant, peer: BlueBubblesPeer
) -> None:
    chat_id, _ = _send(mac_line)
    peer.state.private_api = False
    sent = mac_line.client.chats.messages.send(
        chat_id,
        message={
            "parts": [{"type": "text", "value": "boom"}],
            "effect": {"type": "bubble", "name": "slam"},
        },
    )
    mac_line.sim.advance(0)
    failed = mac_line.client.messages.retrieve(sent.message.id)
    assert failed.delivery_status == "failed"
    assert len(peer.state.messages) == 1  # only the first message went out
    [event] = mac_line.sim.events("message.failed")
    assert event["data"]["code"] == 2011


def test_an_unreachable_mac_fails_the_message_4004_after_retries(
    mac_line: Tenant, peer: BlueBubblesPeer
) -> None:
    peer.stop()
    _, message_id = _send(mac_line)
    assert mac_line.client.messages.retrieve(message_id).delivery_status == "queued"
    mac_line.sim.settle(900, step=30)
    assert mac_line.client.messages.retrieve(message_id).delivery_status == "failed"
    [event] = mac_line.sim.events("message.failed")
    assert event["data"]["code"] == 4004
