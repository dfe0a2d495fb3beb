"""Blocked handles: list / block / unblock, refused sends, dropped inbound traffic."""

from __future__ import annotations

from typing import Any

import httpx
import linq
import pytest

from tests.support.receiver import Receiver
from tests.support.tenant import Tenant

HI: Any = {"parts": [{"type": "text", "value": "hi"}]}


def _open_chat(tenant: Tenant, *to: str) -> str:
    return tenant.client.chats.create(from_=tenant.line, to=list(to), message=HI).chat.id


def _error(response: httpx.Response) -> tuple[int, int]:
    return response.status_code, response.json()["error"]["code"]


def test_block_list_and_unblock_with_normalised_handles(tenant: Tenant) -> None:
    blocks = tenant.client.blocked_handles
    first = blocks.block(handle=" Ana@Example.COM ", reason="spam")
    assert first.blocked_handle.handle == "ana@example.com"
    assert first.blocked_handle.reason == "spam"
    for raw, stored in (
        ("+14155550190", "+14155550190"),
        ("72345", "72345"),  # an SMS short code
        ("ACMEBANK", "ACMEBANK"),  # an alphanumeric sender ID
    ):
        tenant.sim.advance(1)  # distinct blocked_at, so newest-first is observable
        assert blocks.block(handle=raw).blocked_handle.handle == stored
    listed = blocks.list().blocked_handles
    assert [e.handle for e in listed] == [
        "ACMEBANK",
        "72345",
        "+14155550190",
        "ana@example.com",
    ]
    assert listed[-1].reason == "spam"
    assert listed[0].reason is None
    blocks.unblock(handle="ANA@example.com")
    blocks.unblock(handle="ana@example.com")  # not blocked: nothing to do, no error
    assert "ana@example.com" not in [e.handle for e in blocks.list().blocked_handles]


def test_blocking_again_returns_the_existing_entry(tenant: Tenant) -> None:
    first = tenant.http.post("/v3/blocked_handles", json={"handle": "+14155550191", "reason": "a"})
    tenant.sim.advance(5)
    again = tenant.http.post("/v3/blocked_handles", json={"handle": "+14155550191", "reason": "b"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert len(tenant.client.blocked_handles.list().blocked_handles) == 1


@pytest.mark.parametrize(
    ("handle", "code"),
    [
        ("12", 1002),  # too short for a short code: a number, not E.164
        ("123456789", 1002),  # a number without its "+"
        ("+1 415 555 0100", 1002),
        ("not a handle!", 1005),
        ("ACMEBANKLTD12", 1005),  # a sender ID is at most 11 characters
        ("a@b", 1005),
        ("", 1001),
    ],
)
def test_handles_that_are_not_blockable_are_refused(tenant: Tenant, handle: str, code: int) -> None:
    with pytest.raises(linq.BadRequestError) as refused:
        tenant.client.blocked_handles.block(handle=handle)
    assert refused.value.status_code == 400
    body: Any = refused.value.response.json()
    assert body["error"]["code"] == code
    assert body["success"] is False
    assert body["error"]["doc_url"]
    assert tenant.client.blocked_handles.list().blocked_handles == []


def test_a_direct_send_to_a_blocked_handle_is_refused_and_sends_nothing(tenant: Tenant) -> None:
    chat_id = _open_chat(tenant, "+14155550192")
    tenant.client.blocked_handles.block(handle="+14155550192")
    with pytest.raises(linq.PermissionDeniedError) as refused:
        tenant.client.chats.messages.send(chat_id, message=HI)
    body: Any = refused.value.response.json()
    assert (refused.value.status_code, body["error"]["code"]) == (403, 2026)
    assert refused.value.response.headers["x-should-retry"] == "false"
    response = tenant.http.post("/v3/messages", json={"to": ["+14155550192"], "message": HI})
    assert _error(response) == (403, 2026)
    # A new chat to a blocked handle is not opened either.
    tenant.client.blocked_handles.block(handle="ben@example.com")
    response = tenant.http.post(
        "/v3/chats", json={"from": tenant.line, "to": ["ben@example.com"], "message": HI}
    )
    assert _error(response) == (403, 2026)
    assert tenant.client.chats.list_chats(from_=tenant.line, to="ben@example.com").chats == []
    assert len(tenant.client.chats.messages.list(chat_id).messages) == 1
    tenant.client.blocked_handles.unblock(handle="+14155550192")
    tenant.client.chats.messages.send(chat_id, message=HI)


def test_a_group_send_goes_ahead_while_one_member_is_not_blocked(tenant: Tenant) -> None:
    chat_id = _open_chat(tenant, "+14155550193", "+14155550194")
    tenant.client.blocked_handles.block(handle="+14155550193")
    tenant.client.chats.messages.send(chat_id, message=HI)
    tenant.client.blocked_handles.block(handle="+14155550194")
    with pytest.raises(linq.PermissionDeniedError) as refused:
        tenant.client.chats.messages.send(chat_id, message=HI)
    assert refused.value.status_code == 403
    body: Any = refused.value.response.json()
    assert body["error"]["code"] == 2026


def test_inbound_from_a_blocked_handle_is_dropped_and_recorded(
    tenant: Tenant, receiver: Receiver
) -> None:
    tenant.client.webhook_subscriptions.create(
        target_url=receiver.url(),
        subscribed_events=["message.received", "chat.created", "reaction.added"],
    )
    chat_id = _open_chat(tenant, "+14155550195")
    message_id = tenant.client.chats.messages.list(chat_id).messages[0].id
    tenant.client.blocked_handles.block(handle="+14155550195")
    tenant.client.blocked_handles.block(handle="+14155550196")
    sent = tenant.sim.send("+14155550195", to=tenant.line, text="let me in")
    assert sent == {"message_id": None, "chat_id": None, "dropped": True}
    tenant.sim.send("+14155550196", to=tenant.line, text="new here")
    reacted = tenant.http.post(
        "/sim/v1/devices/+14155550195/reactions", json={"message_id": message_id, "type": "love"}
    )
    assert reacted.status_code == 204
    typed = tenant.http.post(
        "/sim/v1/devices/+14155550195/typing", json={"chat_id": chat_id, "state": "started"}
    )
    assert typed.status_code == 204
    background = tenant.http.post(
        "/sim/v1/devices/+14155550195/background",
        json={"chat_id": chat_id, "type": "color", "variant": "lime"},
    )
    assert background.status_code == 204
    tenant.sim.settle(2)
    # No chat opened for the stranger, nothing stored on the existing chat, no webhook.
    assert tenant.client.chats.list_chats(from_=tenant.line, to="+14155550196").chats == []
    messages = tenant.client.chats.messages.list(chat_id).messages
    assert [m.id for m in messages] == [message_id]
    first: Any = messages[0]
    assert not first.parts[0].reactions
    assert [h.event["event_type"] for h in receiver.hits] == ["chat.created"]
    assert tenant.sim.events("message.received") == []
    assert tenant.sim.events("chat.typing_indicator.started") == []
    assert tenant.sim.events("chat.background_updated") == []
    dropped = tenant.http.get("/sim/v1/dropped").json()["dropped"]
    assert [(d["handle"], d["kind"], d["summary"], d["chat_id"]) for d in dropped] == [
        ("+14155550195", "reaction", "reacted love", chat_id),
        ("+14155550196", "message", '"new here"', None),
        ("+14155550195", "message", '"let me in"', None),
    ]
    assert {d["line"] for d in dropped} == {tenant.line}
    # Unblocked, the phone is heard again.
    tenant.client.blocked_handles.unblock(handle="+14155550195")
    delivered = tenant.sim.send("+14155550195", to=tenant.line, text="thanks")
    assert delivered["chat_id"] == chat_id
    assert delivered["dropped"] is False
    assert len(tenant.sim.events("message.received")) == 1


def test_blocks_belong_to_one_account(tenant: Tenant, other_tenant: Tenant) -> None:
    tenant.client.blocked_handles.block(handle="+14155550197")
    assert other_tenant.client.blocked_handles.list().blocked_handles == []
    other_tenant.client.chats.create(from_=other_tenant.line, to=["+14155550197"], message=HI)
    other_tenant.sim.send("+14155550197", to=other_tenant.line, text="hello")
    assert len(other_tenant.sim.events("message.received")) == 1


def test_a_poll_from_a_blocked_handle_is_dropped(tenant: Tenant) -> None:
    chat_id = _open_chat(tenant, "+14155550198")
    tenant.client.blocked_handles.block(handle="+14155550198")
    sent = tenant.http.post(
        "/sim/v1/devices/+14155550198/polls", json={"chat_id": chat_id, "options": ["a", "b"]}
    )
    assert sent.status_code == 201
    assert sent.json() == {"message_id": None, "chat_id": None, "dropped": True}
    tenant.sim.settle(2)
    assert tenant.sim.events("poll.received") == []
    assert len(tenant.client.chats.messages.list(chat_id).messages) == 1
