"""The simulated devices: every magic number's timeline, and service selection."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.tenant import Tenant, magic

TEXT: Any = {"parts": [{"type": "text", "value": "ping"}]}


def _send(tenant: Tenant, to: str, **extra: Any) -> Any:
    message: Any = {**TEXT, **extra}
    return tenant.client.chats.create(from_=tenant.line, to=[to], message=message)


def _status(tenant: Tenant, message_id: str) -> str:
    return tenant.client.messages.retrieve(message_id).delivery_status


def test_nothing_happens_until_the_clock_moves(tenant: Tenant) -> None:
    sent = _send(tenant, "+14155560001").chat.message
    assert _status(tenant, sent.id) == "queued"
    tenant.sim.advance(0)
    message = tenant.client.messages.retrieve(sent.id)
    assert (message.delivery_status, message.is_delivered) == ("delivered", True)
    assert message.sent_at is not None
    assert message.delivered_at is not None


@pytest.mark.parametrize(
    ("handle", "service", "final"),
    [
        ("+14155560002", "iMessage", "delivered"),  # a plain iPhone never reads
        ("someone@example.com", "iMessage", "delivered"),
        (magic("01"), "SMS", "sent"),  # SMS has no receipts
        (magic("02"), "RCS", "delivered"),
        (magic("03"), "iMessage", "failed"),
        (magic("04"), "iMessage", "read"),
        (magic("05"), "iMessage", "read"),
        (magic("06"), "iMessage", "delivered"),
        (magic("07"), "iMessage", "delivered"),
        (magic("08"), "iMessage", "delivered"),
    ],
)
def test_each_device_ends_where_documented(
    tenant: Tenant, handle: str, service: str, final: str
) -> None:
    sent = _send(tenant, handle).chat.message
    assert sent.service == service
    tenant.sim.settle(10)
    assert _status(tenant, sent.id) == final


def test_timelines_to_the_second(tenant: Tenant) -> None:
    slow = _send(tenant, magic("07")).chat.message
    reader = _send(tenant, magic("04")).chat.message
    tenant.sim.advance(0)
    assert (_status(tenant, slow.id), _status(tenant, reader.id)) == ("sent", "delivered")
    tenant.sim.advance(0.9)
    assert _status(tenant, reader.id) == "delivered"
    tenant.sim.advance(0.1)
    assert _status(tenant, reader.id) == "read"
    tenant.sim.advance(3.9)
    assert _status(tenant, slow.id) == "sent"
    tenant.sim.advance(0.1)
    assert _status(tenant, slow.id) == "delivered"


def test_an_unreachable_phone_fails_with_4002(tenant: Tenant) -> None:
    sent = _send(tenant, magic("03")).chat.message
    tenant.sim.advance(0)
    failed = tenant.sim.events("message.failed")[-1]["data"]
    assert (failed["message_id"], failed["code"]) == (sent.id, 4002)


def test_the_echo_bot_reads_types_and_replies(tenant: Tenant) -> None:
    created = _send(tenant, magic("05"))
    tenant.sim.settle(4)
    types = [e["event_type"] for e in tenant.sim.events()]
    assert types.index("message.read") < types.index("chat.typing_indicator.started")
    assert types.index("chat.typing_indicator.stopped") < types.index("message.received")
    replies = tenant.client.chats.messages.list(created.chat.id).messages
    reply: Any = replies[0]
    assert (reply.is_from_me, reply.parts[0].value) == (False, "echo: ping")


def test_the_stopper_replies_stop_once(tenant: Tenant) -> None:
    created = _send(tenant, magic("06"))
    tenant.sim.settle(2)
    tenant.client.chats.messages.send(created.chat.id, message=TEXT, override_optout=True)
    tenant.sim.settle(2)
    messages: Any = tenant.client.chats.messages.list(created.chat.id).messages
    assert [m.parts[0].value for m in messages if not m.is_from_me] == ["STOP"]


def test_the_reactor_loves_each_message(tenant: Tenant) -> None:
    sent = _send(tenant, magic("08")).chat.message
    tenant.sim.settle(1)
    reactions: Any = tenant.client.messages.retrieve(sent.id).parts
    assert [(r.type, r.is_me) for r in reactions[0].reactions] == [("love", False)]
    assert tenant.sim.events("reaction.added")[-1]["data"]["reaction_type"] == "love"


@pytest.mark.parametrize(
    ("to", "preferred", "service", "final"),
    [
        (magic("01"), "iMessage", "iMessage", "failed"),  # iMessage only: no fallback
        ("+14155560003", "RCS", "SMS", "sent"),  # an iPhone has no RCS: SMS
        (magic("02"), "SMS", "RCS", "delivered"),  # SMS preference still prefers RCS
        (magic("02"), None, "RCS", "delivered"),
    ],
)
def test_service_selection(
    tenant: Tenant, to: str, preferred: str | None, service: str, final: str
) -> None:
    extra = {"preferred_service": preferred} if preferred else {}
    sent = _send(tenant, to, **extra).chat.message
    assert sent.service == service
    tenant.sim.advance(0)
    assert _status(tenant, sent.id) == final
    if final == "failed":
        assert tenant.sim.events("message.failed")[-1]["data"]["code"] == 4005


def test_a_group_uses_the_best_service_everyone_has(tenant: Tenant) -> None:
    chat = tenant.client.chats.create(
        from_=tenant.line, to=["+14155560004", magic("02")], message=TEXT
    ).chat
    assert chat.service == "SMS"  # iPhone (iMessage, SMS) + Android (RCS, SMS)


def test_device_profiles_can_be_changed(tenant: Tenant) -> None:
    handle = "+14155560005"
    assert tenant.sim.device(handle)["profile"]["name"] == "iphone"
    tenant.sim.configure(handle, preset="android")
    assert _send(tenant, handle).chat.message.service == "RCS"
    tenant.http.delete(f"/sim/v1/devices/{handle}").raise_for_status()
    assert tenant.sim.device(handle)["configured"] is False
    bad = tenant.http.put(f"/sim/v1/devices/{handle}", json={"preset": "toaster"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, 1005)


def test_the_screen_shows_what_reached_the_device(tenant: Tenant) -> None:
    handle = "+14155560006"
    created = _send(tenant, handle)
    with_effect: Any = {**TEXT, "effect": {"name": "confetti"}}
    tenant.client.chats.messages.send(created.chat.id, message=with_effect)
    tenant.sim.advance(0)
    tenant.sim.send(handle, chat_id=created.chat.id, text="got it")
    screen = tenant.sim.screen(handle)
    assert [(m["direction"], m["parts"][0]["value"]) for m in screen] == [
        ("received", "ping"),
        ("received", "ping"),
        ("sent", "got it"),
    ]
    assert screen[1]["effect"] == {"name": "confetti", "type": "screen"}
