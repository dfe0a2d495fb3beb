"""The inbox and a conversation over real HTTP: what they list, filter, page and show."""

from __future__ import annotations

import re
from typing import Any

import httpx

from openlinq.console.pages.inbox import PAGE_SIZE
from tests.support.console import ConsoleClient
from tests.support.files import PNG
from tests.support.server import RunningServer
from tests.support.tenant import Tenant, create_tenant, magic


def _send(tenant: Tenant, to: str | list[str], text: str) -> tuple[str, str]:
    created = tenant.client.chats.create(
        from_=tenant.line,
        to=[to] if isinstance(to, str) else to,
        message={"parts": [{"type": "text", "value": text}]},
    )
    return created.chat.id, created.chat.message.id


def _row_ids(html: str) -> list[str]:
    return re.findall(r'class="chat-row[^"]*" data-chat-id="([^"]+)"', html)


def _bubble(html: str, message_id: str) -> str:
    """The markup of one message's bubble row."""
    start = html.index(f'id="m-{message_id}"')
    end = html.find("</li>\n<li id=", start)
    return html[start : end if end != -1 else len(html)]


def test_the_inbox_lists_the_accounts_chats_newest_activity_first(
    tenant: Tenant, console: ConsoleClient, server: RunningServer
) -> None:
    older, _ = _send(tenant, "+14155554001", "first chat")
    tenant.sim.advance(1)
    newer, _ = _send(tenant, "+14155554002", "second <chat>")
    other = create_tenant(server)
    _send(other, "+14155554003", "not yours")
    tenant.sim.advance(1)
    assert _row_ids(console.page("/console")) == [newer, older]
    tenant.sim.send("+14155554001", to=tenant.line, parts=[{"type": "text", "value": "back!"}])

    html = console.page("/console")
    assert _row_ids(html) == [older, newer]  # the inbound message moved `older` up
    assert "back!" in html
    assert "second &lt;chat&gt;" in html
    assert "<chat>" not in html
    assert "not yours" not in html
    assert 'class="badge imessage">iMessage' in html
    # One inbound message nobody marked read: the row says so.
    assert re.search(rf'chat-row unread" data-chat-id="{older}"', html)
    assert console.page("/console/chats").count("chat-row") == 2  # the live fragment
    other.client.close()
    other.http.close()


def test_the_inbox_filters_by_handle_and_by_text(tenant: Tenant, console: ConsoleClient) -> None:
    a, _ = _send(tenant, "+14155554011", "Café at noon?")
    b, _ = _send(tenant, "+14155554012", "see you")
    assert _row_ids(console.page("/console", to="+14155554012")) == [b]
    assert _row_ids(console.page("/console", q="CAFÉ")) == [a]  # case and accents
    assert _row_ids(console.page("/console", q="you")) == [b]
    # The stored JSON's own keys are not message text.
    assert _row_ids(console.page("/console", q="value")) == []
    assert _row_ids(console.page("/console", q="%")) == []
    html = console.page("/console", to="not a handle")
    assert 'role="alert"' in html
    assert _row_ids(html) == []


def test_the_inbox_pages_with_the_chats_cursor(tenant: Tenant, console: ConsoleClient) -> None:
    for n in range(PAGE_SIZE + 1):
        text = [{"type": "text", "value": f"m{n}"}]
        tenant.sim.send(f"+1415555{5000 + n}", to=tenant.line, parts=text)
    first = console.page("/console")
    assert len(_row_ids(first)) == PAGE_SIZE
    link = re.search(r'rel="next" href="/console\?([^"]+)"', first)
    assert link
    params = dict(httpx.QueryParams(link.group(1).replace("&amp;", "&")))
    second = console.page("/console", **params)
    assert len(_row_ids(second)) == 1
    assert 'rel="prev"' in second
    assert 'rel="next"' not in second
    assert set(_row_ids(second)).isdisjoint(_row_ids(first))


def _upload_png(tenant: Tenant) -> str:
    created = tenant.client.attachments.create(
        filename="cat.png", content_type="image/png", size_bytes=len(PNG)
    )
    httpx.put(created.upload_url, content=PNG, headers=created.required_headers).raise_for_status()
    return created.attachment_id


def test_a_conversation_shows_bubbles_ticks_reactions_edits_replies_media_and_deletions(
    tenant: Tenant,
    console: ConsoleClient,
) -> None:
    echo = magic("05")
    chat_id, first = _send(tenant, echo, "hello bot")
    tenant.sim.settle(3)
    tenant.client.messages.add_reaction(first, operation="add", type="love")
    tenant.client.messages.update(first, text="hello echo bot")
    image = tenant.client.chats.messages.send(
        chat_id,
        message={
            "parts": [{"type": "media", "attachment_id": _upload_png(tenant)}],
            "reply_to": {"message_id": first},
            "effect": {"type": "screen", "name": "confetti"},
        },
    ).message.id
    gone = tenant.client.chats.messages.send(
        chat_id, message={"parts": [{"type": "text", "value": "oops"}]}
    ).message.id
    tenant.client.messages.delete(gone)

    html = console.page(f"/console/chats/{chat_id}")
    bubble = _bubble(html, first)
    assert "bubble-row out svc-imessage" in bubble
    assert "Read" in bubble
    assert "status-read" in bubble
    assert 'data-reaction="love"' in bubble
    assert "love from you" in bubble
    assert "Edited 1" in bubble
    assert "<del>hello bot</del>" in bubble
    echoed = re.findall(r'<li id="m-([^"]+)" class="bubble-row in', html)
    assert echoed, "the echo bot's reply is an inbound bubble"
    shown = _bubble(html, image)
    assert re.search(r'<img src="[^"]+cat\.png[^"]*" alt="cat\.png"', shown)
    assert "Reply to hello echo bot" in shown
    assert f'href="#m-{first}"' in shown
    assert "sent with confetti (screen effect)" in shown
    assert "Queued" in shown  # not sent yet: the clock has not moved
    assert 'badge warn">deleted' in _bubble(html, gone)
    assert f'data-live-chat="{chat_id}"' in html
    # The API no longer lists the deleted message; the console marks it.
    assert gone not in [m.id for m in tenant.client.chats.messages.list(chat_id).messages]


def test_a_failed_message_shows_its_error_code(tenant: Tenant, console: ConsoleClient) -> None:
    chat_id, message_id = _send(tenant, magic("03"), "anyone?")
    tenant.sim.advance(0)
    bubble = _bubble(console.page(f"/console/chats/{chat_id}"), message_id)
    assert "status-failed" in bubble
    assert "error 4002" in bubble


def test_a_group_shows_its_name_and_participants(tenant: Tenant, console: ConsoleClient) -> None:
    chat_id, _ = _send(tenant, ["+14155556001", "+14155556002"], "hi all")
    tenant.client.chats.update(chat_id, display_name="Climbing crew")
    tenant.client.chats.participants.add(chat_id, handle="+14155556003")
    info = console.page(f"/console/chats/{chat_id}/info")
    assert "Climbing crew" in info
    for handle in ("+14155556001", "+14155556002", "+14155556003", tenant.line):
        assert handle in info
    tenant.client.chats.participants.remove(chat_id, handle="+14155556002")
    info = console.page(f"/console/chats/{chat_id}/info")
    assert re.search(r'participant gone">\s*<span class="mono">\+14155556002', info)


def test_long_conversations_page_backwards_and_the_live_part_keeps_its_start(
    tenant: Tenant,
    console: ConsoleClient,
) -> None:
    sender = "+14155557001"
    tenant.sim.send(sender, to=tenant.line, parts=[{"type": "text", "value": "t0"}])
    chat_id = tenant.client.chats.list_chats(to=sender).chats[0].id
    for n in range(1, 60):
        tenant.sim.send(sender, chat_id=chat_id, parts=[{"type": "text", "value": f"t{n}"}])
    html = console.page(f"/console/chats/{chat_id}")
    texts = re.findall(r'<p class="text">(t\d+)</p>', html)
    assert texts == [f"t{n}" for n in range(10, 60)]  # the latest page, oldest on top
    cursor = re.search(r'data-cursor="([^"]+)"', html)
    oldest = re.search(r"from_seq=(\d+)", html)
    assert cursor
    assert oldest
    older = console.page(f"/console/chats/{chat_id}/messages", cursor=cursor.group(1))
    assert re.findall(r'<p class="text">(t\d+)</p>', older) == [f"t{n}" for n in range(10)]
    tenant.sim.send(sender, chat_id=chat_id, parts=[{"type": "text", "value": "t60"}])
    live = console.page(f"/console/chats/{chat_id}/messages", from_seq=oldest.group(1))
    assert re.findall(r'<p class="text">(t\d+)</p>', live) == [f"t{n}" for n in range(10, 61)]


def test_a_chat_of_another_account_is_not_found(tenant: Tenant, server: RunningServer) -> None:
    other = create_tenant(server)
    chat_id, _ = _send(other, "+14155558001", "private")
    for path in (f"/console/chats/{chat_id}", f"/console/chats/{chat_id}/messages"):
        response = tenant.http.get(path, params={"account": tenant.account_id})
        body: Any = response.json()
        assert (response.status_code, body["error"]["code"]) == (404, 2001), path
    other.client.close()
    other.http.close()


def test_the_chat_page_follows_poll_and_background_events_live(
    tenant: Tenant, console: ConsoleClient
) -> None:
    chat_id, _ = _send(tenant, "+14155557102", "hi")
    html = console.page(f"/console/chats/{chat_id}")
    panes = dict(re.findall(r'id="([a-z-]+)"[^>]*?data-live="([^"]+)"', html, re.S))
    assert "poll." in panes["latest"].split(",")
    assert "chat.background" in panes["chat-info"].split(",")


def test_a_poll_shows_its_options_votes_and_stickers(
    tenant: Tenant, console: ConsoleClient
) -> None:
    friend = "+14155557101"
    chat_id, _ = _send(tenant, friend, "lunch?")
    poll = tenant.client.chats.polls.create(
        chat_id, poll={"options": [{"text": "Pizza"}, {"text": "Tacos"}]}
    )
    tacos = poll.poll.options[1].option_id
    tenant.http.post(
        f"/sim/v1/devices/{friend}/poll-votes",
        json={"message_id": poll.message_id, "option_id": tacos},
    ).raise_for_status()
    tenant.client.messages.add_reaction(
        poll.message_id, operation="add", type="sticker", emoji="🌮"
    )
    bubble = _bubble(console.page(f"/console/chats/{chat_id}"), poll.message_id)
    assert "part-poll" in bubble
    assert "1 voter" in bubble
    assert re.search(r"Pizza <span[^>]*>— 0 votes", bubble)
    assert re.search(rf"Tacos <span[^>]*>— 1 vote: {re.escape(friend)}", bubble)
    assert "sticker from you" in bubble
    assert "(empty)" not in bubble


def test_the_chat_shows_its_applied_background(tenant: Tenant, console: ConsoleClient) -> None:
    chat_id, _ = _send(tenant, "+14155554201", "hi")
    assert "Background" not in console.page(f"/console/chats/{chat_id}/info")
    tenant.client.chats.background.set(chat_id, type="color", shades=["#112233", "#445566"])
    tenant.sim.advance(0)
    for page in (f"/console/chats/{chat_id}", f"/console/chats/{chat_id}/info"):
        html = console.page(page)
        assert "<dt>Background</dt><dd>color · custom" in html
        assert "#112233 → #445566" in html
    tenant.client.chats.background.remove(chat_id)
    tenant.sim.advance(0)
    assert "Background" not in console.page(f"/console/chats/{chat_id}/info")
