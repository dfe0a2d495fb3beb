"""Reading messages: one message, a chat's pages, replies and their threads."""

from __future__ import annotations

from typing import Any

import httpx
import linq
import pytest
from pydantic import BaseModel, TypeAdapter

from openlinq.api.schemas.chats import ChatOut, ChatPageOut
from openlinq.api.schemas.messages import MessageOut, MessagePageOut
from tests.support.files import PNG
from tests.support.server import RunningServer
from tests.support.tenant import Tenant, create_tenant, magic

FRIEND = "+14155557001"


def _chat(tenant: Tenant, to: str = FRIEND, text: str = "hi") -> tuple[str, str]:
    created = tenant.client.chats.create(
        from_=tenant.line, to=[to], message={"parts": [{"type": "text", "value": text}]}
    )
    tenant.sim.advance(0)
    return created.chat.id, created.chat.message.id


def _say(tenant: Tenant, chat_id: str, text: str, reply_to: Any = None) -> str:
    message: Any = {"parts": [{"type": "text", "value": text}]}
    if reply_to is not None:
        message["reply_to"] = reply_to
    return tenant.client.chats.messages.send(chat_id, message=message).message.id


def _texts(messages: list[Any]) -> list[str]:
    return [m.parts[0].value for m in messages]


# -- GET /v3/messages/{id} --------------------------------------------------------------


def test_an_outbound_message_reads_in_full_and_follows_its_delivery(tenant: Tenant) -> None:
    created = tenant.client.chats.create(
        from_=tenant.line,
        to=[magic("04")],  # delivers at once, reads about a second later
        message={"parts": [{"type": "text", "value": "hello"}]},
    )
    chat_id, message_id = created.chat.id, created.chat.message.id
    queued = tenant.client.messages.retrieve(message_id)
    assert (queued.id, queued.chat_id, queued.is_from_me) == (message_id, chat_id, True)
    assert (queued.delivery_status, queued.is_delivered, queued.is_read) == ("queued", False, False)
    assert (queued.sent_at, queued.delivered_at, queued.read_at) == (None, None, None)
    assert queued.from_ == tenant.line
    assert queued.from_handle is not None
    assert (queued.from_handle.handle, queued.from_handle.is_me) == (tenant.line, True)
    assert queued.service == "iMessage"
    assert queued.reply_to is None
    assert queued.effect is None
    assert _texts([queued]) == ["hello"]
    assert queued.created_at == queued.updated_at

    tenant.sim.advance(0)
    delivered = tenant.client.messages.retrieve(message_id)
    assert (delivered.delivery_status, delivered.is_delivered, delivered.is_read) == (
        "delivered",
        True,
        False,
    )
    assert delivered.sent_at is not None
    assert delivered.delivered_at is not None
    assert delivered.read_at is None

    tenant.sim.settle(2)
    read = tenant.client.messages.retrieve(message_id)
    assert (read.delivery_status, read.is_delivered, read.is_read) == ("read", True, True)
    assert read.read_at is not None
    assert read.read_at >= read.delivered_at  # type: ignore[operator]
    assert read.updated_at > read.created_at


def test_an_inbound_message_reads_as_from_the_device(tenant: Tenant) -> None:
    chat_id, _ = _chat(tenant)
    inbound = tenant.sim.send(FRIEND, to=tenant.line, text="hey back")
    message = tenant.client.messages.retrieve(inbound["message_id"])
    assert (message.chat_id, message.is_from_me, message.from_) == (chat_id, False, FRIEND)
    assert message.from_handle is not None
    assert (message.from_handle.handle, message.from_handle.is_me) == (FRIEND, False)
    assert (message.delivery_status, message.is_delivered, message.is_read) == (
        "received",
        False,
        False,
    )
    assert _texts([message]) == ["hey back"]


@pytest.mark.parametrize(
    "message_id",
    ["00000000-0000-4000-8000-000000000000", "not-a-uuid", "12345"],
)
def test_an_unknown_message_is_404_2002(tenant: Tenant, message_id: str) -> None:
    with pytest.raises(linq.NotFoundError) as missing:
        tenant.client.messages.retrieve(message_id)
    assert (missing.value.status_code, missing.value.code) == (404, 2002)


def test_another_accounts_message_is_404_2002(tenant: Tenant, server: RunningServer) -> None:
    _, message_id = _chat(tenant)
    other = create_tenant(server)
    try:
        for read in (
            lambda: other.client.messages.retrieve(message_id),
            lambda: other.client.messages.list_messages_thread(message_id),
        ):
            with pytest.raises(linq.NotFoundError) as hidden:
                read()
            assert (hidden.value.status_code, hidden.value.code) == (404, 2002)
    finally:
        other.client.close()
        other.http.close()
    assert tenant.client.messages.retrieve(message_id).id == message_id


def test_reads_answer_the_bytes_fastapi_would_write_for_their_response_model(
    tenant: Tenant,
) -> None:
    """The hot reads write their models themselves (api/views.rendered), skipping FastAPI's
    second validation: the answer must stay what FastAPI's own serialisation gives."""
    chat_id, message_id = _chat(tenant)
    _say(tenant, chat_id, "a reply", reply_to={"message_id": message_id})
    api = "/api/partner/v3"
    reads: list[tuple[str, type[BaseModel]]] = [
        (f"{api}/messages/{message_id}", MessageOut),
        (f"{api}/chats/{chat_id}/messages?limit=1", MessagePageOut),
        (f"{api}/messages/{message_id}/thread", MessagePageOut),
        (f"{api}/chats", ChatPageOut),
        (f"{api}/chats/{chat_id}", ChatOut),
    ]
    for path, model in reads:
        answer = tenant.http.get(path)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/json"
        parsed = model.model_validate_json(answer.content)
        assert TypeAdapter(model).dump_json(parsed, by_alias=True) == answer.content, path


# -- GET /v3/chats/{id}/messages -----------------------------------------------------------


def _five(tenant: Tenant) -> str:
    chat_id, _ = _chat(tenant, text="m0")
    for n in range(1, 5):
        _say(tenant, chat_id, f"m{n}")
    return chat_id


def test_a_chats_messages_are_newest_first(tenant: Tenant) -> None:
    chat_id = _five(tenant)
    inbound = tenant.sim.send(FRIEND, to=tenant.line, text="m5")
    page = tenant.client.chats.messages.list(chat_id)
    assert _texts(page.messages) == ["m5", "m4", "m3", "m2", "m1", "m0"]
    assert page.messages[0].id == inbound["message_id"]
    assert {m.chat_id for m in page.messages} == {chat_id}
    assert page.next_cursor is None


def test_pages_with_limit_and_cursor_return_every_message_once(tenant: Tenant) -> None:
    chat_id = _five(tenant)
    first = tenant.client.chats.messages.list(chat_id, limit=2)
    assert _texts(first.messages) == ["m4", "m3"]
    assert first.next_cursor
    second = tenant.client.chats.messages.list(chat_id, limit=2, cursor=first.next_cursor)
    assert _texts(second.messages) == ["m2", "m1"]
    assert second.next_cursor
    last = tenant.client.chats.messages.list(chat_id, limit=2, cursor=second.next_cursor)
    assert _texts(last.messages) == ["m0"]
    assert last.next_cursor is None
    # The SDK's auto-pagination walks the same cursors.
    assert _texts(list(tenant.client.chats.messages.list(chat_id, limit=2))) == [
        "m4",
        "m3",
        "m2",
        "m1",
        "m0",
    ]


def test_an_exact_last_page_has_no_cursor(tenant: Tenant) -> None:
    chat_id = _five(tenant)
    page = tenant.client.chats.messages.list(chat_id, limit=5)
    assert len(page.messages) == 5
    assert page.next_cursor is None


@pytest.mark.parametrize(
    "query",
    [{"cursor": "not-a-cursor"}, {"cursor": "-1"}, {"limit": 0}, {"limit": 101}, {"limit": -5}],
)
def test_bad_list_parameters_are_400_1005(tenant: Tenant, query: dict[str, Any]) -> None:
    chat_id, _ = _chat(tenant)
    with pytest.raises(linq.BadRequestError) as refused:
        tenant.client.chats.messages.list(chat_id, **query)
    assert (refused.value.status_code, refused.value.code) == (400, 1005)


def test_listing_an_unknown_chat_is_404(tenant: Tenant) -> None:
    with pytest.raises(linq.NotFoundError) as missing:
        tenant.client.chats.messages.list("00000000-0000-4000-8000-000000000000")
    assert missing.value.code == 2001


# -- replies ---------------------------------------------------------------------------


def test_a_reply_is_sent_and_echoed(tenant: Tenant) -> None:
    chat_id, root = _chat(tenant)
    sent = tenant.client.chats.messages.send(
        chat_id,
        message={
            "parts": [{"type": "text", "value": "re: hi"}],
            "reply_to": {"message_id": root},
        },
    )
    assert sent.message.reply_to is not None
    assert (sent.message.reply_to.message_id, sent.message.reply_to.part_index) == (root, 0)
    read = tenant.client.messages.retrieve(sent.message.id)
    assert read.reply_to is not None
    assert (read.reply_to.message_id, read.reply_to.part_index) == (root, 0)
    tenant.sim.advance(0)
    on_screen = next(m for m in tenant.sim.screen(FRIEND) if m["message_id"] == sent.message.id)
    assert on_screen["reply_to"] == {"message_id": root, "part_index": 0}


def test_a_reply_can_name_a_part(tenant: Tenant) -> None:
    chat_id, _ = _chat(tenant)
    upload = tenant.client.attachments.create(
        filename="pic.png", content_type="image/png", size_bytes=len(PNG)
    )
    httpx.put(upload.upload_url, content=PNG, headers=upload.required_headers).raise_for_status()
    two_parts = tenant.client.chats.messages.send(
        chat_id,
        message={
            "parts": [
                {"type": "text", "value": "look"},
                {"type": "media", "attachment_id": upload.attachment_id},
            ]
        },
    ).message.id
    reply = _say(tenant, chat_id, "nice pic", reply_to={"message_id": two_parts, "part_index": 1})
    read = tenant.client.messages.retrieve(reply).reply_to
    assert read is not None
    assert (read.message_id, read.part_index) == (two_parts, 1)
    with pytest.raises(linq.BadRequestError) as refused:
        _say(tenant, chat_id, "?", reply_to={"message_id": two_parts, "part_index": 2})
    assert refused.value.code == 1005


@pytest.mark.parametrize(
    ("target", "status", "code"),
    [
        ("unknown", 404, 2002),
        ("not-a-uuid", 404, 2002),
        ("other-chat", 404, 2002),
        ("other-account", 404, 2002),
        ("past-the-parts", 400, 1005),
    ],
)
def test_reply_rules(
    tenant: Tenant, server: RunningServer, target: str, status: int, code: int
) -> None:
    chat_id, root = _chat(tenant)
    reply_to: dict[str, Any] = {"message_id": root}
    if target == "unknown":
        reply_to["message_id"] = "00000000-0000-4000-8000-000000000000"
    elif target == "not-a-uuid":
        reply_to["message_id"] = "msg_123"
    elif target == "other-chat":
        reply_to["message_id"] = _chat(tenant, "+14155557002")[1]
    elif target == "other-account":
        other = create_tenant(server)
        reply_to["message_id"] = _chat(other)[1]
        other.client.close()
        other.http.close()
    else:
        reply_to["part_index"] = 1
    with pytest.raises(linq.APIStatusError) as refused:
        _say(tenant, chat_id, "re", reply_to=reply_to)
    assert (refused.value.status_code, refused.value.code) == (status, code)
    assert len(tenant.client.chats.messages.list(chat_id).messages) == 1


# -- GET /v3/messages/{id}/thread ------------------------------------------------------------


def _thread(tenant: Tenant) -> tuple[str, list[str]]:
    """root <- r1 <- r2 (a reply to a reply), an unrelated message, r3 from the device."""
    chat_id, root = _chat(tenant, text="root")
    r1 = _say(tenant, chat_id, "r1", reply_to={"message_id": root})
    _say(tenant, chat_id, "unrelated")
    r2 = _say(tenant, chat_id, "r2", reply_to={"message_id": r1})
    tenant.sim.advance(0)
    r3 = tenant.sim.send(FRIEND, to=tenant.line, text="r3", reply_to=root)["message_id"]
    return chat_id, [root, r1, r2, r3]


def test_a_thread_is_its_root_and_every_reply_oldest_first(tenant: Tenant) -> None:
    _, ids = _thread(tenant)
    for member in ids:
        page = tenant.client.messages.list_messages_thread(member)
        assert [m.id for m in page.messages] == ids
        assert _texts(page.messages) == ["root", "r1", "r2", "r3"]
        assert page.next_cursor is None


def test_order_desc_reverses_a_thread(tenant: Tenant) -> None:
    _, ids = _thread(tenant)
    page = tenant.client.messages.list_messages_thread(ids[2], order="desc")
    assert [m.id for m in page.messages] == ids[::-1]
    ascending = tenant.client.messages.list_messages_thread(ids[2], order="asc")
    assert [m.id for m in ascending.messages] == ids


@pytest.mark.parametrize(("order", "step"), [("asc", 1), ("desc", -1)])
def test_a_thread_pages_with_limit_and_cursor(tenant: Tenant, order: Any, step: int) -> None:
    _, ids = _thread(tenant)
    expected = ids[::step]
    first = tenant.client.messages.list_messages_thread(ids[0], limit=3, order=order)
    assert [m.id for m in first.messages] == expected[:3]
    assert first.next_cursor
    rest = tenant.client.messages.list_messages_thread(
        ids[0], limit=3, order=order, cursor=first.next_cursor
    )
    assert [m.id for m in rest.messages] == expected[3:]
    assert rest.next_cursor is None
    walked = tenant.client.messages.list_messages_thread(ids[0], limit=1, order=order)
    assert [m.id for m in walked] == expected


def test_a_message_outside_any_thread_is_its_own_thread(tenant: Tenant) -> None:
    chat_id, _ = _thread(tenant)
    loner = next(
        m
        for m in tenant.client.chats.messages.list(chat_id).messages
        if m.parts and m.parts[0].value == "unrelated"  # type: ignore[union-attr]
    )
    page = tenant.client.messages.list_messages_thread(loner.id)
    assert [m.id for m in page.messages] == [loner.id]
    assert page.next_cursor is None


@pytest.mark.parametrize(
    ("message_id", "query", "status", "code"),
    [
        ("00000000-0000-4000-8000-000000000000", {}, 404, 2002),
        ("not-a-uuid", {}, 404, 2002),
        (None, {"cursor": "nope"}, 400, 1005),
        (None, {"limit": 0}, 400, 1005),
        (None, {"limit": 101}, 400, 1005),
        (None, {"order": "sideways"}, 400, 1005),
    ],
)
def test_bad_thread_requests(
    tenant: Tenant, message_id: str | None, query: dict[str, Any], status: int, code: int
) -> None:
    _, root = _chat(tenant)
    with pytest.raises(linq.APIStatusError) as refused:
        tenant.client.messages.list_messages_thread(message_id or root, **query)
    assert (refused.value.status_code, refused.value.code) == (status, code)
