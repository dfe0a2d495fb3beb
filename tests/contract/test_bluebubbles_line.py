"""A line on BlueBubbles, driven through the official SDK against a BlueBubbles-compatible Mac.

The session server routes the line's traffic to its BlueBubbles carrier; the peer
(tests/support/bluebubbles_peer.py) posts the Mac's webhooks back to the server over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import linq
import pytest

from openlinq.delivery.routing import PROBE_EVERY_SECONDS
from openlinq.domain.models import LineType
from tests.support.bluebubbles_peer import BlueBubblesPeer, running_peer
from tests.support.files import PDF, PNG, serving, wav
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


# --- attachments -------------------------------------------------------------------------


def test_media_by_id_and_by_url_reach_the_mac_as_files(
    mac_line: Tenant, peer: BlueBubblesPeer, tmp_path: Path
) -> None:
    created = mac_line.client.attachments.create(
        filename="pic.png", content_type="image/png", size_bytes=len(PNG)
    )
    httpx.put(created.upload_url, content=PNG, headers=created.required_headers).raise_for_status()
    (tmp_path / "doc.pdf").write_bytes(PDF)
    with serving(tmp_path) as files:
        sent = mac_line.client.chats.create(
            from_=mac_line.line,
            to=[THEM],
            message={
                "parts": [
                    {"type": "text", "value": "two files"},
                    {"type": "media", "attachment_id": created.attachment_id},
                    {"type": "media", "url": f"{files}/doc.pdf"},
                ]
            },
        )
    mac_line.sim.advance(0)
    [text] = peer.calls("message/text")
    assert text.body["message"] == "two files"
    uploads = peer.calls("message/attachment")
    assert [(c.body["name"], c.body["attachment"]) for c in uploads] == [
        ("pic.png", ("pic.png", "image/png", PNG)),
        ("doc.pdf", ("doc.pdf", "application/pdf", PDF)),
    ]
    assert all(c.body["chatGuid"] == f"iMessage;-;{THEM}" for c in uploads)
    assert len({c.body["tempGuid"] for c in [text, *uploads]}) == 3
    message_id = sent.chat.message.id
    assert mac_line.client.messages.retrieve(message_id).delivery_status == "sent"
    peer.deliver(next(iter(peer.state.messages)))  # the first bubble's receipt
    assert mac_line.client.messages.retrieve(message_id).delivery_status == "delivered"


def test_a_file_alone_goes_as_one_attachment(mac_line: Tenant, peer: BlueBubblesPeer) -> None:
    created = mac_line.client.attachments.create(
        filename="pic.png", content_type="image/png", size_bytes=len(PNG)
    )
    httpx.put(created.upload_url, content=PNG, headers=created.required_headers).raise_for_status()
    sent = mac_line.client.chats.create(
        from_=mac_line.line,
        to=[THEM],
        message={"parts": [{"type": "media", "attachment_id": created.attachment_id}]},
    )
    mac_line.sim.advance(0)
    assert peer.calls("message/text") == []
    [upload] = peer.calls("message/attachment")
    assert upload.body["tempGuid"] == sent.chat.message.id
    assert mac_line.client.messages.retrieve(sent.chat.message.id).delivery_status == "sent"


def test_a_voice_memo_goes_as_an_audio_message(mac_line: Tenant, peer: BlueBubblesPeer) -> None:
    chat_id, _ = _send(mac_line)
    memo = wav(1.0)
    created = mac_line.client.attachments.create(
        filename="memo.wav", content_type="audio/x-wav", size_bytes=len(memo)
    )
    httpx.put(created.upload_url, content=memo, headers=created.required_headers).raise_for_status()
    mac_line.client.chats.send_voicememo(chat_id, attachment_id=created.attachment_id)
    mac_line.sim.advance(0)
    [upload] = peer.calls("message/attachment")
    assert upload.body["isAudioMessage"] == "true"
    assert upload.body["attachment"] == ("memo.wav", "audio/x-wav", memo)


def test_a_received_file_is_downloadable_from_openlinq(
    mac_line: Tenant, peer: BlueBubblesPeer
) -> None:
    _send(mac_line)
    peer.incoming(THEM, "look", files=(("photo.png", "image/png", PNG),))
    [event] = mac_line.sim.events("message.received")
    parts = event["data"]["parts"]
    assert [p["type"] for p in parts] == ["text", "media"]
    assert parts[0]["value"] == "look"  # Messages' U+FFFC placeholder is gone
    message = mac_line.client.messages.retrieve(event["data"]["id"])
    media: Any = (message.parts or [])[1]
    assert (media.filename, media.mime_type, media.size_bytes) == (
        "photo.png",
        "image/png",
        len(PNG),
    )
    download = httpx.get(media.url)
    assert (download.status_code, download.content) == (200, PNG)


def test_a_file_the_mac_cannot_give_leaves_the_rest_of_the_message(
    mac_line: Tenant, peer: BlueBubblesPeer
) -> None:
    _send(mac_line)
    sent = peer.incoming(THEM, "and a file", files=(("photo.png", "image/png", PNG),))
    peer.state.files.pop(sent["attachments"][0]["guid"])  # gone from the Mac meanwhile
    peer.emit("new-message", {**sent, "guid": "ANOTHER-GUID"})
    parts = mac_line.sim.events("message.received")[-1]["data"]["parts"]
    assert [p["type"] for p in parts] == ["text"]


# --- group changes made on phones, the Mac's read state ---------------------------------

A, B, C = "+14155557401", "+14155557402", "+14155557403"
URL = "https://example.invalid/crew.png"  # never fetched: the Mac refuses before


def _group_on_mac(tenant: Tenant, peer: BlueBubblesPeer) -> tuple[str, str]:
    created = tenant.client.chats.create(
        from_=tenant.line, to=[A, B], message={"parts": [{"type": "text", "value": "hi all"}]}
    )
    tenant.sim.advance(0)
    [mac_chat] = peer.state.chats
    return created.chat.id, mac_chat


def _members(tenant: Tenant, chat_id: str) -> dict[str, str]:
    chat = tenant.client.chats.retrieve(chat_id)
    return {h.handle: str(h.status) for h in chat.handles if not h.is_me}


def test_a_rename_on_a_phone_reaches_the_partner_once(
    mac_line: Tenant, peer: BlueBubblesPeer
) -> None:
    chat_id, mac_chat = _group_on_mac(mac_line, peer)
    peer.group_change("group-name-change", mac_chat, actor=A, title="Hikers")
    peer.group_change("group-name-change", mac_chat, actor=A, title="Hikers")  # twice
    [event] = mac_line.sim.events("chat.group_name_updated")
    data = event["data"]
    assert (data["chat_id"], data["old_value"], data["new_value"]) == (chat_id, None, "Hikers")
    assert data["changed_by_handle"]["handle"] == A
    assert mac_line.client.chats.retrieve(chat_id).display_name == "Hikers"


def test_members_added_removed_and_leaving_on_phones(
    mac_line: Tenant, peer: BlueBubblesPeer
) -> None:
    chat_id, mac_chat = _group_on_mac(mac_line, peer)
    peer.group_change("participant-added", mac_chat, actor=A, member=C)
    assert _members(mac_line, chat_id) == {A: "active", B: "active", C: "active"}
    [added] = mac_line.sim.events("participant.added")
    assert (added["data"]["handle"], added["data"]["chat_id"]) == (C, chat_id)
    peer.group_change("participant-removed", mac_chat, actor=A, member=B, listed=False)
    peer.group_change("participant-left", mac_chat, actor=C)
    assert _members(mac_line, chat_id) == {A: "active", B: "removed", C: "left"}
    removed = [e["data"] for e in mac_line.sim.events("participant.removed")]
    assert [(d["handle"], d["participant"]["status"]) for d in removed] == [
        (B, "removed"),
        (C, "left"),
    ]
    # The Mac lists the members after each change: nothing more to report on a repeat.
    peer.group_change("participant-removed", mac_chat, actor=A, member=B)
    assert len(mac_line.sim.events("participant.removed")) == 2


def test_a_rename_through_the_api_renames_the_group_on_the_mac(
    mac_line: Tenant, peer: BlueBubblesPeer
) -> None:
    chat_id, mac_chat = _group_on_mac(mac_line, peer)
    mac_line.client.chats.update(chat_id, display_name="Trail crew")
    mac_line.sim.advance(0)
    [rename] = [c for c in peer.calls(f"chat/{mac_chat}") if c.method == "PUT"]
    assert rename.body == {"displayName": "Trail crew"}
    # Messages reports the rename back: the partner heard it once, from the API.
    peer.group_change("group-name-change", mac_chat, title="Trail crew")
    assert len(mac_line.sim.events("chat.group_name_updated")) == 1
    assert mac_line.sim.events("chat.group_name_update_failed") == []


def test_a_rename_the_mac_cannot_make_is_reported_failed(
    mac_line: Tenant, peer: BlueBubblesPeer
) -> None:
    chat_id, _ = _group_on_mac(mac_line, peer)
    # Turned off after the carrier last asked: the API accepts, the Mac refuses the job.
    peer.state.private_api = False
    mac_line.client.chats.update(chat_id, display_name="Trail crew")
    mac_line.sim.advance(0)
    [failed] = mac_line.sim.events("chat.group_name_update_failed")
    assert (failed["data"]["chat_id"], failed["data"]["error_code"]) == (chat_id, 4001)


def test_a_group_change_is_refused_2011_once_the_mac_says_the_private_api_is_off(
    mac_line: Tenant, peer: BlueBubblesPeer
) -> None:
    chat_id, _ = _group_on_mac(mac_line, peer)
    before = mac_line.client.chats.retrieve(chat_id)
    peer.state.private_api = False
    mac_line.sim.advance(PROBE_EVERY_SECONDS)  # the health probe asks the Mac again
    _refused_2011(
        lambda: mac_line.client.chats.update(
            chat_id, display_name="Trail crew", group_chat_icon=f"{URL}"
        )
    )
    _refused_2011(lambda: mac_line.client.chats.participants.add(chat_id, handle=C))
    chat = mac_line.client.chats.retrieve(chat_id)
    assert (chat.display_name, chat.group_chat_icon) == (before.display_name, None)
    assert mac_line.sim.events("chat.group_name_updated") == []
    assert mac_line.sim.events("participant.added") == []


def test_a_group_photo_set_through_the_api_is_set_on_the_mac(
    mac_line: Tenant, peer: BlueBubblesPeer
) -> None:
    chat_id, mac_chat = _group_on_mac(mac_line, peer)
    created = mac_line.client.attachments.create(
        filename="crew.png", content_type="image/png", size_bytes=len(PNG)
    )
    httpx.put(created.upload_url, content=PNG, headers=created.required_headers).raise_for_status()
    mac_line.client.chats.update(chat_id, group_chat_icon=created.download_url)
    mac_line.sim.advance(0)
    [upload] = peer.calls(f"chat/{mac_chat}/icon")
    assert upload.body["icon"] == ("crew.png", "image/png", PNG)
    assert peer.state.chats[mac_chat]["icon"] == ("image/png", PNG)
    assert mac_line.sim.events("chat.group_icon_update_failed") == []


def test_a_group_photo_changed_and_removed_on_a_phone(
    mac_line: Tenant, peer: BlueBubblesPeer
) -> None:
    chat_id, mac_chat = _group_on_mac(mac_line, peer)
    peer.group_change("group-icon-changed", mac_chat, actor=B, icon=("image/png", PNG))
    [changed] = [e["data"] for e in mac_line.sim.events("chat.group_icon_updated")]
    assert (changed["chat_id"], changed["old_value"]) == (chat_id, None)
    assert changed["changed_by_handle"]["handle"] == B
    download = httpx.get(changed["new_value"])  # kept by openlinq: the partner fetches it here
    assert (download.status_code, download.content) == (200, PNG)
    assert mac_line.client.chats.retrieve(chat_id).group_chat_icon == changed["new_value"]
    peer.group_change("group-icon-removed", mac_chat, actor=A)
    removed = mac_line.sim.events("chat.group_icon_updated")[-1]["data"]
    assert (removed["old_value"], removed["new_value"]) == (changed["new_value"], None)
    assert mac_line.client.chats.retrieve(chat_id).group_chat_icon is None
    peer.group_change("group-icon-removed", mac_chat, actor=A)  # nothing left to remove
    assert len(mac_line.sim.events("chat.group_icon_updated")) == 2


def test_reading_the_chat_on_the_mac_marks_its_inbound_messages_read(
    mac_line: Tenant, peer: BlueBubblesPeer
) -> None:
    _send(mac_line)
    peer.incoming(THEM, "unread so far")
    [event] = mac_line.sim.events("message.received")
    assert mac_line.client.messages.retrieve(event["data"]["id"]).is_read is False
    peer.read_on_mac(f"iMessage;-;{THEM}", read=False)
    assert mac_line.client.messages.retrieve(event["data"]["id"]).is_read is False
    peer.read_on_mac(f"iMessage;-;{THEM}")
    assert mac_line.client.messages.retrieve(event["data"]["id"]).is_read is True
    assert mac_line.sim.events("message.read") == []  # the line read it, not the recipient


# --- health ------------------------------------------------------------------------------


def _status_changes(tenant: Tenant) -> list[tuple[str, str]]:
    changes = [e["data"] for e in tenant.sim.events("phone_number.status_updated")]
    assert all(c["phone_number"] == tenant.line for c in changes)
    return [(c["previous_status"], c["new_status"]) for c in changes]


def test_a_mac_that_stops_answering_flags_the_line_until_it_answers(
    mac_line: Tenant, peer: BlueBubblesPeer
) -> None:
    _send(mac_line)
    mac_line.sim.advance(PROBE_EVERY_SECONDS)
    assert _status_changes(mac_line) == []
    peer.stop()
    mac_line.sim.advance(PROBE_EVERY_SECONDS)
    assert _status_changes(mac_line) == [("ACTIVE", "FLAGGED")]
    with pytest.raises(linq.APIStatusError) as refused:  # no new send is placed on it
        _send(mac_line)
    assert (refused.value.status_code, refused.value.body["code"]) == (403, 2027)  # type: ignore[index]
    mac_line.sim.advance(PROBE_EVERY_SECONDS)  # still down: nothing new
    assert _status_changes(mac_line) == [("ACTIVE", "FLAGGED")]
    peer.start()
    mac_line.sim.advance(PROBE_EVERY_SECONDS)
    assert _status_changes(mac_line) == [("ACTIVE", "FLAGGED"), ("FLAGGED", "ACTIVE")]
    _send(mac_line)
    assert len(peer.calls("message/text")) == 2


def test_moving_a_flagged_line_to_another_gateway_restores_it(
    mac_line: Tenant, peer: BlueBubblesPeer, server: RunningServer
) -> None:
    _send(mac_line)
    peer.stop()
    mac_line.sim.advance(PROBE_EVERY_SECONDS)
    assert _status_changes(mac_line) == [("ACTIVE", "FLAGGED")]
    configure = server.services.carriers.configure
    server.call(configure, mac_line.account_id, mac_line.line, "simulator", {})
    assert _status_changes(mac_line) == [("ACTIVE", "FLAGGED"), ("FLAGGED", "ACTIVE")]
    _send(mac_line)  # through the simulator now


def test_a_line_the_operator_flagged_stays_flagged_when_the_mac_answers(
    mac_line: Tenant, peer: BlueBubblesPeer
) -> None:
    _send(mac_line)
    mac_line.http.put(
        f"/sim/v1/lines/{mac_line.line}", json={"status": "FLAGGED"}
    ).raise_for_status()
    mac_line.sim.advance(PROBE_EVERY_SECONDS)
    assert _status_changes(mac_line) == [("ACTIVE", "FLAGGED")]


# --- what the Mac cannot carry is refused at the API ---------------------------------------


def _refused_2011(call: Any) -> str:
    with pytest.raises(linq.APIStatusError) as refused:
        call()
    body: Any = refused.value.body
    assert (refused.value.status_code, body["code"]) == (403, 2011)
    return str(body["message"])


def test_actions_needing_the_private_api_are_refused_2011_once_the_mac_says_it_is_off(
    mac_line: Tenant, peer: BlueBubblesPeer
) -> None:
    chat_id, message_id = _send(mac_line)
    peer.state.private_api = False
    mac_line.sim.advance(PROBE_EVERY_SECONDS)  # the health probe asks the Mac again
    client = mac_line.client
    said = _refused_2011(
        lambda: client.messages.add_reaction(message_id, operation="add", type="love")
    )
    assert "Private API" in said
    _refused_2011(lambda: client.chats.typing.start(chat_id))
    _refused_2011(lambda: client.messages.update(message_id, text="hello, edited"))
    _refused_2011(lambda: client.chats.mark_as_read(chat_id))
    mac_line.sim.advance(0)
    # Nothing was committed: no reaction, no edit, no event, nothing queued for the Mac.
    assert mac_line.sim.events("reaction.added") == []
    assert mac_line.sim.events("message.edited") == []
    message: Any = client.messages.retrieve(message_id)
    assert [p.value for p in message.parts or []] == ["hello from openlinq"]
    assert not (message.parts or [])[0].reactions
    assert peer.calls("message/react") == []
    # The Mac turns it back on: the next probe lets them through.
    peer.state.private_api = True
    mac_line.sim.advance(PROBE_EVERY_SECONDS)
    client.messages.add_reaction(message_id, operation="add", type="love")
    mac_line.sim.advance(0)
    assert len(peer.calls("message/react")) == 1


def test_actions_the_mac_can_never_carry_are_refused_2011(
    mac_line: Tenant, peer: BlueBubblesPeer
) -> None:
    _, message_id = _send(mac_line)
    said = _refused_2011(
        lambda: mac_line.client.messages.add_reaction(
            message_id, operation="add", type="custom", custom_emoji="🚀"
        )
    )
    assert "custom reaction" in said
    assert mac_line.sim.events("reaction.added") == []


def test_reading_a_chat_through_the_api_marks_it_read_on_the_mac(
    mac_line: Tenant, peer: BlueBubblesPeer
) -> None:
    chat_id, _ = _send(mac_line)
    peer.incoming(THEM, "read me")
    mac_line.client.chats.mark_as_read(chat_id)
    mac_line.sim.advance(0)
    [read] = peer.calls(f"chat/iMessage;-;{THEM}/read")
    assert read.method == "POST"


def test_a_line_moved_off_bluebubbles_and_back_leaves_one_webhook_on_the_mac(
    mac_line: Tenant, peer: BlueBubblesPeer, server: RunningServer
) -> None:
    _send(mac_line)
    [first] = peer.state.webhooks
    configure = server.services.carriers.configure
    server.call(configure, mac_line.account_id, mac_line.line, "simulator", {})
    server.call(configure, mac_line.account_id, mac_line.line, "bluebubbles", peer.settings())
    # Another openlinq's webhook on the same Mac is none of ours: it stays.
    foreign: dict[str, Any] = {
        "id": 99,
        "url": "http://127.0.0.1:9/carriers/bluebubbles/x/webhook",
        "events": [],
    }
    peer.state.webhooks.append(foreign)
    _send(mac_line)  # the carrier starts again, with the line's new token
    urls = [h["url"] for h in peer.state.webhooks]
    assert first["url"] not in urls
    assert sorted(urls) == sorted([foreign["url"], _only_ours(peer, server)])
    peer.state.webhooks.remove(foreign)  # nothing listens there
    peer.incoming(THEM, "posted once")
    assert len(mac_line.sim.events("message.received")) == 1


def _only_ours(peer: BlueBubblesPeer, server: RunningServer) -> str:
    [ours] = [h["url"] for h in peer.state.webhooks if h["url"].startswith(server.base_url)]
    return str(ours)
