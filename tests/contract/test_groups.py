"""Group membership: add, remove (both DELETE forms), leave, and what they change."""

from __future__ import annotations

import linq
import pytest

from tests.support.server import RunningServer
from tests.support.tenant import Tenant, create_tenant, magic

A, B, C, D = "+14155553001", "+14155553002", "+14155553003", "+14155553004"


def _group(tenant: Tenant, *members: str) -> str:
    created = tenant.client.chats.create(
        from_=tenant.line, to=list(members), message={"parts": [{"type": "text", "value": "hi"}]}
    )
    return created.chat.id


def _active(tenant: Tenant, chat_id: str) -> list[str]:
    chat = tenant.client.chats.retrieve(chat_id)
    return sorted(h.handle for h in chat.handles if h.status == "active" and not h.is_me)


def test_adding_a_member_changes_the_chat_and_its_reuse(tenant: Tenant) -> None:
    chat_id = _group(tenant, A, B)
    reply = tenant.client.chats.participants.add(chat_id, handle=C)
    assert reply.status == "accepted"
    assert reply.trace_id
    assert _active(tenant, chat_id) == [A, B, C]
    event = tenant.sim.events("participant.added")[-1]["data"]
    assert event["handle"] == C
    assert event["participant"]["status"] == "active"
    # The old member set no longer matches this chat: POST /v3/chats opens a new one.
    assert _group(tenant, A, B) != chat_id
    assert _group(tenant, A, B, C) == chat_id


def test_removing_a_member_both_forms(tenant: Tenant) -> None:
    chat_id = _group(tenant, A, B, C, D)
    tenant.client.chats.participants.remove(chat_id, handle=D)
    response = tenant.http.delete(f"/v3/chats/{chat_id}/participants/{C}")
    assert response.status_code == 202
    assert _active(tenant, chat_id) == [A, B]
    removed = [e["data"] for e in tenant.sim.events("participant.removed")]
    assert [(d["handle"], d["participant"]["status"]) for d in removed] == [
        (D, "removed"),
        (C, "removed"),
    ]
    handles = {h.handle: h for h in tenant.client.chats.retrieve(chat_id).handles}
    assert handles[C].left_at is not None


def test_a_send_counts_members_added_since_the_last_send(tenant: Tenant) -> None:
    """The server remembers a chat's recipients from its last send; the send's own
    transaction reads the members, so one added since then still decides the service."""
    chat_id = _group(tenant, A, B)  # iPhones: an iMessage group, its recipients now known
    tenant.client.chats.participants.add(chat_id, handle=C)
    tenant.sim.configure(C, preset="sms_only")  # C now receives SMS and nothing else
    sent = tenant.client.chats.messages.send(
        chat_id, message={"parts": [{"type": "text", "value": "all three"}]}
    )
    assert sent.message.service == "SMS"
    tenant.sim.advance(0)
    message = tenant.client.messages.retrieve(sent.message.id)
    assert message.delivery_status == "sent"  # SMS stops at sent; no member was unsupported
    assert sent.message.id in [m["message_id"] for m in tenant.sim.screen(C)]


@pytest.mark.parametrize(
    ("members", "change", "handle", "code"),
    [
        ((A,), "add", B, 1006),  # a direct chat
        ((A, B), "add", A, 2015),  # already a member
        ((A, B), "remove", A, 2015),  # would leave fewer than 3 (your line included)
        ((A, B, C), "remove", D, 2015),  # not a member
        ((A,), "remove", A, 1006),
    ],
)
def test_membership_rules(
    tenant: Tenant, members: tuple[str, ...], change: str, handle: str, code: int
) -> None:
    chat_id = _group(tenant, *members)
    call = (
        tenant.client.chats.participants.add
        if change == "add"
        else tenant.client.chats.participants.remove
    )
    with pytest.raises(linq.ConflictError) as refused:
        call(chat_id, handle=handle)
    assert refused.value.code == code


def test_a_member_must_receive_the_groups_service(tenant: Tenant) -> None:
    chat_id = _group(tenant, A, B)  # iPhones: an iMessage group
    with pytest.raises(linq.ConflictError) as refused:
        tenant.client.chats.participants.add(chat_id, handle=magic("02"))  # Android: no iMessage
    assert refused.value.code == 2017


def test_leaving_needs_four_members_and_then_the_chat_is_read_only(tenant: Tenant) -> None:
    small = _group(tenant, A, B)
    with pytest.raises(linq.ConflictError) as too_small:
        tenant.client.chats.leave_chat(small)
    assert too_small.value.code == 2015
    chat_id = _group(tenant, A, B, C)
    left = tenant.client.chats.leave_chat(chat_id)
    assert left.status == "accepted"
    own = next(h for h in tenant.client.chats.retrieve(chat_id).handles if h.is_me)
    assert own.status == "left"
    assert own.left_at is not None
    assert tenant.sim.events("participant.removed")[-1]["data"]["participant"]["is_me"] is True
    for attempt in (
        lambda: tenant.client.chats.messages.send(
            chat_id, message={"parts": [{"type": "text", "value": "x"}]}
        ),
        lambda: tenant.client.chats.mark_as_read(chat_id),
        lambda: tenant.client.chats.participants.add(chat_id, handle=D),
        lambda: tenant.client.chats.update(chat_id, display_name="n"),
    ):
        with pytest.raises(linq.ConflictError) as unavailable:
            attempt()
        assert unavailable.value.code == 2013
    # Reads still work, and the same members now get a new chat.
    assert tenant.client.chats.messages.list(chat_id).messages
    assert _group(tenant, A, B, C) != chat_id


def test_leaving_is_for_imessage_groups_only(tenant: Tenant) -> None:
    chat_id = _group(tenant, magic("01", "212"), magic("01", "213"), magic("01", "214"))
    with pytest.raises(linq.ConflictError) as refused:
        tenant.client.chats.leave_chat(chat_id)
    assert refused.value.code == 2017


def test_another_accounts_group_is_not_found(tenant: Tenant, server: RunningServer) -> None:
    chat_id = _group(tenant, A, B)
    other = create_tenant(server)
    with pytest.raises(linq.NotFoundError) as hidden:
        other.client.chats.participants.add(chat_id, handle=C)
    assert hidden.value.code == 2001
    assert _active(tenant, chat_id) == [A, B]
    other.client.close()
    other.http.close()
