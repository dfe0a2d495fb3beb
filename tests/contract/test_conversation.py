"""Edits, deletes, reactions and typing, through the SDK, with their effects and events."""

from __future__ import annotations

from typing import Any

import httpx
import linq
import pytest

from openlinq.domain.models import LineType
from tests.support.files import PDF, PNG
from tests.support.server import RunningServer
from tests.support.tenant import Tenant, create_tenant, magic


def _chat(tenant: Tenant, to: str = "+14155552001") -> tuple[str, str]:
    created = tenant.client.chats.create(
        from_=tenant.line, to=[to], message={"parts": [{"type": "text", "value": "hello"}]}
    )
    tenant.sim.advance(0)
    return created.chat.id, created.chat.message.id


def _text(message: Any, index: int = 0) -> str:
    return str(message.parts[index].value)


def _reactions(tenant: Tenant, message_id: str) -> list[Any]:
    parts: Any = tenant.client.messages.retrieve(message_id).parts
    return list(parts[0].reactions or [])


def test_an_edit_changes_the_text_everywhere_and_emits_message_edited(tenant: Tenant) -> None:
    chat_id, message_id = _chat(tenant, magic("04"))
    tenant.client.messages.add_reaction(message_id, operation="add", type="love")
    edited = tenant.client.messages.update(message_id, text="hello there")
    assert _text(edited) == "hello there"
    # the answer is the committed message, exactly as a later read shows it
    assert edited.to_dict() == tenant.client.messages.retrieve(message_id).to_dict()
    event = tenant.sim.events("message.edited")[-1]["data"]
    assert event["part"] == {"index": 0, "text": "hello there"}
    assert event["id"] == message_id
    assert event["direction"] == "outbound"
    screen = tenant.sim.screen(magic("04"))
    assert screen[0]["edits"][0]["previous_text"] == "hello"
    assert chat_id == screen[0]["chat_id"]


def test_five_edits_are_allowed_and_the_sixth_is_refused(tenant: Tenant) -> None:
    _, message_id = _chat(tenant)
    for n in range(5):
        tenant.client.messages.update(message_id, text=f"edit {n}")
    with pytest.raises(linq.ConflictError) as refused:
        tenant.client.messages.update(message_id, text="one too many")
    assert refused.value.code == 2015


def test_edits_close_fifteen_minutes_after_sending(tenant: Tenant) -> None:
    _, message_id = _chat(tenant)
    tenant.sim.advance(14 * 60)
    tenant.client.messages.update(message_id, text="still in time")
    tenant.sim.advance(61)
    with pytest.raises(linq.ConflictError) as refused:
        tenant.client.messages.update(message_id, text="too late")
    assert refused.value.code == 2015


@pytest.mark.parametrize(
    ("parts", "part_index", "code"),
    [
        ([{"type": "link", "value": "https://example.com"}], 0, 1005),
        ([{"type": "text", "value": "a"}], 3, 1005),
    ],
)
def test_only_existing_text_parts_can_be_edited(
    tenant: Tenant, parts: list[Any], part_index: int, code: int
) -> None:
    chat_id, _ = _chat(tenant)
    sent = tenant.client.chats.messages.send(chat_id, message={"parts": parts})
    with pytest.raises(linq.BadRequestError) as refused:
        tenant.client.messages.update(sent.message.id, text="x", part_index=part_index)
    assert refused.value.code == code


def test_inbound_and_sms_messages_cannot_be_edited(tenant: Tenant) -> None:
    chat_id, _ = _chat(tenant, magic("01"))
    sms = tenant.client.chats.messages.list(chat_id).messages[0]
    with pytest.raises(linq.ConflictError) as not_imessage:
        tenant.client.messages.update(sms.id, text="x")
    assert not_imessage.value.code == 2017
    inbound = tenant.sim.send(magic("01"), to=tenant.line, text="from the phone")
    with pytest.raises(linq.PermissionDeniedError) as not_mine:
        tenant.client.messages.update(inbound["message_id"], text="x")
    assert not_mine.value.code == 2005


def test_delete_hides_the_message_but_the_device_still_has_it(tenant: Tenant) -> None:
    chat_id, message_id = _chat(tenant)
    tenant.client.messages.delete(message_id)
    with pytest.raises(linq.NotFoundError) as gone:
        tenant.client.messages.retrieve(message_id)
    assert gone.value.code == 2002
    assert tenant.client.chats.messages.list(chat_id).messages == []
    assert [m["message_id"] for m in tenant.sim.screen("+14155552001")] == [message_id]


def test_a_tapback_replaces_your_previous_one_and_can_be_removed(tenant: Tenant) -> None:
    _, message_id = _chat(tenant)
    reply = tenant.client.messages.add_reaction(message_id, operation="add", type="love")
    assert reply.status == "accepted"
    assert reply.trace_id
    tenant.client.messages.add_reaction(message_id, operation="add", type="laugh")
    reactions = _reactions(tenant, message_id)
    assert [(r.type, r.is_me) for r in reactions] == [("laugh", True)]
    tenant.client.messages.add_reaction(message_id, operation="remove", type="laugh")
    assert not _reactions(tenant, message_id)
    kinds = [
        e["event_type"] for e in tenant.sim.events() if e["event_type"].startswith("reaction.")
    ]
    assert kinds == ["reaction.added", "reaction.removed", "reaction.added", "reaction.removed"]


@pytest.mark.parametrize(
    ("body", "error", "code"),
    [
        ({"type": "custom"}, linq.BadRequestError, 1001),
        ({"type": "love", "custom_emoji": "🔥"}, linq.BadRequestError, 1005),
        ({"type": "sticker"}, linq.BadRequestError, 1005),
        (
            {"type": "sticker", "emoji": "🔥", "url": "https://x.test/a.png"},
            linq.BadRequestError,
            1005,
        ),
        ({"type": "love", "part_index": 4}, linq.BadRequestError, 1005),
    ],
)
def test_reaction_rules(
    tenant: Tenant, body: dict[str, Any], error: type[linq.APIStatusError], code: int
) -> None:
    _, message_id = _chat(tenant)
    with pytest.raises(error) as refused:
        tenant.client.messages.add_reaction(message_id, operation="add", **body)
    assert refused.value.code == code


def test_custom_emoji_and_emoji_stickers(tenant: Tenant) -> None:
    """``custom_emoji`` is for custom tapbacks only; an emoji sticker is in ``sticker``, in the
    API view and in reaction.added / reaction.removed alike (issue #10, item 12)."""
    _, message_id = _chat(tenant)
    tenant.client.messages.add_reaction(
        message_id, operation="add", type="custom", custom_emoji="🔥"
    )
    tenant.client.messages.add_reaction(message_id, operation="add", type="sticker", emoji="🦄")
    reactions = _reactions(tenant, message_id)
    seen = sorted(
        (r.type, r.custom_emoji, r.sticker and getattr(r.sticker, "emoji", None)) for r in reactions
    )
    assert seen == [("custom", "🔥", None), ("sticker", None, "🦄")]
    with pytest.raises(linq.BadRequestError):
        tenant.client.messages.add_reaction(message_id, operation="remove", type="sticker")
    tenant.client.messages.add_reaction(
        message_id, operation="remove", type="custom", custom_emoji="🔥"
    )
    events = [e for e in tenant.sim.events() if e["event_type"].startswith("reaction.")]
    payloads = [
        (
            e["event_type"],
            e["data"]["reaction_type"],
            e["data"]["custom_emoji"],
            (e["data"]["sticker"] or {}).get("emoji"),
        )
        for e in events
    ]
    assert payloads == [
        ("reaction.added", "custom", "🔥", None),
        ("reaction.added", "sticker", None, "🦄"),
        ("reaction.removed", "custom", "🔥", None),
    ]


@pytest.mark.parametrize("line_type", [LineType.IMESSAGE, LineType.RCS])
def test_your_own_handle_in_reactions_has_the_line_type_the_chat_shows(
    server: RunningServer, line_type: LineType
) -> None:
    """Issue #10, item 12: it was null in a message's reactions."""
    tenant = create_tenant(server, line_types=(line_type,))
    try:
        chat_id, message_id = _chat(tenant)
        tenant.client.messages.add_reaction(message_id, operation="add", type="like")
        own = next(h for h in tenant.client.chats.retrieve(chat_id).handles if h.is_me)
        [reaction] = _reactions(tenant, message_id)
        assert own.line_type == line_type.value
        assert reaction.handle.line_type == line_type.value
        [event] = tenant.sim.events("reaction.added")
        assert event["data"]["from_handle"]["line_type"] == line_type.value
    finally:
        tenant.client.close()
        tenant.http.close()


def test_device_reactions_replace_and_remove(tenant: Tenant) -> None:
    _, message_id = _chat(tenant)
    for kind in ("like", "dislike"):
        tenant.http.post(
            "/sim/v1/devices/+14155552001/reactions", json={"message_id": message_id, "type": kind}
        ).raise_for_status()
    reactions = _reactions(tenant, message_id)
    assert [(r.type, r.is_me) for r in reactions] == [("dislike", False)]
    tenant.http.post(
        "/sim/v1/devices/+14155552001/reactions",
        json={"message_id": message_id, "type": "dislike", "operation": "remove"},
    ).raise_for_status()
    assert not _reactions(tenant, message_id)


def _typing_in(tenant: Tenant, handle: str) -> list[str]:
    return list(tenant.http.get(f"/sim/v1/devices/{handle}/screen").json()["typing_in"])


def test_typing_reaches_the_device_while_the_chat_is_active(tenant: Tenant) -> None:
    chat_id, _ = _chat(tenant)
    tenant.client.chats.typing.start(chat_id)
    tenant.sim.advance(0)
    assert _typing_in(tenant, "+14155552001") == [chat_id]
    tenant.client.chats.typing.stop(chat_id)
    tenant.sim.advance(0)
    assert _typing_in(tenant, "+14155552001") == []


def test_typing_is_dropped_after_five_quiet_minutes_and_expires(tenant: Tenant) -> None:
    chat_id, _ = _chat(tenant)
    tenant.client.chats.typing.start(chat_id)
    tenant.sim.advance(0)
    tenant.sim.advance(91)
    assert _typing_in(tenant, "+14155552001") == []  # an indicator lasts about 90 s
    tenant.sim.advance(5 * 60)
    tenant.client.chats.typing.start(chat_id)  # still 204 ...
    tenant.sim.advance(0)
    assert _typing_in(tenant, "+14155552001") == []  # ... but not delivered


def test_typing_on_sms_is_accepted_and_not_delivered(tenant: Tenant) -> None:
    chat_id, _ = _chat(tenant, magic("01"))
    tenant.client.chats.typing.start(chat_id)
    tenant.sim.advance(0)
    assert _typing_in(tenant, magic("01")) == []


def test_typing_in_a_group_is_forbidden(tenant: Tenant) -> None:
    group = tenant.client.chats.create(
        from_=tenant.line,
        to=["+14155552002", "+14155552003"],
        message={"parts": [{"type": "text", "value": "hi all"}]},
    )
    for call in (tenant.client.chats.typing.start, tenant.client.chats.typing.stop):
        with pytest.raises(linq.PermissionDeniedError) as refused:
            call(group.chat.id)
        assert refused.value.code == 2005


def test_inbound_typing_produces_typing_events(tenant: Tenant) -> None:
    chat_id, _ = _chat(tenant)
    for state in ("started", "stopped"):
        tenant.http.post(
            "/sim/v1/devices/+14155552001/typing", json={"chat_id": chat_id, "state": state}
        ).raise_for_status()
    events = tenant.sim.events()
    typing = [e for e in events if e["event_type"].startswith("chat.typing_indicator")]
    assert [e["event_type"] for e in typing] == [
        "chat.typing_indicator.started",
        "chat.typing_indicator.stopped",
    ]
    assert typing[0]["data"]["actor_handle"]["handle"] == "+14155552001"


def _image(
    tenant: Tenant, data: bytes, content_type: Any = "image/png", name: str = "s.png"
) -> Any:
    created = tenant.client.attachments.create(
        filename=name, content_type=content_type, size_bytes=len(data)
    )
    httpx.put(created.upload_url, content=data, headers=created.required_headers).raise_for_status()
    return tenant.client.attachments.retrieve(created.attachment_id)


def test_image_stickers_by_attachment_or_download_url(tenant: Tenant) -> None:
    _, message_id = _chat(tenant)
    image = _image(tenant, PNG)
    tenant.client.messages.add_reaction(
        message_id, operation="add", type="sticker", attachment_id=image.id
    )
    tenant.client.messages.add_reaction(
        message_id, operation="add", type="sticker", url=image.download_url
    )
    stickers = [r.sticker for r in _reactions(tenant, message_id)]
    assert [(s.file_name, s.mime_type) for s in stickers if s] == [("s.png", "image/png")] * 2
    assert all(s and s.url and httpx.get(s.url).content == PNG for s in stickers)
    event = tenant.sim.events("reaction.added")[-1]["data"]
    assert (event["reaction_type"], event["sticker"]["file_name"]) == ("sticker", "s.png")


def test_stickers_must_be_your_images(tenant: Tenant, server: RunningServer) -> None:
    _, message_id = _chat(tenant)
    document = _image(tenant, PDF, "application/pdf", "d.pdf")
    with pytest.raises(linq.BadRequestError) as not_image:
        tenant.client.messages.add_reaction(
            message_id, operation="add", type="sticker", attachment_id=document.id
        )
    assert not_image.value.code == 5004
    other = create_tenant(server)
    try:
        foreign = _image(other, PNG)
        with pytest.raises(linq.NotFoundError):
            tenant.client.messages.add_reaction(
                message_id, operation="add", type="sticker", url=foreign.download_url
            )
    finally:
        other.client.close()
        other.http.close()
    with pytest.raises(linq.BadRequestError):
        tenant.client.messages.add_reaction(
            message_id, operation="add", type="sticker", url="https://elsewhere.test/a.png"
        )
