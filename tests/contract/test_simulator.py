"""The simulator control API (/sim/v1): configure devices, act as them, read their screens,
and drive the manual clock. All of it over real HTTP with the tenant's Bearer key."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.files import PDF, PNG, serving
from tests.support.server import RunningServer
from tests.support.tenant import Tenant, create_tenant, magic

IPHONE = "+14155559876"  # outside 555-01XX: a plain iPhone
EMAIL = "someone@example.com"
TEXT: Any = {"parts": [{"type": "text", "value": "ping"}]}


def _open_chat(tenant: Tenant, handle: str = IPHONE, text: str = "ping") -> Any:
    """A direct chat with ``handle`` whose first message has been delivered."""
    message: Any = {"parts": [{"type": "text", "value": text}]}
    created = tenant.client.chats.create(from_=tenant.line, to=[handle], message=message)
    tenant.sim.advance(0)
    return created.chat


def _error(response: httpx.Response) -> tuple[int, int]:
    return response.status_code, int(response.json()["error"]["code"])


# -- device profiles -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("handle", "name", "services"),
    [
        (magic("01"), "sms_only", ["SMS"]),
        (magic("02"), "android", ["RCS", "SMS"]),
        (magic("03"), "unreachable", ["SMS", "iMessage"]),
        (magic("04"), "reader", ["SMS", "iMessage"]),
        (magic("05"), "echo_bot", ["SMS", "iMessage"]),
        (magic("06"), "stopper", ["SMS", "iMessage"]),
        (magic("07"), "slow", ["SMS", "iMessage"]),
        (magic("08"), "reactor", ["SMS", "iMessage"]),
        (magic("05", area="212"), "echo_bot", ["SMS", "iMessage"]),  # any area code
        (IPHONE, "iphone", ["SMS", "iMessage"]),
        (EMAIL, "email", ["iMessage"]),
    ],
)
def test_get_device_shows_the_builtin_profile(
    tenant: Tenant, handle: str, name: str, services: list[str]
) -> None:
    device = tenant.sim.device(handle)
    assert (device["handle"], device["configured"]) == (handle, False)
    assert (device["profile"]["name"], device["profile"]["services"]) == (name, services)


def test_the_echo_bot_profile_spells_out_its_behaviour(tenant: Tenant) -> None:
    profile = tenant.sim.device(magic("05"))["profile"]
    assert {k: profile[k] for k in ("reachable", "read_after", "typing", "reply")} == {
        "reachable": True,
        "read_after": 1.0,
        "typing": True,
        "reply": "echo",
    }


def test_configuring_a_phone_as_android_switches_it_to_rcs(tenant: Tenant) -> None:
    before = _open_chat(tenant)
    assert before.service == "iMessage"
    device = tenant.sim.configure(IPHONE, services=["RCS", "SMS"])
    assert (device["configured"], device["profile"]["services"]) == (True, ["RCS", "SMS"])
    assert tenant.sim.device(IPHONE)["profile"]["services"] == ["RCS", "SMS"]
    check = tenant.client.capability.check_RCS(address=IPHONE)
    assert (check.available, check.selected_service) == (True, "RCS")
    assert tenant.client.capability.check_i_message(address=IPHONE).available is False
    sent = tenant.client.messages.create(to=[magic("02"), IPHONE], message=TEXT).message
    assert sent.service == "RCS"  # a group of two Android phones
    other = tenant.client.chats.create(
        from_=tenant.lines[1].phone_number, to=[IPHONE], message=TEXT
    ).chat
    assert other.message.service == "RCS"


def test_a_preset_with_overrides_sets_each_field(tenant: Tenant) -> None:
    device = tenant.sim.configure(IPHONE, preset="reader", read_after=2.5, reply="echo")
    profile = device["profile"]
    assert (profile["name"], profile["read_after"], profile["reply"]) == ("reader", 2.5, "echo")
    sent = tenant.client.chats.create(from_=tenant.line, to=[IPHONE], message=TEXT).chat.message
    tenant.sim.advance(0)
    tenant.sim.advance(2.4)
    assert tenant.client.messages.retrieve(sent.id).delivery_status == "delivered"
    tenant.sim.advance(0.1)
    assert tenant.client.messages.retrieve(sent.id).delivery_status == "read"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"preset": "toaster"}, id="unknown-preset"),
        pytest.param({"colour": "red"}, id="unknown-field"),
        pytest.param({"services": ["Fax"]}, id="unknown-service"),
        pytest.param({"reply": "sing"}, id="unknown-reply"),
        pytest.param({"deliver_after": -1}, id="negative-delay"),
    ],
)
def test_invalid_device_settings_are_refused_with_1005(
    tenant: Tenant, body: dict[str, Any]
) -> None:
    response = tenant.http.put(f"/sim/v1/devices/{IPHONE}", json=body)
    assert _error(response) == (400, 1005)
    assert tenant.sim.device(IPHONE)["configured"] is False


def test_delete_resets_a_device_to_its_builtin_profile(tenant: Tenant) -> None:
    tenant.sim.configure(magic("05"), preset="sms_only")
    assert tenant.sim.device(magic("05"))["profile"]["name"] == "sms_only"
    response = tenant.http.delete(f"/sim/v1/devices/{magic('05')}")
    assert response.status_code == 204
    device = tenant.sim.device(magic("05"))
    assert (device["configured"], device["profile"]["name"]) == (False, "echo_bot")
    sent = tenant.client.chats.create(
        from_=tenant.line, to=[magic("05")], message=TEXT
    ).chat.message
    assert sent.service == "iMessage"


def test_device_settings_belong_to_one_account(tenant: Tenant, server: RunningServer) -> None:
    tenant.sim.configure(IPHONE, preset="android")
    other = create_tenant(server)
    try:
        device = other.sim.device(IPHONE)
        assert (device["configured"], device["profile"]["name"]) == (False, "iphone")
    finally:
        other.client.close()
        other.http.close()


# -- acting as a device --------------------------------------------------------------


def test_a_device_writing_to_a_line_opens_a_direct_chat(tenant: Tenant) -> None:
    assert tenant.client.chats.list_chats().chats == []
    sent = tenant.sim.send(IPHONE, to=tenant.line, text="hi there")
    chats = tenant.client.chats.list_chats().chats
    assert [c.id for c in chats] == [sent["chat_id"]]
    assert chats[0].is_group is False
    assert sorted((h.handle, bool(h.is_me)) for h in chats[0].handles) == sorted(
        [(tenant.line, True), (IPHONE, False)]
    )
    message: Any = tenant.client.messages.retrieve(sent["message_id"])
    assert (message.is_from_me, message.delivery_status, message.chat_id) == (
        False,
        "received",
        sent["chat_id"],
    )
    assert (message.from_handle.handle, message.parts[0].value) == (IPHONE, "hi there")
    [received] = tenant.sim.events("message.received")
    data = received["data"]
    assert (data["id"], data["direction"], data["chat"]["id"]) == (
        sent["message_id"],
        "inbound",
        sent["chat_id"],
    )
    assert (data["sender_handle"]["handle"], data["service"]) == (IPHONE, "iMessage")
    assert [e["event_type"] for e in tenant.sim.events()] == ["chat.created", "message.received"]


@pytest.mark.parametrize(
    ("handle", "service"), [(IPHONE, "iMessage"), (magic("02"), "RCS"), (magic("01"), "SMS")]
)
def test_a_device_writes_over_its_best_service(tenant: Tenant, handle: str, service: str) -> None:
    sent = tenant.sim.send(handle, to=tenant.line, text="hello")
    assert tenant.client.messages.retrieve(sent["message_id"]).service == service


def test_a_device_writing_again_reuses_its_direct_chat(tenant: Tenant) -> None:
    chat = _open_chat(tenant)
    sent = tenant.sim.send(IPHONE, to=tenant.line, text="again")
    assert sent["chat_id"] == chat.id
    assert len(tenant.client.chats.list_chats().chats) == 1


def test_a_device_writes_into_an_existing_chat_by_id(tenant: Tenant) -> None:
    chat = tenant.client.chats.create(
        from_=tenant.line, to=[IPHONE, magic("04")], message=TEXT
    ).chat
    tenant.sim.advance(0)
    sent = tenant.sim.send(magic("04"), chat_id=chat.id, text="in the group")
    assert sent["chat_id"] == chat.id
    listed: Any = tenant.client.chats.messages.list(chat.id).messages
    newest = listed[0]
    assert (newest.id, newest.is_from_me, newest.parts[0].value) == (
        sent["message_id"],
        False,
        "in the group",
    )
    assert newest.from_handle.handle == magic("04")
    assert len(tenant.client.chats.list_chats().chats) == 1


def test_a_device_outside_a_chat_cannot_write_into_it(tenant: Tenant) -> None:
    chat = _open_chat(tenant)
    response = tenant.http.post(
        f"/sim/v1/devices/{magic('04')}/messages", json={"chat_id": chat.id, "text": "sneaky"}
    )
    assert _error(response) == (403, 2005)


def test_a_device_can_reply_to_a_message(tenant: Tenant) -> None:
    chat = _open_chat(tenant)
    original = tenant.client.chats.messages.list(chat.id).messages[0]
    sent = tenant.sim.send(IPHONE, chat_id=chat.id, text="re: ping", reply_to=original.id)
    reply = tenant.client.messages.retrieve(sent["message_id"])
    assert reply.reply_to is not None
    assert reply.reply_to.message_id == original.id


def test_a_device_custom_reaction_shows_on_the_message(tenant: Tenant) -> None:
    chat = _open_chat(tenant)
    message_id = tenant.client.chats.messages.list(chat.id).messages[0].id
    response = tenant.http.post(
        f"/sim/v1/devices/{IPHONE}/reactions",
        json={"message_id": message_id, "type": "custom", "custom_emoji": "🎉"},
    )
    assert response.status_code == 204
    part: Any = tenant.client.messages.retrieve(message_id).parts[0]  # type: ignore[index]
    assert [(r.type, r.custom_emoji, r.is_me, r.handle.handle) for r in part.reactions] == [
        ("custom", "🎉", False, IPHONE)
    ]
    [added] = tenant.sim.events("reaction.added")
    data = added["data"]
    assert (data["reaction_type"], data["custom_emoji"], data["message_id"]) == (
        "custom",
        "🎉",
        message_id,
    )
    assert (data["is_from_me"], data["chat_id"]) == (False, chat.id)


def test_a_device_read_receipt_reads_every_delivered_message(tenant: Tenant) -> None:
    chat = _open_chat(tenant)
    tenant.client.chats.messages.send(chat.id, message=TEXT)
    tenant.sim.advance(0)
    tenant.sim.configure(IPHONE, deliver_after=5)
    pending = tenant.client.chats.messages.send(chat.id, message=TEXT).message
    tenant.sim.advance(1)
    response = tenant.http.post(f"/sim/v1/devices/{IPHONE}/read", json={"chat_id": chat.id})
    assert (response.status_code, response.json()) == (200, {"count": 2})
    now = datetime.fromisoformat(tenant.http.get("/sim/v1/clock").json()["now"])
    messages = tenant.client.chats.messages.list(chat.id).messages
    statuses = {m.id: (m.delivery_status, m.read_at) for m in messages}
    assert statuses.pop(pending.id) == ("sent", None)
    assert list(statuses.values()) == [("read", now), ("read", now)]
    assert len(tenant.sim.events("message.read")) == 2


@pytest.mark.parametrize("state", ["started", "stopped"])
def test_a_device_typing_produces_typing_events(tenant: Tenant, state: str) -> None:
    chat = _open_chat(tenant)
    response = tenant.http.post(
        f"/sim/v1/devices/{IPHONE}/typing", json={"chat_id": chat.id, "state": state}
    )
    assert response.status_code == 204
    [event] = tenant.sim.events(f"chat.typing_indicator.{state}")
    assert (event["data"]["chat_id"], event["data"]["actor_handle"]["handle"]) == (
        chat.id,
        IPHONE,
    )
    assert event["data"]["actor_handle"]["is_me"] is False


def test_the_screen_shows_received_and_sent_messages(tenant: Tenant) -> None:
    chat = _open_chat(tenant, text="first")
    with_effect: Any = {
        "parts": [{"type": "text", "value": "boom"}],
        "effect": {"type": "bubble", "name": "slam"},
    }
    tenant.client.chats.messages.send(chat.id, message=with_effect)
    tenant.sim.advance(0)
    tenant.sim.send(IPHONE, chat_id=chat.id, text="got it")
    screen = tenant.sim.screen(IPHONE)
    assert [(m["direction"], m["parts"], m["effect"]) for m in screen] == [
        ("received", [{"type": "text", "value": "first"}], None),
        ("received", [{"type": "text", "value": "boom"}], {"name": "slam", "type": "bubble"}),
        ("sent", [{"type": "text", "value": "got it"}], None),
    ]
    assert {m["chat_id"] for m in screen} == {chat.id}
    assert [m["delivery_status"] for m in screen] == ["delivered", "delivered", "received"]


def test_the_screen_hides_what_has_not_reached_the_device(tenant: Tenant) -> None:
    created = tenant.client.chats.create(from_=tenant.line, to=[magic("07")], message=TEXT)
    assert tenant.sim.screen(magic("07")) == []  # still queued
    tenant.sim.advance(0)
    assert tenant.sim.screen(magic("07")) == []  # sent, not yet delivered
    tenant.sim.advance(5)
    assert [m["message_id"] for m in tenant.sim.screen(magic("07"))] == [created.chat.message.id]


def test_the_screen_shows_sms_once_sent(tenant: Tenant) -> None:
    tenant.client.chats.create(from_=tenant.line, to=[magic("01")], message=TEXT)
    tenant.sim.advance(0)
    [shown] = tenant.sim.screen(magic("01"))
    assert (shown["service"], shown["delivery_status"]) == ("SMS", "sent")


def test_a_device_action_carries_the_request_trace_id(tenant: Tenant) -> None:
    trace_id = secrets.token_hex(16)
    response = tenant.http.post(
        f"/sim/v1/devices/{IPHONE}/messages",
        json={"to": tenant.line, "text": "traced"},
        headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},
    )
    assert (response.status_code, response.headers["x-trace-id"]) == (201, trace_id)
    assert {e["trace_id"] for e in tenant.sim.events()} == {trace_id}


# -- isolation between accounts ------------------------------------------------------


def _act(http: httpx.Client, action: str, chat_id: str, message_id: str) -> httpx.Response:
    device = f"/sim/v1/devices/{IPHONE}"
    if action == "send":
        return http.post(f"{device}/messages", json={"chat_id": chat_id, "text": "hi"})
    if action == "react":
        return http.post(f"{device}/reactions", json={"message_id": message_id, "type": "like"})
    if action == "read":
        return http.post(f"{device}/read", json={"chat_id": chat_id})
    return http.post(f"{device}/typing", json={"chat_id": chat_id, "state": "started"})


@pytest.mark.parametrize(
    ("action", "code"), [("send", 2001), ("react", 2002), ("read", 2001), ("typing", 2001)]
)
def test_a_device_cannot_act_on_another_accounts_chat(
    tenant: Tenant, server: RunningServer, action: str, code: int
) -> None:
    chat = _open_chat(tenant)
    message_id = tenant.client.chats.messages.list(chat.id).messages[0].id
    events_before = tenant.sim.events()
    other = create_tenant(server)
    try:
        assert _error(_act(other.http, action, chat.id, message_id)) == (404, code)
        assert other.sim.events() == []
    finally:
        other.client.close()
        other.http.close()
    assert tenant.sim.events() == events_before
    message: Any = tenant.client.messages.retrieve(message_id)
    assert message.delivery_status == "delivered"
    assert not message.parts[0].reactions


def test_a_device_cannot_write_to_another_accounts_line(
    tenant: Tenant, server: RunningServer
) -> None:
    other = create_tenant(server)
    try:
        response = other.http.post(
            f"/sim/v1/devices/{IPHONE}/messages", json={"to": tenant.line, "text": "hi"}
        )
        assert response.status_code == 403
    finally:
        other.client.close()
        other.http.close()
    assert tenant.sim.events() == []


# -- the clock -----------------------------------------------------------------------


def test_the_clock_is_manual_and_moves_by_exactly_what_is_asked(tenant: Tenant) -> None:
    clock = tenant.http.get("/sim/v1/clock").json()
    assert clock["mode"] == "manual"
    before = datetime.fromisoformat(clock["now"])
    assert tenant.http.get("/sim/v1/clock").json()["now"] == clock["now"]  # time stands still
    advanced = tenant.http.post("/sim/v1/clock/advance", json={"seconds": 2.5}).json()
    assert datetime.fromisoformat(advanced["now"]) - before == timedelta(seconds=2.5)
    assert advanced["mode"] == "manual"


def test_advancing_runs_the_jobs_that_became_due(tenant: Tenant) -> None:
    tenant.client.chats.create(from_=tenant.line, to=[magic("07")], message=TEXT)
    assert tenant.sim.advance(0) >= 1  # at least the send job (other accounts' may be due too)
    tenant.sim.advance(4.9)
    assert tenant.sim.events("message.delivered") == []
    assert tenant.sim.advance(0.1) >= 1  # the delivery
    assert len(tenant.sim.events("message.delivered")) == 1


@pytest.mark.parametrize("seconds", [-1, -0.001])
def test_the_clock_never_moves_backwards(tenant: Tenant, seconds: float) -> None:
    before = tenant.http.get("/sim/v1/clock").json()["now"]
    response = tenant.http.post("/sim/v1/clock/advance", json={"seconds": seconds})
    assert _error(response) == (400, 1005)
    assert tenant.http.get("/sim/v1/clock").json()["now"] == before


@pytest.fixture
def photo_url(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "photo.png").write_bytes(PNG)
    with serving(tmp_path) as base:
        yield f"{base}/photo.png"


def _uploaded_pdf(tenant: Tenant) -> str:
    created = tenant.client.attachments.create(
        filename="menu.pdf", content_type="application/pdf", size_bytes=len(PDF)
    )
    httpx.put(created.upload_url, content=PDF, headers=created.required_headers).raise_for_status()
    return created.attachment_id


def test_a_device_sends_photos_and_files_by_url_and_by_attachment(
    tenant: Tenant, photo_url: str
) -> None:
    """Issue #10 item 12: a media part from a phone was a KeyError 'id' (500)."""
    attachment_id = _uploaded_pdf(tenant)
    parts = [
        {"type": "text", "value": "look"},
        {"type": "media", "url": photo_url},
        {"type": "media", "attachment_id": attachment_id},
    ]
    response = tenant.http.post(
        f"/sim/v1/devices/{IPHONE}/messages", json={"to": tenant.line, "parts": parts}
    )
    assert response.status_code == 201, response.text
    sent = response.json()
    message: Any = tenant.client.messages.retrieve(sent["message_id"])
    photo, pdf = message.parts[1], message.parts[2]
    assert [p.type for p in message.parts] == ["text", "media", "media"]
    assert (photo.filename, photo.mime_type, photo.size_bytes) == (
        "photo.png",
        "image/png",
        len(PNG),
    )
    assert (pdf.id, pdf.filename, pdf.mime_type) == (attachment_id, "menu.pdf", "application/pdf")
    assert httpx.get(photo.url).content == PNG
    assert httpx.get(pdf.url).content == PDF
    [received] = tenant.sim.events("message.received")
    event_parts = received["data"]["parts"]
    assert [(p["type"], p.get("id")) for p in event_parts[1:]] == [
        ("media", photo.id),
        ("media", attachment_id),
    ]
    assert httpx.get(event_parts[1]["url"]).content == PNG


def test_a_device_cannot_send_another_accounts_attachment(
    server: RunningServer, tenant: Tenant
) -> None:
    other = create_tenant(server)
    try:
        attachment_id = _uploaded_pdf(other)
    finally:
        other.client.close()
        other.http.close()
    response = tenant.http.post(
        f"/sim/v1/devices/{IPHONE}/messages",
        json={"to": tenant.line, "parts": [{"type": "media", "attachment_id": attachment_id}]},
    )
    assert _error(response) == (404, 2003)
    assert tenant.sim.events("message.received") == []
